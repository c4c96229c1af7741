"""Decoded index entries kept in a process, keyed by the object version they describe.

A query reads the postings of its cells (which object versions are filed
there) and needs each image's entry: decoding a document (its footprint
and the polygon the exact test uses) costs more than the test itself, and
a server answers many queries about the same sky. :class:`RecordCache`
keeps entries by document id **and** :class:`~skycut.index.record.ObjectStamp`:
the entry of a version never changes once stored (a store only replaces
an entry with a newer version's), so a cached entry is used only while the
postings still name its version, and a replaced or deleted object is
never answered from the cache. The least recently used entries go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from skycut.index.record import ImageRecord, ObjectStamp

__all__ = ["DEFAULT_CACHE_ENTRIES", "RecordCache"]

DEFAULT_CACHE_ENTRIES = 20_000
"""Entries a cache holds by default: ~12.6 kB each once decoded and tested (a
143-vertex outline, its ``s_region`` and its polygon, measured over the
benchmark's layout), so ~0.25 GB at most; an instance with less memory keeps fewer."""


class RecordCache:
    """A bounded, thread-safe map of (document id, version) to decoded images.

    Parameters
    ----------
    max_entries
        How many entries to keep (0 keeps none).

    """

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, ObjectStamp], ImageRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, stamp: ObjectStamp) -> ImageRecord | None:
        """Return the image of version ``stamp`` of document ``key``, if kept."""
        with self._lock:
            record = self._entries.get((key, stamp))
            if record is not None:
                self._entries.move_to_end((key, stamp))
            return record

    def put(self, key: str, record: ImageRecord) -> None:
        """Keep an image under its own version; forget the least recently used beyond the bound."""
        if self._max <= 0:
            return
        with self._lock:
            self._entries[(key, record.stamp)] = record
            self._entries.move_to_end((key, record.stamp))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
