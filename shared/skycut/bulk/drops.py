"""Files dropped in the drop bucket: who owns them, which job they make, its options.

Pure (no Google client): the command line computes a drop file's job id
with it, and must not load Firestore to do so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from skycut.bulk.rows import OPTION_COLUMNS
from skycut.errors import UsageError

__all__ = ["BULK_OPTIONS", "DropObject", "bulk_job_id", "job_options", "owner_of"]

_INCOMING = "incoming/"
# object metadata keys read as job-wide options
BULK_OPTIONS = (*OPTION_COLUMNS, "pol", "package", "package_size")
_PACKAGES = ("none", "zip", "tar", "mef", "epochs")


@dataclass(frozen=True, slots=True)
class DropObject:
    """A finalized object in the drop bucket."""

    bucket: str
    name: str
    generation: str


def bulk_job_id(drop: DropObject) -> str:
    """Return the job id of a drop file: the same file version, the same job."""
    key = f"{drop.bucket}/{drop.name}#{drop.generation}".encode()
    return "bulk-" + hashlib.sha256(key).hexdigest()[:27]


def owner_of(name: str) -> str | None:
    """Return the owner named by ``incoming/<owner>/...``, or None."""
    if not name.startswith(_INCOMING):
        return None
    owner, sep, rest = name[len(_INCOMING) :].partition("/")
    return owner if owner and sep and rest else None


def job_options(metadata: dict[str, str] | None) -> dict[str, str]:
    """Return the job-wide options set as object metadata (``detail``, ``package``...).

    Raises
    ------
    UsageError
        If ``package`` or ``package_size`` is not valid.

    """
    options = {
        k.lower(): v.strip()
        for k, v in (metadata or {}).items()
        if k.lower() in BULK_OPTIONS and v and v.strip()
    }
    package = options.get("package", "none")
    if package not in _PACKAGES:
        raise UsageError(f"package {package!r} is not one of {list(_PACKAGES)}")
    if "package_size" in options and not (
        options["package_size"].isdigit() and int(options["package_size"]) > 0
    ):
        raise UsageError("package_size must be a positive whole number of cutouts")
    return options


