"""Byte-range access to a source file, the engine's only way to read data.

The cutout engine reads through :class:`RangeReader` so the same code cuts a
local file, a plain HTTP object or a Cloud Storage object.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "CountingReader",
    "LocalFileReader",
    "RangeReader",
    "ReadStats",
    "RememberingReader",
    "SizeKnowing",
    "WrappingReader",
    "known_size",
]


@runtime_checkable
class RangeReader(Protocol):
    """Reads byte ranges of one immutable object."""

    @property
    def name(self) -> str:
        """A name for logs and provenance (e.g. ``gs://bucket/path.fits``)."""
        ...

    def size(self) -> int:
        """Return the object's length in bytes."""
        ...

    def read_range(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)``; shorter only at the end of the object."""
        ...


@runtime_checkable
class SizeKnowing(Protocol):
    """A reader that can tell whether it knows its object's size without asking for it."""

    def known_size(self) -> int | None:
        """Return the object's size if known at no cost (no request), else None."""
        ...


def known_size(reader: RangeReader) -> int | None:
    """Return ``reader``'s object size if it knows it without a request, else None.

    A Cloud Storage reader learns the size from its first read's
    ``Content-Range``; asking `RangeReader.size` before any read costs a
    metadata request there. Readers that do not say are taken not to know.
    """
    return reader.known_size() if isinstance(reader, SizeKnowing) else None


class LocalFileReader:
    """A :class:`RangeReader` over a file on local disk."""

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)

    @property
    def name(self) -> str:
        """The file's path."""
        return str(self._path)

    def size(self) -> int:
        """Return the file's length in bytes."""
        return self._path.stat().st_size

    def known_size(self) -> int:
        """Return the file's length in bytes (a local look-up, always free)."""
        return self.size()

    def read_range(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` of the file."""
        with self._path.open("rb") as f:
            f.seek(start)
            return f.read(max(0, stop - start))


class ReadStats:
    """Thread-safe count of requests and bytes read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.bytes = 0

    def add(self, nbytes: int) -> None:
        """Count one request that returned ``nbytes`` bytes."""
        with self._lock:
            self.requests += 1
            self.bytes += nbytes


class WrappingReader:
    """Base of readers that wrap another and change only how it is read."""

    def __init__(self, inner: RangeReader) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        """The wrapped reader's name."""
        return self._inner.name

    def size(self) -> int:
        """Return the wrapped object's size."""
        return self._inner.size()

    def known_size(self) -> int | None:
        """Return the wrapped object's size if the wrapped reader knows it for free."""
        return known_size(self._inner)

    def read_range(self, start: int, stop: int) -> bytes:
        """Read through the wrapped reader."""
        return self._inner.read_range(start, stop)


class CountingReader(WrappingReader):
    """Wraps a :class:`RangeReader` and counts its requests and bytes."""

    def __init__(self, inner: RangeReader, stats: ReadStats | None = None) -> None:
        super().__init__(inner)
        self.stats = stats if stats is not None else ReadStats()

    def read_range(self, start: int, stop: int) -> bytes:
        """Read through the wrapped reader and count the request."""
        data = self._inner.read_range(start, stop)
        self.stats.add(len(data))
        return data


class RememberingReader(WrappingReader):
    """Wraps a :class:`RangeReader` and serves bytes it already fetched from memory.

    Wrap a source's reader in one for the span of one cutout: the header
    scan's first chunk often also holds the start of the data (a compressed
    image's tile table, the top rows of a small image), which the pixel read
    then takes from memory instead of asking again. Only reads of at most
    ``capacity`` bytes are remembered, the oldest forgotten first, so large
    pixel reads pass straight through.

    Parameters
    ----------
    inner
        The reader to wrap (a `CountingReader` inside counts only real requests).
    capacity
        Bytes remembered at most.

    """

    def __init__(self, inner: RangeReader, *, capacity: int = 1 << 20) -> None:
        super().__init__(inner)
        self._capacity = capacity
        self._held: deque[tuple[int, bytes]] = deque()
        self._size = 0
        self._lock = threading.Lock()

    def read_range(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)``, from memory if an earlier read covered them."""
        with self._lock:
            for offset, data in self._held:
                if offset <= start and stop <= offset + len(data):
                    return data[start - offset : stop - offset]
        data = self._inner.read_range(start, stop)
        if len(data) <= self._capacity:
            with self._lock:
                self._held.append((start, data))
                self._size += len(data)
                while self._size > self._capacity:
                    self._size -= len(self._held.popleft()[1])
        return data
