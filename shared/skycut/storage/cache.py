"""What a process learns about source objects once, each fact tied to one version.

Header indexes and tile tables are expensive to read (one or two round
trips) and are needed by every cutout of an image, so workers and the API
keep them. Each is keyed by the object version it was read from (bucket,
name and generation): a replaced object is a new version, and nothing read
from the old one is ever served for it. Which version is current is only a
guess (the last one seen); readers pinned to that guess detect a
replacement on their next read (`~skycut.errors.SourceChangedError`), and
the caller then forgets the guess and starts over.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from skycut.cutout.fitsindex import FitsIndex, HduInfo
from skycut.cutout.tiles import TileTable
from skycut.soda.ids import ObjectVersion, SourceRef

__all__ = ["OnceCache", "SourceCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OnceCache(Generic[K, V]):
    """A small thread-safe LRU whose values are computed once per key.

    Concurrent cutouts of the same image wait for the first one's header read
    instead of each reading the header themselves.
    """

    def __init__(self, *, capacity: int = 512) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[K, threading.Lock] = {}

    def get(self, key: K) -> V | None:
        """Return the cached value of ``key``, if any."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for ``key``, evicting the least recently used."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        """Forget ``key``."""
        with self._lock:
            self._entries.pop(key, None)

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
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


class SourceCache:
    """Header indexes and tile tables of source objects, by object version.

    Parameters
    ----------
    capacity
        Object versions remembered at most (tile tables: eight times as many).

    """

    def __init__(self, *, capacity: int = 512) -> None:
        self._indexes: OnceCache[ObjectVersion, FitsIndex] = OnceCache(capacity=capacity)
        self._tables: OnceCache[tuple[ObjectVersion, int], TileTable] = OnceCache(
            capacity=8 * capacity
        )
        self._latest: OrderedDict[SourceRef, int] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def latest(self, source: SourceRef) -> int | None:
        """Return the generation of ``source`` last seen, if any: a guess to read with."""
        with self._lock:
            return self._latest.get(source)

    def _seen(self, version: ObjectVersion) -> None:
        """Note ``version`` as the newest seen of its object."""
        with self._lock:
            known = self._latest.get(version.source)
            if known is None or known <= version.generation:  # generations only grow
                self._latest[version.source] = version.generation
            self._latest.move_to_end(version.source)
            while len(self._latest) > self._capacity:
                self._latest.popitem(last=False)

    def index(self, version: ObjectVersion, load: Callable[[], FitsIndex]) -> FitsIndex:
        """Return the header index of ``version``, read once with ``load``."""
        return self._indexes.get_or_load(version, load)

    def put_index(self, version: ObjectVersion, index: FitsIndex) -> None:
        """Remember the index of ``version`` (e.g. one scanned further by a cut)."""
        self._indexes.put(version, index)
        self._seen(version)

    def tile_table(
        self, version: ObjectVersion, hdu: HduInfo, load: Callable[[], TileTable]
    ) -> TileTable:
        """Return the tile table of one HDU of ``version``, read once with ``load``."""
        return self._tables.get_or_load((version, hdu.index), load)

    def forget(self, version: ObjectVersion) -> None:
        """Forget ``version``: it is no longer the object's live version."""
        self._indexes.pop(version)
        with self._lock:
            if self._latest.get(version.source) == version.generation:
                del self._latest[version.source]
