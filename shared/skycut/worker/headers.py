"""A per-process cache of FITS header indexes, so each header is read once."""

from __future__ import annotations

import threading
from collections import OrderedDict

from skycut.cutout.fitsindex import FitsIndex

__all__ = ["HeaderCache"]


class HeaderCache:
    """A small thread-safe LRU of :class:`FitsIndex` by source URI.

    Sources are immutable objects (a new upload gets a new generation and
    should get a new name), so entries never go stale within a worker's life.
    """

    def __init__(self, *, capacity: int = 512) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, FitsIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, uri: str) -> FitsIndex | None:
        """Return the cached index of ``uri``, if any."""
        with self._lock:
            index = self._entries.get(uri)
            if index is not None:
                self._entries.move_to_end(uri)
            return index

    def put(self, uri: str, index: FitsIndex) -> None:
        """Remember the index of ``uri``, evicting the least recently used."""
        with self._lock:
            self._entries[uri] = index
            self._entries.move_to_end(uri)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
