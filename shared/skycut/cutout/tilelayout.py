"""Where a tile-compressed image's tiles lie, read from its table header alone.

A tile-compressed image (FITS 4.0 §10) is a binary table with one row per
tile, in the tiles' C order. Each row holds heap descriptors pointing at the
tile's compressed bytes and, for quantised floats, the tile's ``ZSCALE`` /
``ZZERO``. This module turns the table header into that layout: the image
and tile shapes, the numpy type of a row, and the file offsets of the rows
and of the heap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.io.fits.hdu.compressed.header import _bintable_header_to_image_header

from skycut.cutout.fitsindex import HduInfo
from skycut.errors import UnsupportedSourceError

__all__ = ["TileLayout", "compressed_image_header"]

_TFORM = re.compile(r"(\d*)([LXBIJKAEDCMPQ])([A-Z]?)(\(\d*\))?")
_SIZE = {"L": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8, "C": 8, "M": 16}
_DTYPE = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
_DTYPE |= {"C": ">c8", "M": ">c16"}
_HEAP_ITEM = {"B": 1, "I": 2, "J": 4, "K": 8, "E": 4, "D": 8}


def compressed_image_header(hdu: HduInfo) -> fits.Header:
    """Return the image header astropy derives from a compressed HDU's table header.

    Parameters
    ----------
    hdu
        A tile-compressed HDU.

    Returns
    -------
    astropy.io.fits.Header
        ``ZBITPIX``, ``ZNAXISn`` and the other ``Z`` cards moved back to their
        image names, table cards removed, every other card (WCS, ``BSCALE``,
        ``BZERO``, ``BLANK``) kept.

    """
    return _bintable_header_to_image_header(hdu.header)


@dataclass(frozen=True)
class TileLayout:
    """Where a compressed image's tiles and their descriptors lie, from its header.

    Attributes
    ----------
    shape
        The image's shape, numpy order.
    tile_shape
        The tiles' shape (``ZTILEn``), numpy order; edge tiles may be smaller.
    grid
        Tiles along each axis.
    row_dtype
        One table row: descriptors as ``(count, offset)`` pairs.
    formats
        ``TFORMn`` of each named column.
    table_offset
        File offset of the table's first row.
    row_bytes
        Bytes per table row (``NAXIS1``).
    heap_offset
        File offset of the heap (``THEAP`` after the table start).
    blank
        The uncompressed image's ``BLANK``, which astropy writes into null integer pixels.
    cards
        The table header's values by keyword, for astropy's tile decoder: it
        looks up dozens of keywords per call, each many times slower in an
        ``astropy.io.fits.Header`` than in a dict (a stamp's decoding spent
        more time there than in decompressing its tiles).

    """

    shape: tuple[int, ...]
    tile_shape: tuple[int, ...]
    grid: tuple[int, ...]
    row_dtype: np.dtype[np.void]
    formats: dict[str, str]
    table_offset: int
    row_bytes: int
    heap_offset: int
    blank: int | None
    cards: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, hdu: HduInfo) -> TileLayout:
        """Read the layout of a tile-compressed HDU from its header.

        Raises
        ------
        skycut.errors.UnsupportedSourceError
            If the header does not describe a valid tiled image.

        """
        h = hdu.header
        try:
            naxis = int(h["ZNAXIS"])
            shape = tuple(int(h[f"ZNAXIS{naxis - i}"]) for i in range(naxis))
            # ZTILEn default to whole rows (FITS 4.0 §10.1.1).
            tile = tuple(
                int(h.get(f"ZTILE{naxis - i}", shape[i] if i == naxis - 1 else 1))
                for i in range(naxis)
            )
            row_dtype, formats = _row_dtype(h)
            blank = _image_blank(h, formats)
        except (KeyError, ValueError, TypeError) as e:
            raise UnsupportedSourceError(f"HDU {hdu.name}: bad tile-compression header: {e}") from e
        if any(t < 1 for t in tile) or "COMPRESSED_DATA" not in formats:
            raise UnsupportedSourceError(f"HDU {hdu.name}: bad tile-compression header")
        grid = tuple(-(-n // t) for n, t in zip(shape, tile, strict=True))
        nrows, row_bytes = int(h["NAXIS2"]), int(h["NAXIS1"])
        if nrows != int(np.prod(grid)) or row_dtype.itemsize != row_bytes:
            raise UnsupportedSourceError(
                f"HDU {hdu.name}: {nrows} table rows of {row_bytes} bytes do not match its tiles"
            )
        return cls(
            shape=shape,
            tile_shape=tile,
            grid=grid,
            row_dtype=row_dtype,
            formats=formats,
            table_offset=hdu.data_offset,
            row_bytes=row_bytes,
            heap_offset=hdu.data_offset + int(h.get("THEAP", nrows * row_bytes)),
            blank=blank,
            cards=_HeaderValues(h),
        )

    @property
    def nrows(self) -> int:
        """Number of tiles, one table row each."""
        return int(np.prod(self.grid))

    def heap_item_bytes(self, column: str) -> int:
        """Return the bytes per heap element of a descriptor column (``1PB`` → 1)."""
        match = _TFORM.fullmatch(self.formats[column])
        item = _HEAP_ITEM.get(match.group(3) if match else "", 0)
        if item == 0:
            raise UnsupportedSourceError(f"{column} has unsupported format {self.formats[column]}")
        return item

    def tile_rows(self, first: npt.NDArray[np.int64], last: npt.NDArray[np.int64]) -> Any:
        """Return the table rows (sorted) of the tiles from ``first`` to ``last`` inclusive."""
        axes = [np.arange(a, b + 1) for a, b in zip(first, last, strict=True)]
        return np.ravel_multi_index(np.meshgrid(*axes, indexing="ij"), self.grid).ravel()


class _HeaderValues(Mapping[str, Any]):
    """A header's values by keyword, each looked up in the header once, then remembered.

    Making a dict of every card parses every value (0.5 ms for a compressed
    image's header, on every first touch); the decoder asks for a few dozen.
    """

    def __init__(self, header: fits.Header) -> None:
        self._header = header
        self._found: dict[str, Any] = {}
        self._missing: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        found = self._found.get(key, _NOTHING)
        if found is not _NOTHING:
            return found
        if key in self._missing:
            raise KeyError(key)
        try:
            value = self._header[key]
        except KeyError:
            self._missing.add(key)
            raise
        self._found[key] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._header.keys())

    def __len__(self) -> int:
        return len(self._header)


_NOTHING = object()


def _image_blank(header: fits.Header, formats: dict[str, str]) -> int | None:
    """Return the ``BLANK`` astropy gives the image (what `compressed_image_header` has).

    It matters only for integer images without a ``ZBLANK`` keyword; deriving
    the whole image header for it would cost more than the rest of a read.
    """
    blank = header.get("BLANK")
    if blank is None and int(header["ZBITPIX"]) > 0:
        if "ZBLANK" in header:
            blank = header["ZBLANK"]
        elif "ZBLANK" in formats:
            blank = -(1 << (int(header["ZBITPIX"]) - 1))
    return int(blank) if isinstance(blank, int) and not isinstance(blank, bool) else None


def _row_dtype(header: fits.Header) -> tuple[np.dtype[np.void], dict[str, str]]:
    """Return the numpy layout of one table row, descriptors as (count, offset) pairs."""
    names: list[str] = []
    dtypes: list[Any] = []
    offsets: list[int] = []
    formats: dict[str, str] = {}
    offset = 0
    for i in range(1, int(header["TFIELDS"]) + 1):
        tform = str(header[f"TFORM{i}"]).strip().upper()
        match = _TFORM.fullmatch(tform)
        if match is None:
            raise ValueError(f"TFORM{i} = {tform!r}")
        repeat = int(match.group(1) or 1)
        code = match.group(2)
        if code in "PQ":
            size = repeat * (8 if code == "P" else 16)
            dtype: Any = (">i4" if code == "P" else ">i8", (2,))
        elif code == "X":
            size = -(-repeat // 8)
            dtype = ("u1", (size,))
        elif code == "A":
            size = repeat
            dtype = f"S{repeat}"
        else:
            size = repeat * _SIZE[code]
            dtype = _DTYPE[code] if repeat == 1 else (_DTYPE[code], (repeat,))
        name = str(header.get(f"TTYPE{i}", "")).strip()
        if name and size and name not in formats:
            names.append(name)
            dtypes.append(dtype)
            offsets.append(offset)
            formats[name] = tform
        offset += size
    layout: Any = {"names": names, "formats": dtypes, "offsets": offsets, "itemsize": offset}
    return np.dtype(layout), formats
