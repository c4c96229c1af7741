"""The SODA ``ID`` form skycut accepts: ``gs://<bucket>/<object>``.

An ID names one FITS object in one of the configured source buckets. Anything
else (another scheme, another bucket, path traversal, encoded separators) is
refused before any storage call is made.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from skycut.errors import UsageError

__all__ = ["ObjectVersion", "SourceRef", "check_source", "parse_source_id"]

_SCHEME = "gs://"
_MAX_OBJECT_BYTES = 1024  # Cloud Storage's own limit on object names
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f%\\#?]")


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A source object in Cloud Storage."""

    bucket: str
    name: str

    @property
    def uri(self) -> str:
        """The ID form of this object."""
        return f"{_SCHEME}{self.bucket}/{self.name}"

    def at(self, generation: int) -> ObjectVersion:
        """Return one version of this object."""
        return ObjectVersion(self, generation)


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One version of a source object: what anything learned from it is true of.

    A Cloud Storage object replaced under the same name gets a new
    generation, so caches keyed by a version never serve the old content.
    """

    source: SourceRef
    generation: int


def parse_source_id(text: str, *, allowed_buckets: Collection[str]) -> SourceRef:
    """Check an ``ID`` value and return the object it names.

    Parameters
    ----------
    text
        The ID exactly as sent, e.g. ``gs://skycut-sources/survey/calexp-1.fits``.
    allowed_buckets
        Buckets IDs may point into.

    Raises
    ------
    UsageError
        If the ID is not of the form ``gs://<allowed bucket>/<object>`` or the
        object name is unsafe.

    """
    if not text.startswith(_SCHEME):
        raise UsageError(f"ID {text!r} is not a gs:// URI; {_expected(allowed_buckets)}")
    bucket, _, name = text[len(_SCHEME) :].partition("/")
    return _checked(SourceRef(bucket=bucket, name=name), text, allowed_buckets)


def check_source(source: SourceRef, *, allowed_buckets: Collection[str]) -> SourceRef:
    """Check that ``source`` is an object an ``ID`` may name, and return it.

    The worker checks the typed source of each cutout with this, so a
    message naming a bucket this deployment does not read is refused as the
    API refuses the ID.

    Raises
    ------
    UsageError
        If the bucket is not allowed or the object name is unsafe.

    """
    return _checked(source, source.uri, allowed_buckets)


def _checked(source: SourceRef, text: str, allowed_buckets: Collection[str]) -> SourceRef:
    if source.bucket not in allowed_buckets:
        raise UsageError(
            f"ID {text!r} is outside the allowed buckets; {_expected(allowed_buckets)}"
        )
    name = source.name
    if not name or len(name.encode()) > _MAX_OBJECT_BYTES:
        raise UsageError(f"ID {text!r} names no object; {_expected(allowed_buckets)}")
    if _BAD_CHARS.search(name):
        raise UsageError(f"ID {text!r} contains a forbidden character (%, \\, #, ?, control)")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise UsageError(f"ID {text!r} has an empty, '.' or '..' path segment")
    return source


def _expected(allowed_buckets: Collection[str]) -> str:
    return f"expected gs://<bucket>/<object> with bucket one of {sorted(allowed_buckets)}"
