"""Cut a selection out of a FITS file, reading only the pixels it needs.

The engine is pure: bytes come from a :class:`RangeReader`, FITS (or a PNG
or JPEG preview) goes out. It reads the headers (unless the caller has
them), plans which pixels each HDU gives (:mod:`skycut.cutout.cutplan`
with :mod:`skycut.cutout.region`), reads them through
:func:`skycut.cutout.pixels.read_pixels`, optionally blanks the pixels
outside the stencil (:mod:`skycut.cutout.mask`) and writes them untouched
(:mod:`skycut.cutout.output`), after a primary header with the provenance
(:mod:`skycut.cutout.provenance`).

The image cut is the HDU named ``IMAGE`` if there is one, else the first
image HDU of two or more axes. With ``detail="image,mask,variance"`` the
HDUs named ``MASK`` and ``VARIANCE`` follow, cut to the same pixels when they
have the image's shape; with ``detail="all"`` every image HDU with a
celestial WCS that overlaps the stencil does, each cut by its own WCS. HDUs
that cannot be cut are left out; the primary header lists those that were.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from skycut.cutout.cutplan import CutPlan, PlannedHdu, plan_cut
from skycut.cutout.fitsindex import FitsIndex, HduInfo
from skycut.cutout.geometry import PixelBox, pixels_inside
from skycut.cutout.mask import mask_outside as blank_outside
from skycut.cutout.output import extension_parts, stored_array
from skycut.cutout.pixels import read_pixels
from skycut.cutout.prefetch import PrefetchedReader
from skycut.cutout.preview import physical_values, render_preview
from skycut.cutout.provenance import primary_header, provenance_items
from skycut.cutout.reader import CountingReader, RangeReader, ReadStats
from skycut.cutout.readplan import ReadCost
from skycut.cutout.selection import FITS, JPEG, Detail, ResponseFormat, Selection
from skycut.cutout.stencil import Circle
from skycut.cutout.tiles import TileTable

__all__ = ["CutHdu", "Cutout", "cut", "cut_circle"]

_EXTENSIONS = {FITS: ".fits", JPEG: ".jpg"}


@dataclass(frozen=True)
class CutHdu:
    """One source HDU in a cutout.

    Attributes
    ----------
    name
        Its ``EXTNAME``, or ``PRIMARY`` / ``HDU<n>``.
    index
        Its number in the source file, 0 for the primary.
    region
        The source pixels cut, one slice per axis, numpy order.

    """

    name: str
    index: int
    region: tuple[slice, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        """The cut's shape, numpy order."""
        return tuple(s.stop - s.start for s in self.region)


@dataclass(frozen=True)
class Cutout:
    """A cutout, encoded, and how it was made.

    Attributes
    ----------
    content
        The file: FITS (a primary HDU with provenance cards, then one image
        extension per HDU cut) or a PNG or JPEG preview.
    content_type
        Its media type.
    box
        The image HDU's celestial pixels cut, 0-based, stops exclusive, or
        `None` if it has no celestial axes.
    hdus
        Every HDU cut, image first then in file order.
    index
        The file's index as the engine left it: the caller's, or one scanned
        further (cache it in place of the caller's).
    read_requests
        Range requests this cut made, if they were counted.
    read_bytes
        Bytes this cut read, if they were counted.

    """

    content: bytes
    content_type: ResponseFormat
    box: PixelBox | None
    hdus: tuple[CutHdu, ...]
    index: FitsIndex
    read_requests: int | None = None
    read_bytes: int | None = None

    @property
    def hdu_name(self) -> str:
        """The image HDU's name."""
        return self.hdus[0].name

    @property
    def shape(self) -> tuple[int, ...]:
        """The image cut's shape, numpy order."""
        return self.hdus[0].shape

    @property
    def extension(self) -> str:
        """A file name extension for the content: ``.fits``, ``.png`` or ``.jpg``."""
        return _EXTENSIONS.get(self.content_type, ".png")

    @property
    def fits_bytes(self) -> bytes:
        """The content of a FITS cutout (`cut_circle`'s former attribute)."""
        return self.content


