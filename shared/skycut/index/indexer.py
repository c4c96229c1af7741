"""Keeping the index in step with the sources buckets, one object event at a time.

- a finalize (or a metadata change) of an object in a sources bucket reads
  its headers and stores what they describe, unless a newer version is
  already stored (then nothing is read);
- a deletion, or a version becoming noncurrent, removes it;
- an object that cannot be indexed is stored as :class:`Unindexable` with
  the reason: reported, never retried for the same version;
- a version replaced or deleted while its headers were read is skipped:
  the event about its successor indexes that one.

Storage and Firestore outages raise, so the event is delivered again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from skycut.collection_rules import CollectionRule
from skycut.cutout.reader import RangeReader
from skycut.errors import ServiceUnavailableError, SourceChangedError
from skycut.index.bands import filter_table
from skycut.index.errors import UnindexableError
from skycut.index.metadata import MetadataConfig
from skycut.index.record import IndexEntry, ObjectStamp, Unindexable
from skycut.index.scan import index_image
from skycut.index.store import ImageIndex
from skycut.logs import log
from skycut.soda.ids import SourceRef
from skycut.storage.events import ObjectEvent

__all__ = ["Indexer", "Outcome", "metadata_config"]

Outcome = Literal["indexed", "unindexable", "removed", "current", "superseded", "ignored"]
"""What an event did: stored an image, stored a reason, removed an entry, found the
entry already current, found the version gone, or was not about a sources bucket."""

OpenReader = Callable[[SourceRef, int, int | None], RangeReader]
"""Opens a reader of one version: ``(source, generation, size if known)``."""


def metadata_config(
    filters: dict[str, tuple[float, float]], collections: Collection[CollectionRule]
) -> MetadataConfig:
    """Return the description rules: the built-in filter table with ``filters`` on top."""
    return MetadataConfig(filters=filter_table(filters), collections=tuple(collections))


@dataclass(frozen=True, kw_only=True)
class Indexer:
    """Applies object events to an image index.

    Attributes
    ----------
    index
        Where entries are stored.
    open_reader
        Opens one object version for range reads.
    buckets
        The sources buckets: events about other buckets are ignored.
    config
        Filter table and collection rules.
    chunk_size
        Bytes of a file's first read.

    """

    index: ImageIndex
    open_reader: OpenReader
    buckets: Collection[str]
    config: MetadataConfig
    chunk_size: int = 65536

    def handle(self, event: ObjectEvent) -> Outcome:
        """Apply one event; raise (to be delivered again) only on an outage."""
        if event.bucket not in self.buckets or not event.name:
            return "ignored"
        source = SourceRef(bucket=event.bucket, name=event.name)
        stamp = ObjectStamp(event.generation, event.metageneration)
        if event.kind in ("delete", "archive"):
            return "removed" if self.index.remove(source, stamp) else "current"
        if not self.index.wants(source, stamp):
            return "current"
        try:
            entry = self._describe(source, stamp, event.size)
        except SourceChangedError:
            return "superseded"
        if not self.index.put(entry):
            return "current"
        if isinstance(entry, Unindexable):
            log(logging.WARNING, "object not indexable", source=source.uri, reason=entry.reason)
            return "unindexable"
        return "indexed"

    def _describe(self, source: SourceRef, stamp: ObjectStamp, size: int | None) -> IndexEntry:
        reader = self.open_reader(source, stamp.generation, size)
        try:
            return index_image(
                reader,
                source=source,
                stamp=stamp,
                size=size if size is not None else reader.size(),
                config=self.config,
                chunk_size=self.chunk_size,
            )
        except UnindexableError as e:
            reason = e.message
        except ServiceUnavailableError:
            raise
        except Exception as e:  # a header that breaks a parser is the file's fault
            # astropy and wcslib raise many kinds on malformed cards; retrying cannot fix them
            reason = f"{source.uri}: unreadable headers ({type(e).__name__}: {e})"
        return Unindexable(source=source, stamp=stamp, indexed_at=datetime.now(UTC), reason=reason)
