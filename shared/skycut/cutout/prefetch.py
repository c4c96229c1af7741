"""Fetching the pixels of many cutouts of one file together, then cutting each from memory.

A batch of stamps on one image needs many small byte segments that often lie
close together. Cut one by one, each stamp plans and pays for its own round
trips; here the segments of every cutout are planned as one set under the
network's `ReadCost`, so nearby stamps share spans and requests, and fetched
once. The result is a `PrefetchedReader`: each `skycut.cutout.engine.cut`
then reads its pixels from memory when given ``cost=MEMORY_COST``, which
makes it ask for exactly the segments it needs, all of which were fetched.

    ahead = prefetch(reader, [CutRequest(s) for s in selections],
                     source_id=uri, index=index, cost=cost)
    for s in selections:
        cut(ahead, s, source_id=uri, index=ahead.index, cost=MEMORY_COST)

Anything not fetched (a header beyond the index, a selection whose planning
failed) is read through the wrapped reader, where a `CountingReader` still
counts it.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skycut.cutout.cutplan import CutPlan, plan_cut
from skycut.cutout.fetch import Chunk, fetch, join_chunks
from skycut.cutout.fitsindex import FitsIndex, HduInfo, named_image, scan_fits
from skycut.cutout.pixels import pixel_segments
from skycut.cutout.reader import RangeReader, WrappingReader
from skycut.cutout.readplan import ReadCost, ReadPlan, plan_reads
from skycut.cutout.selection import FITS, Detail, ResponseFormat, Selection
from skycut.cutout.tiles import TileTable, read_tile_table
from skycut.errors import UnsupportedSourceError, UsageError

__all__ = [
    "MEMORY_COST",
    "CutRequest",
    "PrefetchedReader",
    "plan_each",
    "prefetch",
    "prefetch_plans",
]

MEMORY_COST = ReadCost(round_trip=0.0, bandwidth=1.0, max_concurrency=1, request_overhead=0.0)
"""The cost of reading from a `PrefetchedReader`: requests are free, every byte counts.

Under it the read planner asks for exactly the needed segments (touching
ones merged), one after the other, so a cut reads only bytes the prefetch
fetched (when it was planned the same way).
"""

_Tables = Callable[[HduInfo], TileTable]


@dataclass(frozen=True)
class CutRequest:
    """What planning a cutout needs beside the file: the options `cut` plans with.

    Attributes
    ----------
    selection
        The stencil and the BAND, TIME and POL filters.
    detail
        Which HDUs to cut, as `cut` takes it.
    response_format
        The output format, as `cut` takes it (a preview allows only ``image``).

    """

    selection: Selection
    detail: Detail = "image"
    response_format: ResponseFormat = FITS


class PrefetchedReader(WrappingReader):
    """Serves byte ranges from bytes fetched ahead, anything else from the wrapped reader.

    A range is served from memory when one held run of bytes covers it
    whole. The held bytes never change, so concurrent cuts may share it.

    Parameters
    ----------
    inner
        The file's reader, for what was not fetched.
    chunks
        ``(offset, uint8 array)`` pairs fetched; they may touch or overlap.
    index
        The file's index as far as planning scanned it.
    plan
        The reads that fetched the chunks, if they were planned as one.

    Attributes
    ----------
    index
        Pass it to every `cut` through this reader, so none scans headers again.
    plan
        The shared read plan (its requests, bytes and estimate), for logs;
        `None` if nothing was fetched for the pixels.

    """

    def __init__(
        self,
        inner: RangeReader,
        chunks: Iterable[Chunk],
        *,
        index: FitsIndex | None = None,
        plan: ReadPlan | None = None,
    ) -> None:
        super().__init__(inner)
        self._chunks = sorted(chunks, key=lambda chunk: chunk[0])
        self._starts = [start for start, _ in self._chunks]
        # runs of touching chunks, joined (a copy) only if a read needs more than one chunk
        self._runs: tuple[list[int], list[npt.NDArray[np.uint8]]] | None = None
        self._lock = threading.Lock()
        self.index = index
        self.plan = plan

    @property
    def held_bytes(self) -> int:
        """Bytes held in memory."""
        return sum(b.size for _, b in self._chunks)

    def read_range(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)``, from memory if they were fetched."""
        # a read of a planned request is served by the chunk that request fetched
        i = bisect.bisect_right(self._starts, start) - 1
        if i >= 0 and stop - self._starts[i] <= self._chunks[i][1].size:
            return _bytes_of(self._chunks[i][1], start - self._starts[i], stop - start)
        starts, buffers = self._joined()
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0 and stop - starts[i] <= buffers[i].size:
            return _bytes_of(buffers[i], start - starts[i], stop - start)
        return self._inner.read_range(start, stop)

    def _joined(self) -> tuple[list[int], list[npt.NDArray[np.uint8]]]:
        with self._lock:
            if self._runs is None:
                runs = join_chunks(self._chunks)
                self._runs = ([start for start, _ in runs], [buffer for _, buffer in runs])
            return self._runs


