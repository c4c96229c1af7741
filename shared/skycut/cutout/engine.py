"""Cut a selection out of a FITS file, reading only the pixels it needs.

The engine is pure: bytes come from a :class:`RangeReader`, FITS (or a PNG
or JPEG preview) goes out. It reads the headers (unless the caller has
them), decides which pixels each HDU gives (:mod:`skycut.cutout.region`),
reads them through :func:`skycut.cutout.pixels.read_pixels`, optionally
blanks the pixels outside the stencil (:mod:`skycut.cutout.mask`) and writes
them untouched (:mod:`skycut.cutout.output`), after a primary header with
the provenance (:mod:`skycut.cutout.provenance`).

The image cut is the HDU named ``IMAGE`` if there is one, else the first
image HDU of two or more axes. With ``detail="image,mask,variance"`` the
HDUs named ``MASK`` and ``VARIANCE`` follow, cut to the same pixels when they
have the image's shape; with ``detail="all"`` every image HDU with a
celestial WCS that overlaps the stencil does, each cut by its own WCS. HDUs
that cannot be cut are left out; the primary header lists those that were.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from astropy.io import fits

from skycut.cutout.fitsindex import FitsIndex, HduInfo, named_image, scan_fits
from skycut.cutout.geometry import PixelBox, pixels_inside
from skycut.cutout.hdus import find_hdu, image_hdus, scan_on, select_image
from skycut.cutout.mask import mask_outside as blank_outside
from skycut.cutout.output import extension_bytes, stored_array
from skycut.cutout.pixels import output_image_header, read_pixels
from skycut.cutout.preview import physical_values, render_preview
from skycut.cutout.provenance import primary_header, provenance_items
from skycut.cutout.reader import CountingReader, RangeReader, ReadStats
from skycut.cutout.readplan import ReadCost
from skycut.cutout.region import Region, cached_header_wcs, plan_region
from skycut.cutout.selection import FITS, JPEG, Detail, ResponseFormat, Selection
from skycut.cutout.stencil import Circle
from skycut.cutout.tiles import TileTable
from skycut.errors import NoOverlapError, UnsupportedSourceError, UsageError

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
    index: FitsIndex | None = None,
    stats: ReadStats | None = None,
    detail: Detail = "image",
    mask_outside: bool = False,
    response_format: ResponseFormat = FITS,
    cost: ReadCost | None = None,
    chunk_size: int = 65536,
    tile_tables: Callable[[HduInfo], TileTable] | None = None,
    max_pixels: int | None = None,
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
        The network the reads are planned for (see `read_pixels`).
    max_pixels
        Refuse (``UsageError``) a cutout of more pixels than this, summed
        over its HDUs, before reading any of them.
    tile_tables
        Gives the descriptor table of a tile-compressed HDU, so a caller can
        cache it beside the header; read for each cutout otherwise.
    chunk_size
        Bytes per header read when scanning.

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
        If a preview is asked for with a ``detail`` other than ``image``.
    skycut.errors.UnsupportedSourceError
        If the file has no image HDU, its WCS cannot serve the selection,
        or it is truncated.

    """
    if response_format != FITS and detail != "image":
        raise UsageError(f"DETAIL={detail} needs FITS output; a preview shows the image only")
    if stats is None and isinstance(reader, CountingReader):
        stats = reader.stats
    before = (stats.requests, stats.bytes) if stats is not None else (0, 0)
    if index is None:
        index = scan_fits(reader, stop_after=named_image, chunk_size=chunk_size)
    image = select_image(index)
    if image is None and not index.complete:
        index = scan_on(reader, index, chunk_size=chunk_size)
        image = select_image(index)
    if image is None:
        raise UnsupportedSourceError(f"{source_id} has no image HDU")
    inherited = [index.hdus[0].header] if image.index != 0 else []
    header = output_image_header(image)
    region = plan_region(
        header,
        selection,
        source=source_id,
        inherited=inherited,
        wcs=cached_header_wcs(image, header, source=source_id),
    )
    plans = [(image, header, region)]
    if detail != "image":
        index = _index_for(reader, index, detail=detail, chunk_size=chunk_size)
        plans += _more_hdus(
            index, image, (header, region), selection, detail=detail, source=source_id
        )
    parts = []
    if max_pixels is not None:
        pixels = sum(math.prod(s.stop - s.start for s in r.slices) for _, _, r in plans)
        if pixels > max_pixels:
            raise UsageError(
                f"the cutout would hold {pixels} pixels, over this service's limit of "
                f"{max_pixels}; ask for a smaller region"
            )
    for hdu, hdu_header, hdu_region in plans:
        tiles = tile_tables(hdu) if tile_tables is not None and hdu.is_compressed else None
        values = read_pixels(reader, hdu, hdu_region.slices, cost=cost, tiles=tiles)
        data, out_header = stored_array(values, hdu_header)
        box, stencil = hdu_region.box, selection.stencil
        if mask_outside and stencil is not None and box is not None and hdu_region.sky_wcs:
            inside = pixels_inside(hdu_region.sky_wcs, box, stencil)
            data = blank_outside(data, out_header, inside, hdu_region.celestial or (0, 1))
        parts.append((hdu, out_header, hdu_region, data))
    hdus = tuple(CutHdu(h.name, h.index, r.slices) for h, _, r, _ in parts)
    if response_format == FITS:
        primary = primary_header(
            index, image, [h for h, *_ in parts], selection,
            source_id=source_id, detail=detail, mask_outside=mask_outside,
        )  # fmt: skip
        content = primary.tostring().encode("ascii") + b"".join(
            extension_bytes(h, d, r.start, note=_note(hdu, r)) for hdu, h, r, d in parts
        )
    else:
        _, out_header, image_region, data = parts[0]
        items = provenance_items(
            selection, source_id=source_id, detail=detail, mask_outside=mask_outside
        )
        content = render_preview(
            physical_values(data, out_header),
            image_region.celestial or (data.ndim - 2, data.ndim - 1),
            response_format=response_format,
            text={key: str(value) for key, value, _ in items},
        )
    after = (stats.requests, stats.bytes) if stats is not None else (0, 0)
    return Cutout(
        content=content,
        content_type=response_format,
        box=region.box,
        hdus=hdus,
        index=index,
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


def _note(hdu: HduInfo, region: Region) -> str:
    where = ", ".join(f"{s.start}:{s.stop}" for s in region.slices)
    return f"Cut from numpy slice [{where}] of HDU {hdu.name} (number {hdu.index})"


def _index_for(
    reader: RangeReader, index: FitsIndex, *, detail: Detail, chunk_size: int
) -> FitsIndex:
    """Scan on as far as the detail level needs: to MASK and VARIANCE, or to the end."""
    if index.complete:
        return index
    if detail == "all":
        return scan_on(reader, index, chunk_size=chunk_size)
    wanted = {"MASK", "VARIANCE"} - {(h.extname or "").upper() for h in index.hdus}
    if not wanted:
        return index

    def found_all(hdu: HduInfo) -> bool:
        wanted.discard((hdu.extname or "").upper())
        return not wanted

    return scan_on(reader, index, stop_after=found_all, chunk_size=chunk_size)


def _shape(header: fits.Header) -> tuple[int, ...]:
    """Return an image header's data shape, numpy order."""
    naxis = int(header.get("NAXIS", 0))
    return tuple(int(header[f"NAXIS{naxis - i}"]) for i in range(naxis))


def _more_hdus(
    index: FitsIndex,
    image: HduInfo,
    image_region: tuple[fits.Header, Region],
    selection: Selection,
    *,
    detail: Detail,
    source: str,
) -> list[tuple[HduInfo, fits.Header, Region]]:
    """List the HDUs that follow the image at this detail level, with their regions."""
    image_header, region = image_region
    if detail == "image,mask,variance":
        named = (find_hdu(index, name) for name in ("MASK", "VARIANCE"))
        candidates = [h for h in named if h is not None and h.index != image.index]
    else:
        candidates = [h for h in image_hdus(index) if h.index != image.index]
    out = []
    for hdu in sorted(candidates, key=lambda h: h.index):
        header = output_image_header(hdu)
        if detail != "all" and _shape(header) == _shape(image_header):
            out.append((hdu, header, region))  # the image's planes: the same pixels
            continue
        try:
            own = plan_region(
                header,
                selection,
                source=f"{source} HDU {hdu.name}",
                inherited=[index.hdus[0].header],
            )
        except (NoOverlapError, UnsupportedSourceError):
            continue  # this HDU has nothing to give; the others still do
        if own.box is not None:
            out.append((hdu, header, own))
    return out
