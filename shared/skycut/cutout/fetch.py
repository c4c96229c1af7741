"""Performing a :class:`~skycut.cutout.readplan.ReadPlan`: concurrent range requests."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from skycut.cutout.reader import RangeReader
from skycut.cutout.readplan import ReadPlan
from skycut.errors import UnsupportedSourceError

__all__ = ["Chunk", "Fetched", "fetch", "join_chunks"]

Chunk = tuple[int, npt.NDArray[np.uint8]]
"""Bytes of a file at an offset: ``(offset, uint8 array)``."""


class Fetched:
    """The bytes of a plan's spans, addressable by file offset.

    Parameters
    ----------
    spans
        The plan's spans, in increasing order.
    buffers
        One ``uint8`` array per span.

    """

    def __init__(
        self, spans: tuple[tuple[int, int], ...], buffers: list[npt.NDArray[np.uint8]]
    ) -> None:
        self.spans = spans
        self.buffers = buffers
        self._starts = np.array([start for start, _ in spans], dtype=np.int64)

    def span_of(self, start: int, stop: int) -> int:
        """Return the index of the span holding bytes ``[start, stop)``.

        Raises
        ------
        KeyError
            If no span holds them all (they were not planned).

        """
        i = int(np.searchsorted(self._starts, start, side="right")) - 1
        if i < 0 or stop > self.spans[i][1]:
            raise KeyError(f"bytes [{start}, {stop}) were not fetched")
        return i

    def view(self, start: int, stop: int) -> npt.NDArray[np.uint8]:
        """Return bytes ``[start, stop)`` as a read-only ``uint8`` view."""
        i = self.span_of(start, stop)
        offset = self.spans[i][0]
        return self.buffers[i][start - offset : stop - offset]


def fetch(reader: RangeReader, plan: ReadPlan, *, max_concurrency: int = 8) -> Fetched:
    """Send the plan's requests, up to ``max_concurrency`` at once.

    Parameters
    ----------
    reader
        The file's bytes; it must allow concurrent `read_range` calls.
    plan
        What to fetch.
    max_concurrency
        Requests in flight at once.

    Returns
    -------
    Fetched
        The spans' bytes.

    Raises
    ------
    skycut.errors.UnsupportedSourceError
        If the file ends before a planned range does.

    """
    parts = plan.parts
    if len(parts) <= 1 or max_concurrency <= 1:
        data = [reader.read_range(start, stop) for start, stop in parts]
    else:
        with ThreadPoolExecutor(max_workers=min(max_concurrency, len(parts))) as pool:
            futures = [pool.submit(reader.read_range, start, stop) for start, stop in parts]
            try:
                data = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    for (start, stop), got in zip(parts, data, strict=True):
        if len(got) != stop - start:
            raise UnsupportedSourceError(
                f"{reader.name} ends at byte {start + len(got)}, "
                f"before byte {stop} its headers promise"
            )
    return Fetched(plan.spans, _assemble(plan, data))


def _assemble(plan: ReadPlan, data: list[bytes]) -> list[npt.NDArray[np.uint8]]:
    """Join each span's parts into one buffer (no copy for a span fetched whole)."""
    buffers: list[npt.NDArray[np.uint8]] = []
    k = 0
    for start, stop in plan.spans:
        first = k
        while k < len(plan.parts) and plan.parts[k][1] <= stop:
            k += 1
        if k - first == 1:
            buffers.append(np.frombuffer(data[first], dtype=np.uint8))
            continue
        joined = np.empty(stop - start, dtype=np.uint8)
        for (a, b), got in zip(plan.parts[first:k], data[first:k], strict=True):
            joined[a - start : b - start] = np.frombuffer(got, dtype=np.uint8)
        joined.flags.writeable = False
        buffers.append(joined)
    return buffers


def join_chunks(chunks: Iterable[Chunk]) -> list[Chunk]:
    """Join chunks that touch or overlap into runs, in file order.

    Parameters
    ----------
    chunks
        Bytes of one file at their offsets, in any order.

    Returns
    -------
    list of Chunk
        Disjoint, non-touching runs in increasing order (a lone chunk is not copied).

    """
    runs: list[tuple[int, list[npt.NDArray[np.uint8]], int]] = []
    for start, data in sorted(chunks, key=lambda c: c[0]):
        if runs and start <= runs[-1][2]:
            first, pieces, stop = runs[-1]
            if start + data.size > stop:
                pieces.append(data[stop - start :])
                runs[-1] = (first, pieces, start + data.size)
        else:
            runs.append((start, [data], start + data.size))
    return [(start, p[0] if len(p) == 1 else np.concatenate(p)) for start, p, _ in runs]
