"""Reading a region of a tile-compressed image: only the tiles it touches.

To cut a region of a tile-compressed image (see `skycut.cutout.tilelayout`) we read
the rows of the tiles it touches (or take them from a cached `TileTable`),
then those tiles' heap bytes, coalesced and concurrent as the read planner
decides, and hand them to astropy's own tile decompression. Using astropy's
decoder (``decompress_image_data_section``, with stand-ins for the table and
heap that serve only the bytes fetched) makes the result identical to
``CompImageHDU.section[...]``, dithered unquantisation and blanks included.
`tile_segments` gives the heap bytes a region needs without reading them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt
from astropy.io.fits.hdu.compressed._tiled_compression import decompress_image_data_section

from skycut.cutout.fetch import Fetched, fetch
from skycut.cutout.fitsindex import HduInfo
from skycut.cutout.reader import RangeReader
from skycut.cutout.readplan import ReadCost, plan_reads
from skycut.cutout.tilelayout import TileLayout
from skycut.errors import UnsupportedSourceError

__all__ = ["TileTable", "read_tile_table", "read_tiles", "tile_segments"]

_DESCRIPTOR_COLUMNS = ("COMPRESSED_DATA", "GZIP_COMPRESSED_DATA", "UNCOMPRESSED_DATA")

_Int64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TileTable:
    """The whole descriptor table of one compressed HDU.

    A worker that cuts the same image repeatedly can cache it next to the
    image's header, keyed by source and HDU: each later cutout then reads
    only heap bytes. It is small (tens of bytes per tile).

    Attributes
    ----------
    layout
        The HDU's tile layout.
    rows
        Every row of the table, read-only.

    """

    layout: TileLayout
    rows: npt.NDArray[np.void]


def read_tile_table(
    reader: RangeReader, hdu: HduInfo, *, cost: ReadCost | None = None
) -> TileTable:
    """Read the whole descriptor table of a compressed HDU (not its heap).

    Parameters
    ----------
    reader
        The file's bytes.
    hdu
        A tile-compressed HDU.
    cost
        The network, for planning the read.

    Returns
    -------
    TileTable
        The table, worth caching per source and HDU.

    """
    layout = TileLayout.of(hdu)
    rows = _read_rows(reader, layout, np.arange(layout.nrows), cost or ReadCost())
    return TileTable(layout=layout, rows=rows)


def read_tiles(
    reader: RangeReader,
    hdu: HduInfo,
    region: tuple[slice, ...],
    *,
    cost: ReadCost | None = None,
    table: TileTable | None = None,
) -> npt.NDArray[Any]:
    """Return the decompressed pixels of ``region``, reading only the tiles it touches.

    Parameters
    ----------
    reader
        The file's bytes.
    hdu
        A tile-compressed HDU.
    region
        One ``slice(start, stop)`` per axis, numpy order, within the image, non-empty.
    cost
        The network, for planning the reads.
    table
        The HDU's descriptor table, if cached; otherwise the rows of the
        touched tiles are read first (one more request).

    Returns
    -------
    numpy.ndarray
        Big-endian values equal to astropy's ``CompImageHDU.section[region]``
        read with ``do_not_scale_image_data=True``: unquantised floats, or
        integers to which ``BSCALE`` / ``BZERO`` still apply.

    Raises
    ------
    ValueError
        If ``table`` belongs to another HDU.
    skycut.errors.UnsupportedSourceError
        If the HDU cannot be decompressed or the file is truncated.

    """
    cost = cost or ReadCost()
    layout = _layout(hdu, table)
    first, last, needed = _touched_tiles(layout, region)
    rows = table.rows if table is not None else _read_rows(reader, layout, needed, cost)
    plan = plan_reads(*_heap_segments(layout, rows[needed]), cost=cost)
    heap = _Heap(fetch(reader, plan, max_concurrency=cost.max_concurrency), layout)
    table_view = _TableRows(rows, layout.formats)
    image_header = {"BLANK": layout.blank} if layout.blank is not None else {}
    try:
        block = decompress_image_data_section(
            table_view,
            str(layout.cards["ZCMPTYPE"]).strip(),
            layout.cards,
            heap,
            image_header,
            first,
            last,
        )
    except (ValueError, TypeError, KeyError, RuntimeError, OverflowError, IndexError) as e:
        raise UnsupportedSourceError(f"{reader.name} HDU {hdu.name}: cannot decompress: {e}") from e
    local = tuple(
        slice(s.start - int(f) * t, s.stop - int(f) * t)
        for s, f, t in zip(region, first, layout.tile_shape, strict=True)
    )
    out: npt.NDArray[Any] = block[local]
    return out.astype(out.dtype.newbyteorder(">"), copy=True)


def tile_segments(
    hdu: HduInfo, region: tuple[slice, ...], table: TileTable
) -> tuple[_Int64, _Int64]:
    """Return the heap byte segments `read_tiles` reads for ``region``, without reading.

    Parameters
    ----------
    hdu
        A tile-compressed HDU.
    region
        One ``slice(start, stop)`` per axis, numpy order, within the image, non-empty.
    table
        The HDU's descriptor table.

    Returns
    -------
    starts, stops
        File offsets of the compressed arrays of the tiles ``region`` touches,
        in file order.

    Raises
    ------
    ValueError
        If ``table`` belongs to another HDU.

    """
    layout = _layout(hdu, table)
    _, _, needed = _touched_tiles(layout, region)
    return _heap_segments(layout, table.rows[needed])


def _layout(hdu: HduInfo, table: TileTable | None) -> TileLayout:
    """Return the HDU's tile layout, from its table if given (checked to be the HDU's)."""
    if table is None:
        return TileLayout.of(hdu)
    if table.layout.table_offset != hdu.data_offset:
        raise ValueError(f"the tile table given is not that of HDU {hdu.name}")
    return table.layout


def _touched_tiles(
    layout: TileLayout, region: tuple[slice, ...]
) -> tuple[_Int64, _Int64, npt.NDArray[Any]]:
    """Return the first and last tile ``region`` touches on each axis, and their table rows."""
    tile = np.array(layout.tile_shape, dtype=np.int64)
    first = np.array([s.start for s in region], dtype=np.int64) // tile
    last = (np.array([s.stop for s in region], dtype=np.int64) - 1) // tile
    return first, last, layout.tile_rows(first, last)


def _read_rows(
    reader: RangeReader, layout: TileLayout, needed: npt.NDArray[Any], cost: ReadCost
) -> npt.NDArray[np.void]:
    """Read the table rows ``needed``; return a full-length table with only those filled."""
    starts = layout.table_offset + needed.astype(np.int64) * layout.row_bytes
    got = fetch(
        reader,
        plan_reads(starts, starts + layout.row_bytes, cost=cost),
        max_concurrency=cost.max_concurrency,
    )
    # Untouched rows stay zero (and the pages behind them unallocated).
    table = np.zeros(layout.nrows, dtype=layout.row_dtype)
    raw = table.view(np.uint8).reshape(layout.nrows, layout.row_bytes)
    for (start, stop), buffer in zip(got.spans, got.buffers, strict=True):
        first = (start - layout.table_offset) // layout.row_bytes
        count = (stop - start) // layout.row_bytes
        raw[first : first + count] = buffer.reshape(count, layout.row_bytes)
    table.flags.writeable = False
    return table


def _heap_segments(layout: TileLayout, rows: npt.NDArray[np.void]) -> tuple[_Int64, _Int64]:
    """File byte ranges of every non-empty descriptor in ``rows``, in file order."""
    starts: list[_Int64] = []
    stops: list[_Int64] = []
    for name in _DESCRIPTOR_COLUMNS:
        if name not in layout.formats:
            continue
        item = layout.heap_item_bytes(name)
        desc = rows[name].astype(np.int64)
        count, offset = desc[:, 0], desc[:, 1]
        used = count > 0
        starts.append(layout.heap_offset + offset[used])
        stops.append(layout.heap_offset + offset[used] + count[used] * item)
    lo, hi = np.concatenate(starts), np.concatenate(stops)
    order = np.argsort(lo, kind="stable")
    return lo[order], hi[order]


class _ColDefs:
    """Stands in for the table's ``ColDefs``: column names and ``TFORM``s."""

    def __init__(self, dtype: np.dtype[np.void], formats: dict[str, str]) -> None:
        self.dtype = dtype
        self._formats = formats

    def __getitem__(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(format=self._formats[name])


class _TableRows:
    """What ``decompress_image_data_section`` reads of the table: columns by name."""

    def __init__(self, rows: npt.NDArray[np.void], formats: dict[str, str]) -> None:
        self._rows = rows
        self.dtype = rows.dtype
        self._coldefs = _ColDefs(rows.dtype, formats)

    def __getitem__(self, name: str) -> Any:
        return self._rows[name]


class _Heap:
    """Stands in for the table HDU: serves heap bytes from the ranges fetched."""

    _data_offset = 0
    _theap = 0

    def __init__(self, fetched: Fetched, layout: TileLayout) -> None:
        self._fetched = fetched
        self._base = layout.heap_offset
        self._heap_size = int(layout.cards.get("PCOUNT", 0))

    def _get_raw_data(self, shape: int, code: Any, offset: int) -> npt.NDArray[Any]:
        dtype = np.dtype(code)
        nbytes = int(shape) * dtype.itemsize
        start = self._base + offset
        try:
            return self._fetched.view(start, start + nbytes).view(dtype)
        except KeyError:
            if offset == 0 and nbytes == self._heap_size:
                return self._whole_heap().view(dtype)
            raise

    def _whole_heap(self) -> npt.NDArray[np.uint8]:
        # Asked for when the region spans every tile, all of which were fetched.
        heap = np.zeros(self._heap_size, dtype=np.uint8)
        for (start, stop), buffer in zip(self._fetched.spans, self._fetched.buffers, strict=True):
            a, b = start - self._base, min(stop - self._base, self._heap_size)
            heap[a:b] = buffer[: b - a]
        return heap
