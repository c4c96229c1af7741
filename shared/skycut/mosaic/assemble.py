"""Writing the mosaic FITS file tile by tile, never holding the whole mosaic.

The file is laid out first: every image HDU's header is written and its
data area reserved (the file is extended to its final size, which a file
system stores sparsely), then each tile's rows are written at their offsets,
in any order, and last a binary table of the inputs is appended. At no time
is more than one tile in memory.

HDUs, in order:

1. primary: the mosaic, ``BITPIX = -32``, with the grid's exact WCS and the
   caller's provenance cards; NaN where no input gave a value;
2. ``COVERAGE`` (float32): the sum of the inputs' footprints, the area of
   each pixel covered, in inputs (when asked);
3. ``COUNT`` (int16): how many inputs cover each pixel (when asked);
4. ``PROVENANCE``: one row per input: ``ID``, ``GENERATION`` (-1 unknown),
   and the background plane subtracted from it, ``BG_A x + BG_B y + BG_C``
   in the mosaic's 0-based pixels.

Rows of the mosaic are contiguous in the file, so a band of whole rows is
one byte range (`MosaicLayout.row_range`): an assembler spread over workers
writes each band's bytes (`band_bytes`) as an object of its own, and the
file is those objects and `MosaicFile.joints` (headers, padding, the table)
joined in order (Cloud Storage's compose), with no writer holding more than
its band.

`stream_mosaic` writes the same file, byte for byte, to a stream that
cannot seek, plane after plane, from bands of whole rows given in order:
the single-writer form of the same pieces.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.background import Plane
from skycut.mosaic.grid import OutputGrid

__all__ = [
    "BLOCK",
    "InputRecord",
    "MosaicFile",
    "MosaicLayout",
    "MosaicWriter",
    "PlaneName",
    "band_bytes",
    "stream_mosaic",
]

BLOCK = 2880
"""The FITS block: headers and data areas are padded to a multiple of it."""

PlaneName = Literal["MOSAIC", "COVERAGE", "COUNT"]
_BITPIX: dict[PlaneName, int] = {"MOSAIC": -32, "COVERAGE": -32, "COUNT": 16}
_DTYPE: dict[PlaneName, str] = {"MOSAIC": ">f4", "COVERAGE": ">f4", "COUNT": ">i2"}


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


@dataclass(frozen=True)
class InputRecord:
    """One input of the mosaic, as the provenance table lists it.

    Attributes
    ----------
    id
        The input's ID (``gs://bucket/object``).
    background
        The background plane subtracted from it (zero if not matched).
    generation
        The object generation that was read, when known.

    """

    id: str
    background: Plane = field(default_factory=Plane)
    generation: int | None = None


@dataclass(frozen=True)
class MosaicLayout:
    """Where each image HDU's pixels lie in the file.

    Attributes
    ----------
    shape
        The grid's ``(ny, nx)``.
    data_offsets
        Byte offset of each plane's first pixel, by plane name.
    end
        Byte offset of the end of the image HDUs (where the table goes).

    """

    shape: tuple[int, int]
    data_offsets: Mapping[PlaneName, int]
    end: int

    def row_range(self, plane: PlaneName, y0: int, y1: int) -> tuple[int, int]:
        """Return the byte range ``[start, stop)`` of rows ``y0`` to ``y1`` of a plane."""
        row = self.shape[1] * abs(_BITPIX[plane]) // 8
        start = self.data_offsets[plane]
        return start + y0 * row, start + y1 * row


def _plane_header(grid: OutputGrid, plane: PlaneName, *, primary: bool) -> fits.Header:
    header = fits.Header()
    if primary:
        header["SIMPLE"] = True
    else:
        header["XTENSION"] = "IMAGE"
    header["BITPIX"] = _BITPIX[plane]
    header["NAXIS"] = 2
    header["NAXIS1"] = grid.shape[1]
    header["NAXIS2"] = grid.shape[0]
    if primary:
        header["EXTEND"] = True
    else:
        header["PCOUNT"] = 0
        header["GCOUNT"] = 1
        header["EXTNAME"] = plane
    header.extend(grid.wcs.to_header(relax=True), unique=True)
    return header


class MosaicWriter:
    """Writes a mosaic FITS file tile by tile.

    Parameters
    ----------
    path
        The file to create (replaced if it exists).
    grid
        The output grid.
    planes
        The extra planes to write beside the mosaic: ``COVERAGE``, ``COUNT``.
    cards
        Provenance cards for the primary header (``SC_METH`` ...).

    """

    def __init__(
        self,
        path: Path,
        grid: OutputGrid,
        *,
        planes: Sequence[PlaneName] = ("COVERAGE",),
        cards: Mapping[str, str | int | float | bool] | None = None,
    ) -> None:
        names: list[PlaneName] = ["MOSAIC", *(p for p in planes if p != "MOSAIC")]
        for name in names:
            if name not in _BITPIX:
                raise ValueError(f"unknown mosaic plane {name!r}")
        self.path = Path(path)
        self.grid = grid
        offsets: dict[PlaneName, int] = {}
        position = 0
        with self.path.open("wb") as f:
            for k, name in enumerate(names):
                header = _plane_header(grid, name, primary=k == 0)
                if k == 0 and cards:
                    for key, value in cards.items():
                        header[key] = value
                text = header.tostring(padding=True).encode("ascii")
                f.seek(position)
                f.write(text)
                offsets[name] = position + len(text)
                size = grid.shape[0] * grid.shape[1] * abs(_BITPIX[name]) // 8
                position = offsets[name] + _padded(size)
            f.truncate(position)  # the data areas, zero until written
        self.layout = MosaicLayout(shape=grid.shape, data_offsets=offsets, end=position)

    @property
    def planes(self) -> tuple[PlaneName, ...]:
        """The image planes in the file, mosaic first."""
        return tuple(self.layout.data_offsets)

    def write(self, plane: PlaneName, box: PixelBox, values: npt.NDArray[np.generic]) -> None:
        """Write one tile's values of a plane.

        Parameters
        ----------
        plane
            ``MOSAIC``, or an extra plane the file was created with.
        box
            The tile's pixels in the grid.
        values
            Array of ``box.shape``; NaN stays NaN (float planes).

        Raises
        ------
        ValueError
            If the plane is not in the file, ``values`` is not the box's
            shape or the box is not on the grid.

        """
        if plane not in self.layout.data_offsets:
            raise ValueError(f"the file has no {plane} plane")
        if values.shape != box.shape:
            raise ValueError(f"values of shape {values.shape} for a box of shape {box.shape}")
        ny, nx = self.grid.shape
        if not (0 <= box.x0 <= box.x1 <= nx and 0 <= box.y0 <= box.y1 <= ny):
            raise ValueError(f"{box} is not on the {nx}x{ny} grid")
        stored = np.ascontiguousarray(values, dtype=_DTYPE[plane])
        item = stored.itemsize
        start = self.layout.data_offsets[plane]
        with self.path.open("r+b") as f:
            if box.x0 == 0 and box.x1 == nx:  # whole rows: one write
                f.seek(start + box.y0 * nx * item)
                f.write(stored.tobytes())
                return
            for row, y in enumerate(range(box.y0, box.y1)):
                f.seek(start + (y * nx + box.x0) * item)
                f.write(stored[row].tobytes())

    def finish(self, inputs: Sequence[InputRecord]) -> None:
        """Append the provenance table; the file is complete after this."""
        with fits.open(self.path, mode="append") as hdul:
            hdul.append(_provenance_table(inputs))


def _plane_names(planes: Sequence[PlaneName]) -> list[PlaneName]:
    names: list[PlaneName] = ["MOSAIC", *(p for p in planes if p != "MOSAIC")]
    for name in names:
        if name not in _BITPIX:
            raise ValueError(f"unknown mosaic plane {name!r}")
    return names


def _provenance_table(inputs: Sequence[InputRecord]) -> fits.BinTableHDU:
    """Return the ``PROVENANCE`` table of the inputs."""
    columns = [
        fits.Column(name="ID", format=f"{max((len(i.id) for i in inputs), default=1)}A",
                    array=np.array([i.id for i in inputs], dtype=str)),
        fits.Column(name="GENERATION", format="K", null=-1,
                    array=np.array([-1 if i.generation is None else i.generation
                                    for i in inputs], dtype=np.int64)),
        fits.Column(name="BG_A", format="D", array=[i.background.a for i in inputs]),
        fits.Column(name="BG_B", format="D", array=[i.background.b for i in inputs]),
        fits.Column(name="BG_C", format="D", array=[i.background.c for i in inputs]),
    ]  # fmt: skip
    table = fits.BinTableHDU.from_columns(columns, name="PROVENANCE")
    table.header["COMMENT"] = "background subtracted from each input: BG_A x + BG_B y + BG_C"
    return table


@dataclass(frozen=True)
class MosaicFile:
    """The bytes of a mosaic FITS file between its planes' pixels.

    The file is ``joints[0]``, the ``MOSAIC`` plane's pixels, ``joints[1]``,
    the next plane's pixels, ..., ``joints[-1]``: each joint is the padding
    that ends the previous plane's data (none before the first) and the next
    plane's header, and the last is the last plane's padding and the
    ``PROVENANCE`` table.

    Attributes
    ----------
    grid
        The output grid.
    planes
        The image planes, mosaic first.
    cards
        Provenance cards of the primary header.
    inputs
        The inputs, for the ``PROVENANCE`` table.

    """

    grid: OutputGrid
    planes: tuple[PlaneName, ...]
    cards: Mapping[str, str | int | float | bool]
    inputs: tuple[InputRecord, ...]

    @classmethod
    def of(
        cls,
        grid: OutputGrid,
        *,
        planes: Sequence[PlaneName] = ("COVERAGE",),
        cards: Mapping[str, str | int | float | bool] | None = None,
        inputs: Sequence[InputRecord] = (),
    ) -> MosaicFile:
        """Return the file of ``grid`` with ``planes`` beside the mosaic (as `MosaicWriter`)."""
        return cls(grid, tuple(_plane_names(planes)), dict(cards or {}), tuple(inputs))

    def _padding(self, plane: PlaneName) -> bytes:
        size = self.grid.shape[0] * self.grid.shape[1] * abs(_BITPIX[plane]) // 8
        return bytes(_padded(size) - size)

    def joints(self) -> list[bytes]:
        """Return the ``len(planes) + 1`` pieces around the planes' pixels, in file order."""
        pieces = []
        before = b""
        for k, name in enumerate(self.planes):
            header = _plane_header(self.grid, name, primary=k == 0)
            if k == 0:
                for key, value in self.cards.items():
                    header[key] = value
            pieces.append(before + header.tostring(padding=True).encode("ascii"))
            before = self._padding(name)
        # the table's HDU as astropy writes it after a primary HDU of one block
        primary = fits.PrimaryHDU()
        skip = len(primary.header.tostring(padding=True))
        buffer = io.BytesIO()
        fits.HDUList([primary, _provenance_table(self.inputs)]).writeto(buffer)
        pieces.append(before + buffer.getvalue()[skip:])
        return pieces


