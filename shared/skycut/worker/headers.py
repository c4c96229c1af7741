"""A per-process cache of what a worker learns about a source once: its header index."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from skycut.cutout.fitsindex import FitsIndex

__all__ = ["HeaderCache", "OnceCache"]

T = TypeVar("T")


class OnceCache(Generic[T]):
    """A small thread-safe LRU whose values are computed once per key.

    Concurrent cutouts of the same image wait for the first one's header read
    instead of each reading the header themselves. Sources are immutable
    objects (a re-upload is a new generation and should get a new name), so
    entries never go stale within a worker's life.
    """

    def __init__(self, *, capacity: int = 512) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str) -> T | None:
        """Return the cached value of ``key``, if any."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: T) -> None:
        """Remember ``value`` for ``key``, evicting the least recently used."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def get_or_load(self, key: str, load: Callable[[], T]) -> T:
        """Return the value of ``key``, computing it with ``load`` once if missing."""
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            value = self.get(key)
            if value is None:
                value = load()
                self.put(key, value)
        with self._lock:
            self._loading.pop(key, None)
        return value


class HeaderCache(OnceCache[FitsIndex]):
    """The header indexes of the sources a worker has read."""