def _bytes_of(buffer: npt.NDArray[np.uint8], offset: int, size: int) -> bytes:
    """Return ``size`` bytes of ``buffer`` from ``offset``: the bytes it was read as, if whole.

    A chunk read for a request and served back to that request is not copied
    (a 1003² plane's rows are 16 MB).
    """
    base = buffer.base
    if offset == 0 and size == buffer.size and isinstance(base, bytes) and len(base) == size:
        return base
    return buffer[offset : offset + size].tobytes()


def prefetch(
    reader: RangeReader,
    requests: Iterable[CutRequest],
    *,
    source_id: str,
    index: FitsIndex | None,
    max_pixels: int | None = None,
    cost: ReadCost | None = None,
    tile_tables: _Tables | None = None,
    chunk_size: int = 65536,
) -> PrefetchedReader:
    """Plan several cutouts of one file, then fetch all their pixels in one read plan.

    A request whose planning fails (no overlap, over ``max_pixels``, an
    unsupported HDU...) is left out: `cut` raises the same error for it.

    Parameters
    ----------
    reader
        The file's bytes.
    requests
        The cutouts, each as `cut` will be asked for it.
    source_id, max_pixels, chunk_size
        As `cut` takes them.
    index
        The file's index, if cached; scanned otherwise (and, like `cut`,
        further when a request's ``detail`` needs it).
    cost
        The network the shared reads are planned for; `ReadCost` defaults if not given.
    tile_tables
        Gives the descriptor table of a tile-compressed HDU; pass the same
        to every `cut`. Without it each compressed HDU's table is read here
        and held too, so cuts without one still read nothing more.

    Returns
    -------
    PrefetchedReader
        Cut each request through it with ``index=<its index>`` and ``cost=MEMORY_COST``.

    Raises
    ------
    skycut.errors.SkycutError
        What reading the file raises (a transient storage error, a missing
        object); never an error of one request.

    """
    plans, index = plan_each(
        reader,
        list(requests),
        source_id=source_id,
        index=index,
        max_pixels=max_pixels,
        chunk_size=chunk_size,
    )
    return prefetch_plans(
        reader, [p for p in plans if p is not None], cost=cost, tile_tables=tile_tables, index=index
    )