def band_bytes(plane: PlaneName, band: npt.NDArray[np.generic], *, width: int) -> bytes:
    """Return a band of whole rows of ``plane`` as the file stores it (big-endian).

    Raises
    ------
    ValueError
        If the band is not ``(rows, width)``.

    """
    if band.ndim != 2 or band.shape[1] != width:
        raise ValueError(f"a band of shape {band.shape} is not {width} pixels wide")
    return np.ascontiguousarray(band, dtype=_DTYPE[plane]).tobytes()


def stream_mosaic(
    out: BinaryIO,
    grid: OutputGrid,
    bands: Callable[[PlaneName], Iterable[npt.NDArray[np.generic]]],
    *,
    planes: Sequence[PlaneName] = ("COVERAGE",),
    cards: Mapping[str, str | int | float | bool] | None = None,
    inputs: Sequence[InputRecord] = (),
) -> int:
    """Write `MosaicWriter`'s file to a stream, band by band; return the bytes written.

    Parameters
    ----------
    out
        Where the file goes (written in order; never sought).
    grid
        The output grid.
    bands
        ``bands(plane)`` yields the plane's values in bands of whole rows
        (arrays of ``(rows, nx)``), from row 0 up, covering the grid once.
    planes, cards
        As for `MosaicWriter`.
    inputs
        The inputs, for the ``PROVENANCE`` table.

    Raises
    ------
    ValueError
        If the bands do not have the grid's width or do not cover its rows exactly.

    """
    ny, nx = grid.shape
    file = MosaicFile.of(grid, planes=planes, cards=cards, inputs=inputs)
    joints = file.joints()
    written = 0
    for name, joint in zip(file.planes, joints, strict=False):
        written += out.write(joint)
        rows = 0
        for band in bands(name):
            if band.ndim != 2 or band.shape[1] != nx or rows + band.shape[0] > ny:
                raise ValueError(f"a band of shape {band.shape} does not fit the {nx}x{ny} grid")
            written += out.write(band_bytes(name, band, width=nx))
            rows += band.shape[0]
        if rows != ny:
            raise ValueError(f"the bands of {name} hold {rows} rows of {ny}")
    written += out.write(joints[-1])
    return written
