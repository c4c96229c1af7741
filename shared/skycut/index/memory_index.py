"""An image index in memory: the same rules as Firestore's, for tests and tools."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from skycut.index.record import ImageRecord, IndexEntry, ObjectStamp, document_id
from skycut.index.store import ImageIndex, Stored, supersedes
from skycut.soda.ids import SourceRef

__all__ = ["MemoryImageIndex"]


class MemoryImageIndex(ImageIndex):
    """Entries in a dict keyed as Firestore's documents are."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, IndexEntry] = {}
        self._tombstones: dict[str, ObjectStamp] = {}

    def _stored(self, key: str) -> Stored | None:
        if key in self._tombstones:
            return Stored(self._tombstones[key], deleted=True)
        entry = self._entries.get(key)
        return None if entry is None else Stored(entry.stamp)

    def stored(self, source: SourceRef) -> Stored | None:
        """Return the version held for an object, if any."""
        with self._lock:
            return self._stored(document_id(source))

    def put(self, entry: IndexEntry) -> bool:
        """Store an entry unless a newer version is held; return whether it was stored."""
        key = document_id(entry.source)
        with self._lock:
            if not supersedes(self._stored(key), entry.stamp, deletion=False):
                return False
            self._tombstones.pop(key, None)
            self._entries[key] = entry
            return True

    def remove(self, source: SourceRef, stamp: ObjectStamp) -> bool:
        """Remove an object's version ``stamp`` (and older); return whether anything changed."""
        key = document_id(source)
        with self._lock:
            if not supersedes(self._stored(key), stamp, deletion=True):
                return False
            self._entries.pop(key, None)
            self._tombstones[key] = stamp
            return True

    def get(self, source: SourceRef) -> IndexEntry | None:
        """Return an object's entry, or `None`."""
        with self._lock:
            return self._entries.get(document_id(source))

    def _images(self) -> list[ImageRecord]:
        with self._lock:
            return [e for e in self._entries.values() if isinstance(e, ImageRecord)]

    def with_cells(self, ids: Sequence[int]) -> Iterator[ImageRecord]:
        """Yield the images filed under any of ``ids``."""
        wanted = set(ids)
        return (r for r in self._images() if wanted.intersection(r.cells))

    def in_collections(self, names: Sequence[str]) -> Iterator[ImageRecord]:
        """Yield the images of the named collections."""
        return (r for r in self._images() if r.metadata.obs_collection in names)

    def images(self) -> Iterator[ImageRecord]:
        """Yield every indexed image."""
        return iter(self._images())