def cut(
    reader: RangeReader,
    selection: Selection,
    *,
    source_id: str,
    source_generation: int | None = None,
    index: FitsIndex | None = None,
    stats: ReadStats | None = None,
    detail: Detail = "image",
    mask_outside: bool = False,
    response_format: ResponseFormat = FITS,
    cost: ReadCost | None = None,
    chunk_size: int = 65536,
    tile_tables: Callable[[HduInfo], TileTable] | None = None,
    max_pixels: int | None = None,
    plan: CutPlan | None = None,
) -> Cutout:
    """Cut a selection out of a FITS file.

    Parameters
    ----------
    reader
        The source file's bytes.
    selection
        The stencil and the BAND, TIME and POL filters.
    source_id
        The source's public identifier, for provenance and error messages.
    source_generation
        The version of the object ``reader`` reads (it must read no other),
        for provenance (``SC_GEN``).
    index
        The file's HDU index from `scan_fits`, if the caller has it cached;
        scanned (up to the HDU named ``IMAGE``) otherwise, and scanned
        further if ``detail`` needs HDUs beyond it.
    stats
        Counters of the reader's requests; taken from ``reader`` if it is a
        `CountingReader`.
    detail
        Which HDUs to cut: ``image``, ``image,mask,variance`` or ``all``.
    mask_outside
        Blank the pixels whose centres are outside the stencil (NaN, a mask
        bit or ``BLANK``; see :mod:`skycut.cutout.mask`).
    response_format
        ``application/fits``, or ``image/png`` / ``image/jpeg`` for a
        preview of the image plane.
    cost
        The network the reads are planned for (see `read_pixels`);
        `skycut.cutout.prefetch.MEMORY_COST` through a `PrefetchedReader`.
    max_pixels
        Refuse (``UsageError``) a cutout of more pixels than this, summed
        over its HDUs, before reading any of them.
    tile_tables
        Gives the descriptor table of a tile-compressed HDU, so a caller can
        cache it beside the header; read for each cutout otherwise.
    chunk_size
        Bytes per header read when scanning.
    plan
        The cutout's `plan_cut` for this selection, ``detail``,
        ``response_format`` and ``max_pixels``, if the caller made it
        already (e.g. to prefetch); made here otherwise.

    Returns
    -------
    Cutout
        The encoded cutout and what it holds. ``read_requests`` and
        ``read_bytes`` count this call's reads only.

    Raises
    ------
    skycut.errors.NoOverlapError
        If the selection keeps no pixel of the image.
    skycut.errors.UsageError
        If a preview is asked for with a ``detail`` other than ``image``, or
        the cutout would hold more than ``max_pixels`` pixels.
    skycut.errors.UnsupportedSourceError
        If the file has no image HDU, its WCS cannot serve the selection,
        or it is truncated.

    """
    if stats is None and isinstance(reader, CountingReader):
        stats = reader.stats
    before = (stats.requests, stats.bytes) if stats is not None else (0, 0)
    if plan is None:
        plan = plan_cut(
            reader,
            selection,
            source_id=source_id,
            index=index,
            detail=detail,
            response_format=response_format,
            max_pixels=max_pixels,
            chunk_size=chunk_size,
            cost=cost or ReadCost(),
        )
    if plan.held:  # pixels read with the headers: served from memory, the rest as planned
        reader = PrefetchedReader(reader, plan.held)
    network = cost or ReadCost()
    together = min(len(plan.hdus), network.max_concurrency)
    if together > 1:
        # each HDU's reads are their own round trips: wait for them together, not in turn,
        # sharing the cut's requests in flight (connections) between them
        share = network.shared(together)
        read = partial(
            _read_part, reader, selection=selection, mask_outside=mask_outside, cost=share,
            tiles=tile_tables,
        )  # fmt: skip
        with ThreadPoolExecutor(max_workers=together) as pool:
            parts = list(pool.map(read, plan.hdus))
    else:
        read = partial(
            _read_part, reader, selection=selection, mask_outside=mask_outside, cost=cost,
            tiles=tile_tables,
        )  # fmt: skip
        parts = [read(planned) for planned in plan.hdus]
    if response_format == FITS:
        primary = primary_header(
            plan.index, plan.image.hdu, [p.hdu for p, _, _ in parts], selection,
            source_id=source_id, detail=detail, mask_outside=mask_outside,
            source_generation=source_generation,
        )  # fmt: skip
        # one copy of the pixels, into the file itself
        content = b"".join(
            [
                primary,
                *(part for p, h, d in parts for part in extension_parts(
                    h, d, p.region.start, note=_note(p)
                )),
            ]
        )  # fmt: skip
    else:
        items = provenance_items(
            selection,
            source_id=source_id,
            detail=detail,
            mask_outside=mask_outside,
            source_generation=source_generation,
        )
        content = _preview(parts[0], items, response_format=response_format)
    after = (stats.requests, stats.bytes) if stats is not None else (0, 0)
    return Cutout(
        content=content,
        content_type=response_format,
        box=plan.image.region.box,
        hdus=tuple(CutHdu(p.hdu.name, p.hdu.index, p.region.slices) for p, _, _ in parts),
        index=plan.index,
        read_requests=after[0] - before[0] if stats is not None else None,
        read_bytes=after[1] - before[1] if stats is not None else None,
    )


