"""Reading a region of an image HDU's pixels through a :class:`RangeReader`.

This is the engine's only data path: the geometry decides *which* pixels,
this module decides *how* to fetch them (which byte ranges, how many
requests) and returns them as an array.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from skycut.cutout.fitsindex import HduInfo
from skycut.cutout.reader import RangeReader
from skycut.errors import UnsupportedSourceError

__all__ = ["output_image_header", "read_pixels"]


def _stored_dtype(bitpix: int) -> np.dtype[np.generic]:
    kind = "f" if bitpix < 0 else "i" if bitpix > 8 else "u"
    return np.dtype(f">{kind}{abs(bitpix) // 8}")


def read_pixels(
    reader: RangeReader, hdu: HduInfo, region: tuple[slice, ...]
) -> npt.NDArray[np.generic]:
    """Return the pixels of ``region`` of an image HDU.

    Parameters
    ----------
    reader
        The file's bytes.
    hdu
        The image HDU, from the file's index.
    region
        One ``slice(start, stop)`` per data axis, in numpy order (slowest
        axis first), steps unset, within the image.

    Returns
    -------
    numpy.ndarray
        For an uncompressed image the stored values (big-endian, unscaled:
        the HDU's BSCALE/BZERO/BLANK still apply); for a tile-compressed
        image the decompressed values, as astropy would give them.

    Raises
    ------
    skycut.errors.UnsupportedSourceError
        If the file is truncated or the HDU cannot be read this way.

    """
    if hdu.is_compressed:
        raise UnsupportedSourceError(f"tile-compressed images are not supported yet ({hdu.name})")
    header = hdu.header
    naxis = int(header["NAXIS"])
    shape = tuple(int(header[f"NAXIS{naxis - i}"]) for i in range(naxis))
    if len(region) != naxis:
        raise ValueError(f"region has {len(region)} axes, the image {naxis}")
    dtype = _stored_dtype(int(header["BITPIX"]))
    # One contiguous span from the first to the last needed element; the
    # read planner (cost model, coalescing, concurrency) replaces this.
    strides = np.cumprod((1, *shape[:0:-1]))[::-1] * dtype.itemsize
    first = sum(int(s.start) * int(st) for s, st in zip(region, strides, strict=True))
    last = sum((int(s.stop) - 1) * int(st) for s, st in zip(region, strides, strict=True))
    start, stop = hdu.data_offset + first, hdu.data_offset + last + dtype.itemsize
    raw = reader.read_range(start, stop)
    if len(raw) != stop - start:
        raise UnsupportedSourceError(f"{reader.name} is truncated in HDU {hdu.name}")
    span = np.frombuffer(raw, dtype=dtype)
    # View the span as part of the full array, then take the region out of it.
    origin = first // dtype.itemsize
    flat_index = np.ravel_multi_index(
        np.meshgrid(*[np.arange(s.start, s.stop) for s in region], indexing="ij"), shape
    )
    return span[flat_index - origin]


def output_image_header(hdu: HduInfo) -> fits.Header:
    """Return the header of ``hdu`` as an uncompressed image HDU would carry it."""
    if hdu.is_compressed:
        raise UnsupportedSourceError(f"tile-compressed images are not supported yet ({hdu.name})")
    return hdu.header.copy()