def prefetch_plans(
    reader: RangeReader,
    plans: Sequence[CutPlan],
    *,
    cost: ReadCost | None = None,
    tile_tables: _Tables | None = None,
    index: FitsIndex | None = None,
) -> PrefetchedReader:
    """Fetch the pixels of planned cutouts of one file in one read plan.

    Parameters
    ----------
    reader
        The file's bytes.
    plans
        Cutouts planned with `plan_cut`.
    cost, tile_tables
        As for `prefetch`.
    index
        The index the reader gives cuts; the most complete of the plans' by default.

    Returns
    -------
    PrefetchedReader
        Holding the segments every plan needs (and any tile table read here).

    """
    cost = cost or ReadCost()
    if index is None and plans:
        index = max((p.index for p in plans), key=lambda i: (i.complete, len(i.hdus)))
    hdus = {p.hdu.index: p.hdu for plan in plans for p in plan.hdus if p.hdu.is_compressed}
    tables, chunks = _tables(reader, hdus.values(), tile_tables, cost)
    starts, stops = _segments(plans, tables)
    plan = plan_reads(starts, stops, cost=cost)
    try:
        fetched = fetch(reader, plan, max_concurrency=cost.max_concurrency)
    except UnsupportedSourceError:
        # A truncated file: hold nothing, so each cut reads (and fails or not) on its own.
        return PrefetchedReader(reader, chunks, index=index)
    chunks += [(start, b) for (start, _), b in zip(fetched.spans, fetched.buffers, strict=True)]
    return PrefetchedReader(reader, chunks, index=index, plan=plan)


def plan_each(
    reader: RangeReader,
    requests: Sequence[CutRequest],
    *,
    source_id: str,
    index: FitsIndex | None,
    max_pixels: int | None = None,
    chunk_size: int = 65536,
) -> tuple[list[CutPlan | None], FitsIndex | None]:
    """Plan every request that can be; pass the index each scans on to the next.

    Returns
    -------
    tuple
        One `CutPlan` per request, None where planning failed (its `cut`
        raises the same error), and the index as far as planning scanned it.

    """
    try:
        if index is None:
            index = scan_fits(reader, stop_after=named_image, chunk_size=chunk_size)
    except UsageError:
        return [None] * len(requests), None  # every cut will say what is wrong with the file
    plans: list[CutPlan | None] = []
    for request in requests:
        try:
            plan = plan_cut(
                reader,
                request.selection,
                source_id=source_id,
                index=index,
                detail=request.detail,
                response_format=request.response_format,
                max_pixels=max_pixels,
                chunk_size=chunk_size,
            )
        except (UsageError, ValueError):
            # Its cut raises the same; the others are still worth fetching. Errors
            # of the file itself (missing, storage unavailable) stop the whole batch.
            plans.append(None)
            continue
        plans.append(plan)
        index = plan.index
    return plans, index


def _tables(
    reader: RangeReader, hdus: Iterable[HduInfo], tile_tables: _Tables | None, cost: ReadCost
) -> tuple[dict[int, TileTable], list[Chunk]]:
    """Return the compressed HDUs' tile tables, and the bytes read for them here."""
    recorder = _Recorder(reader)
    tables = {}
    for hdu in hdus:
        try:
            if tile_tables is not None:
                tables[hdu.index] = tile_tables(hdu)
            else:
                tables[hdu.index] = read_tile_table(recorder, hdu, cost=cost)
        except UsageError:
            continue  # a bad tiling header: its cuts raise the same
    return tables, recorder.chunks


def _segments(
    plans: Iterable[CutPlan], tables: dict[int, TileTable]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return every byte segment the plans' HDU regions need (compressed ones with a table)."""
    starts, stops = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for plan in plans:
        for planned in plan.hdus:
            hdu = planned.hdu
            if hdu.is_compressed and hdu.index not in tables:
                continue
            lo, hi = pixel_segments(hdu, planned.region.slices, tiles=tables.get(hdu.index))
            starts.append(lo)
            stops.append(hi)
    return np.concatenate(starts), np.concatenate(stops)


class _Recorder(WrappingReader):
    """Reads through the wrapped reader and keeps a copy of what it returned."""

    def __init__(self, inner: RangeReader) -> None:
        super().__init__(inner)
        self.chunks: list[Chunk] = []
        self._lock = threading.Lock()

    def read_range(self, start: int, stop: int) -> bytes:
        """Read through the wrapped reader and remember the bytes."""
        data = self._inner.read_range(start, stop)
        with self._lock:
            self.chunks.append((start, np.frombuffer(data, dtype=np.uint8)))
        return data