def cut_circle(
    reader: RangeReader,
    circle: Circle,
    *,
    source_id: str,
    index: FitsIndex | None = None,
    stats: ReadStats | None = None,
) -> Cutout:
    """Cut the pixels a circle covers out of a FITS image (`cut` with a circle only)."""
    return cut(reader, Selection(stencil=circle), source_id=source_id, index=index, stats=stats)


def _read_part(
    reader: RangeReader,
    planned: PlannedHdu,
    selection: Selection,
    *,
    mask_outside: bool,
    cost: ReadCost | None,
    tiles: Callable[[HduInfo], TileTable] | None,
) -> tuple[PlannedHdu, fits.Header, npt.NDArray[np.generic]]:
    """Read one planned HDU's pixels; return them as stored, with their output header."""
    hdu, region = planned.hdu, planned.region
    table = tiles(hdu) if tiles is not None and hdu.is_compressed else None
    values = read_pixels(reader, hdu, region.slices, cost=cost, tiles=table)
    data, out_header = stored_array(values, planned.header)
    box, stencil = region.box, selection.stencil
    if mask_outside and stencil is not None and box is not None and region.sky_wcs:
        inside = pixels_inside(region.sky_wcs, box, stencil)
        out_header = out_header.copy()  # blanking declares its value in it; it may be shared
        data = blank_outside(data, out_header, inside, region.celestial or (0, 1))
    return planned, out_header, data


def _preview(
    image: tuple[PlannedHdu, fits.Header, npt.NDArray[np.generic]],
    items: list[tuple[str, str | int | bool, str]],
    *,
    response_format: ResponseFormat,
) -> bytes:
    """Render the image cut as a PNG or JPEG, with the provenance as text chunks."""
    planned, out_header, data = image
    return render_preview(
        physical_values(data, out_header),
        planned.region.celestial or (data.ndim - 2, data.ndim - 1),
        response_format=response_format,
        text={key: str(value) for key, value, _ in items},
    )


def _note(planned: PlannedHdu) -> str:
    hdu = planned.hdu
    where = ", ".join(f"{s.start}:{s.stop}" for s in planned.region.slices)
    return f"Cut from numpy slice [{where}] of HDU {hdu.name} (number {hdu.index})"
