"""Reading a region of an image HDU's pixels through a :class:`RangeReader`.

This is the engine's only data path: the geometry decides *which* pixels,
this module decides *how* to fetch them. An uncompressed region is one byte
segment per image row (per plane); the read planner chooses the requests
(one span, coalesced row ranges, or concurrent parts) and the rows are cut
out of the fetched buffers with numpy, one gather per span. Tile-compressed
HDUs go through `skycut.cutout.tiles`, which reads only the tiles touched.
`pixel_segments` gives the segments a region needs without reading them, so
the reads of several regions can be planned together
(:mod:`skycut.cutout.prefetch`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from numpy.lib.stride_tricks import sliding_window_view

from skycut.cutout.fetch import fetch
from skycut.cutout.fitsindex import HduInfo
from skycut.cutout.reader import RangeReader
from skycut.cutout.readplan import ReadCost, plan_reads
from skycut.cutout.tilelayout import compressed_image_header
from skycut.cutout.tiles import TileTable, read_tiles, tile_segments
from skycut.errors import UnsupportedSourceError

__all__ = [
    "image_header",
    "image_shape",
    "output_image_header",
    "pixel_segments",
    "read_pixels",
    "stored_dtype",
]

_Int64 = npt.NDArray[np.int64]


def stored_dtype(bitpix: int) -> np.dtype[Any]:
    """Return the numpy type of FITS data of ``BITPIX`` as stored (big-endian)."""
    kind = "f" if bitpix < 0 else "i" if bitpix > 8 else "u"
    return np.dtype(f">{kind}{abs(bitpix) // 8}")


def image_shape(hdu: HduInfo) -> tuple[int, ...]:
    """Return the image's shape in numpy order (``ZNAXISn`` for a compressed HDU).

    Parameters
    ----------
    hdu
        An image HDU, plain or tile-compressed.

    Returns
    -------
    tuple of int
        Slowest axis first.

    """
    prefix = "ZNAXIS" if hdu.is_compressed else "NAXIS"
    naxis = int(hdu.header[prefix])
    return tuple(int(hdu.header[f"{prefix}{naxis - i}"]) for i in range(naxis))


def read_pixels(
    reader: RangeReader,
    hdu: HduInfo,
    region: tuple[slice, ...],
    *,
    cost: ReadCost | None = None,
    tiles: TileTable | None = None,
) -> npt.NDArray[Any]:
    """Return the pixels of ``region`` of an image HDU.

    Parameters
    ----------
    reader
        The file's bytes; read concurrently when the plan says so.
    hdu
        The image HDU, from the file's index.
    region
        One ``slice(start, stop)`` per data axis, in numpy order (slowest
        axis first), steps unset, within the image.
    cost
        The network the reads are planned for; `ReadCost` defaults if not given.
    tiles
        For a tile-compressed HDU, its cached `TileTable`; without it the
        descriptors of the touched tiles are read first.

    Returns
    -------
    numpy.ndarray
        Big-endian values, ready to write as FITS data under
        `output_image_header`. For an uncompressed image the stored values
        (unscaled: the HDU's BSCALE/BZERO/BLANK still apply); for a
        tile-compressed image the decompressed values, as astropy's
        ``CompImageHDU.section`` gives them before BSCALE/BZERO (which
        `output_image_header` keeps, so they still apply).

    Raises
    ------
    ValueError
        If ``region`` does not fit the image.
    skycut.errors.UnsupportedSourceError
        If the file is truncated or the HDU cannot be read this way.

    """
    shape = image_shape(hdu)
    region = _check_region(region, shape)
    if hdu.is_compressed:
        if any(s.stop == s.start for s in region):
            bitpix = int(hdu.header["ZBITPIX"])
            return np.empty(tuple(s.stop - s.start for s in region), stored_dtype(bitpix))
        return read_tiles(reader, hdu, region, cost=cost, table=tiles)
    return _read_plain(reader, hdu, shape, region, cost or ReadCost())


def _check_region(region: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    if len(region) != len(shape):
        raise ValueError(f"region has {len(region)} axes, the image {len(shape)}")
    out = []
    for s, n in zip(region, shape, strict=True):
        if s.step not in (None, 1) or s.start is None or s.stop is None:
            raise ValueError(f"region slices need a start and a stop and no step, not {s}")
        start, stop = int(s.start), int(s.stop)
        if not 0 <= start <= stop <= n:
            raise ValueError(f"slice {s} does not fit an axis of length {n}")
        out.append(slice(start, stop))
    return tuple(out)


def pixel_segments(
    hdu: HduInfo, region: tuple[slice, ...], *, tiles: TileTable | None = None
) -> tuple[_Int64, _Int64]:
    """Return the byte segments of the file that `read_pixels` needs for ``region``.

    Nothing is read: these are what `read_pixels` hands the read planner,
    so a caller can plan the reads of several regions together.

    Parameters
    ----------
    hdu
        The image HDU, from the file's index.
    region
        As for `read_pixels`.
    tiles
        For a tile-compressed HDU, its `TileTable` (required).

    Returns
    -------
    starts, stops
        File offsets of the segments ``[starts[i], stops[i])``, in file
        order: one per image row of the region, or one per heap array of
        the tiles it touches. Empty for an empty region.

    Raises
    ------
    ValueError
        If ``region`` does not fit the image, or a compressed HDU has no ``tiles``.

    """
    shape = image_shape(hdu)
    region = _check_region(region, shape)
    if any(s.stop == s.start for s in region):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if hdu.is_compressed:
        if tiles is None:
            raise ValueError(f"the segments of compressed HDU {hdu.name} need its tile table")
        return tile_segments(hdu, region, tiles)
    starts, row_bytes = _row_starts(hdu, shape, region)
    return starts, starts + row_bytes


def _row_starts(
    hdu: HduInfo, shape: tuple[int, ...], region: tuple[slice, ...]
) -> tuple[_Int64, int]:
    """Return the file offset of every image row of a non-empty region, and its length."""
    dtype = stored_dtype(int(hdu.header["BITPIX"]))
    # The start byte of a row for every index of the outer axes.
    strides = np.cumprod((1, *shape[:0:-1]))[::-1].astype(np.int64) * dtype.itemsize
    starts = np.array(hdu.data_offset + region[-1].start * dtype.itemsize, dtype=np.int64)
    for s, stride in zip(region[:-1], strides[:-1], strict=True):
        starts = np.add.outer(starts, np.arange(s.start, s.stop, dtype=np.int64) * stride)
    return starts.ravel(), (region[-1].stop - region[-1].start) * dtype.itemsize


def _read_plain(
    reader: RangeReader,
    hdu: HduInfo,
    shape: tuple[int, ...],
    region: tuple[slice, ...],
    cost: ReadCost,
) -> npt.NDArray[Any]:
    dtype = stored_dtype(int(hdu.header["BITPIX"]))
    out_shape = tuple(s.stop - s.start for s in region)
    if 0 in out_shape:
        return np.empty(out_shape, dtype)
    starts, seg_len = _row_starts(hdu, shape, region)
    plan = plan_reads(starts, starts + seg_len, cost=cost)
    got = fetch(reader, plan, max_concurrency=cost.max_concurrency)
    rows = np.empty((starts.size, seg_len), dtype=np.uint8)
    # Segments are in file order, so each span holds a run of consecutive ones.
    bounds = np.searchsorted(starts, [stop for _, stop in plan.spans])
    first = 0
    for (span_start, _), buffer, last in zip(plan.spans, got.buffers, bounds.tolist(), strict=True):
        # Every seg_len-byte window of the span, as a view; take the rows' windows.
        windows = sliding_window_view(buffer, seg_len)
        rows[first:last] = windows[starts[first:last] - span_start]
        first = last
    if first != starts.size:
        raise UnsupportedSourceError(f"{reader.name}: planned reads miss rows of HDU {hdu.name}")
    return rows.view(dtype).reshape(out_shape)


def output_image_header(hdu: HduInfo) -> fits.Header:
    """Return the header of ``hdu`` as an uncompressed image HDU would carry it.

    Parameters
    ----------
    hdu
        An image HDU, plain or tile-compressed.

    Returns
    -------
    astropy.io.fits.Header
        A copy of the header (see `image_header`), free to change.

    """
    return image_header(hdu).copy()


_IMAGE_HEADERS: OrderedDict[int, tuple[HduInfo, fits.Header]] = OrderedDict()
_IMAGE_HEADERS_LOCK = threading.Lock()
_CACHED_HEADERS = 256


def image_header(hdu: HduInfo) -> fits.Header:
    """Return the header of ``hdu`` as an uncompressed image HDU would carry it, shared.

    Parameters
    ----------
    hdu
        An image HDU, plain or tile-compressed, from a file's index.

    Returns
    -------
    astropy.io.fits.Header
        For a plain HDU its own header; for a tile-compressed HDU the image
        header astropy derives (``ZBITPIX`` → ``BITPIX``, ``ZNAXISn`` →
        ``NAXISn``, no ``Z*`` or table cards, WCS and
        ``BSCALE``/``BZERO``/``BLANK`` kept, since `read_pixels` returns
        values they apply to), derived once per indexed HDU: deriving it
        costs more than a small stamp's cut. Shared: copy it before
        changing it.

    """
    if not hdu.is_compressed:
        return hdu.header
    with _IMAGE_HEADERS_LOCK:
        hit = _IMAGE_HEADERS.get(id(hdu))
        if hit is not None and hit[0] is hdu:  # the entry holds the HDU, so its id is not reused
            _IMAGE_HEADERS.move_to_end(id(hdu))
            return hit[1]
    header = compressed_image_header(hdu)
    with _IMAGE_HEADERS_LOCK:
        _IMAGE_HEADERS[id(hdu)] = (hdu, header)
        while len(_IMAGE_HEADERS) > _CACHED_HEADERS:
            _IMAGE_HEADERS.popitem(last=False)
    return header
