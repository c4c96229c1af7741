"""Which HDUs a cutout cuts and which pixels of each, decided before any pixel is read.

Planning a cutout reads headers only (and only those the caller's index
lacks): it picks the image HDU, plans its region (:mod:`skycut.cutout.region`),
adds the HDUs the ``DETAIL`` level asks for and checks the pixel limit. The
engine then reads what the plan says; a caller cutting many selections out
of one file can first plan them all and fetch their pixels together
(:mod:`skycut.cutout.prefetch`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from astropy.io import fits

from skycut.cutout.fitsindex import FitsIndex, HduInfo, named_image, scan_fits
from skycut.cutout.hdus import find_hdu, image_hdus, scan_on, select_image
from skycut.cutout.pixels import image_header
from skycut.cutout.planes import Held, needed_parts, pixels_in, scan_with_planes, used
from skycut.cutout.reader import RangeReader
from skycut.cutout.readplan import ReadCost
from skycut.cutout.region import Region, cached_header_wcs, plan_region
from skycut.cutout.selection import FITS, Detail, ResponseFormat, Selection
from skycut.errors import NoOverlapError, UnsupportedSourceError, UsageError

__all__ = ["CutPlan", "PlannedHdu", "plan_cut"]


@dataclass(frozen=True)
class PlannedHdu:
    """One source HDU a cutout will cut.

    Attributes
    ----------
    hdu
        The HDU, from the file's index.
    header
        Its header as an uncompressed image HDU carries it (a copy).
    region
        The pixels to cut.

    """

    hdu: HduInfo
    header: fits.Header
    region: Region


@dataclass(frozen=True)
class CutPlan:
    """Every HDU region one cutout needs, image first then in file order.

    Attributes
    ----------
    index
        The file's index as planning left it: the caller's, or one scanned
        further for the ``DETAIL`` level (pass it on to later cuts).
    hdus
        The HDUs to cut; never empty.
    held
        Pixel bytes read while planning (``(offset, uint8 array)`` runs), each
        covering whole requests the engine's reads of ``hdus`` will make under
        the ``cost`` planning was given: a first-touch ``DETAIL`` cut reads
        them with the headers (:mod:`skycut.cutout.planes`). Empty otherwise.

    """

    index: FitsIndex
    hdus: tuple[PlannedHdu, ...]
    held: Held = field(default=(), compare=False, repr=False)

    @property
    def image(self) -> PlannedHdu:
        """The image HDU's plan."""
        return self.hdus[0]

    @property
    def pixels(self) -> int:
        """Pixels the cutout holds, summed over its HDUs, and those read ahead for it.

        The bytes read while planning (``held``) stay in memory until the cut
        ends, so a worker's pixel budget counts them too, as pixels of the
        image's size; ``max_pixels`` limits the regions only (`region_pixels`).
        """
        held = sum(data.size for _, data in self.held)
        return self.region_pixels + pixels_in(held, self.image.header)

    @property
    def region_pixels(self) -> int:
        """Pixels of the regions cut, summed over the HDUs."""
        return sum(math.prod(p.region.shape) for p in self.hdus)


def plan_cut(
    reader: RangeReader,
    selection: Selection,
    *,
    source_id: str,
    index: FitsIndex | None = None,
    detail: Detail = "image",
    response_format: ResponseFormat = FITS,
    max_pixels: int | None = None,
    chunk_size: int = 65536,
    cost: ReadCost | None = None,
    reserve: Callable[[int], None] | None = None,
) -> CutPlan:
    """Decide which pixels of which HDUs a cutout takes, reading headers only.

    Parameters are those of :func:`skycut.cutout.engine.cut`, which calls
    this first. Given the ``cost`` the pixels will be read under, a
    ``DETAIL=image,mask,variance`` plan that must read the headers after the
    image also reads, meanwhile, the pixels of the image and of the planes
    guessed to follow it (``held``): one round trip fewer when the guess holds.
    ``reserve``, if given, is called before that read with the most
    pixels the plan will then hold (`CutPlan.pixels` if the guess is right):
    a worker holds them from its pixel budget.

    Returns
    -------
    CutPlan
        The HDU regions, and the index as far as it was scanned.

    Raises
    ------
    skycut.errors.NoOverlapError
        If the selection keeps no pixel of the image.
    skycut.errors.UsageError
        If a preview is asked for with a ``detail`` other than ``image``, or
        the cutout would hold more than ``max_pixels`` pixels.
    skycut.errors.UnsupportedSourceError
        If the file has no image HDU, its WCS cannot serve the selection,
        or its headers are truncated.

    """
    if response_format != FITS and detail != "image":
        raise UsageError(f"DETAIL={detail} needs FITS output; a preview shows the image only")
    if index is None:
        index = scan_fits(reader, stop_after=named_image, chunk_size=chunk_size)
    image = select_image(index)
    if image is None and not index.complete:
        index = scan_on(reader, index, chunk_size=chunk_size)
        image = select_image(index)
    if image is None:
        raise UnsupportedSourceError(f"{source_id} has no image HDU")
    inherited = [index.hdus[0].header] if image.index != 0 else []
    header = image_header(image)
    region = plan_region(
        header,
        selection,
        source=source_id,
        inherited=inherited,
        wcs=cached_header_wcs(image, header, source=source_id),
    )
    planned = [PlannedHdu(image, header, region)]
    held: Held = ()
    if detail != "image":
        index, held = _index_for(
            reader, index, detail=detail, chunk_size=chunk_size, image=planned[0], cost=cost,
            max_pixels=max_pixels, reserve=reserve,
        )  # fmt: skip
        planned += _more_hdus(index, planned[0], selection, detail=detail, source=source_id)
    plan = CutPlan(index=index, hdus=tuple(planned))
    if max_pixels is not None and plan.region_pixels > max_pixels:
        raise UsageError(
            f"the cutout would hold {plan.region_pixels} pixels, over this service's limit of "
            f"{max_pixels}; ask for a smaller region"
        )
    if held and cost is not None:
        share = cost.shared(len(plan.hdus))
        needed = [
            part
            for p in plan.hdus
            if not p.hdu.is_compressed
            for part in needed_parts(p.hdu, p.region.slices, share)
        ]
        plan = CutPlan(index=index, hdus=plan.hdus, held=used(held, needed))
    return plan


_GUESSES = 2
"""Headers read ahead, on a guess, when every HDU is wanted: an exposure's other planes."""


def _index_for(
    reader: RangeReader,
    index: FitsIndex,
    *,
    detail: Detail,
    chunk_size: int,
    image: PlannedHdu,
    cost: ReadCost | None,
    max_pixels: int | None,
    reserve: Callable[[int], None] | None,
) -> tuple[FitsIndex, Held]:
    """Scan on as far as the detail level needs: to MASK and VARIANCE, or to the end.

    Returns the index and the pixel bytes read on a guess meanwhile (see `plan_cut`).
    """
    if index.complete:
        return index, ()
    if detail == "all":
        return scan_on(reader, index, chunk_size=chunk_size, guesses=_GUESSES), ()
    wanted = _planes_wanted(index)
    if not wanted:
        return index, ()
    planes = len(wanted)  # MASK then VARIANCE, read together if laid out as IMAGE

    def found_all(hdu: HduInfo) -> bool:
        wanted.discard((hdu.extname or "").upper())
        return not wanted

    pixels = math.prod(image.region.shape) * (1 + planes)
    if (
        cost is None
        or image.hdu.is_compressed
        or image.hdu is not index.hdus[-1]
        or (max_pixels is not None and pixels > max_pixels)  # refused before reading pixels
    ):
        guesses = planes - 1
        return scan_on(
            reader, index, stop_after=found_all, chunk_size=chunk_size, guesses=guesses
        ), ()  # fmt: skip
    return scan_with_planes(
        reader, index, image.hdu, image.region.slices, planes=planes,
        cost=cost.shared(1 + planes), stop_after=found_all, chunk_size=chunk_size,
        reserve=reserve,
    )  # fmt: skip


def _planes_wanted(index: FitsIndex) -> set[str]:
    """Return the names of an exposure's planes whose headers ``index`` lacks."""
    return {"MASK", "VARIANCE"} - {(h.extname or "").upper() for h in index.hdus}


def _shape(header: fits.Header) -> tuple[int, ...]:
    """Return an image header's data shape, numpy order."""
    naxis = int(header.get("NAXIS", 0))
    return tuple(int(header[f"NAXIS{naxis - i}"]) for i in range(naxis))


def _more_hdus(
    index: FitsIndex,
    image: PlannedHdu,
    selection: Selection,
    *,
    detail: Detail,
    source: str,
) -> list[PlannedHdu]:
    """List the HDUs that follow the image at this detail level, with their regions."""
    if detail == "image,mask,variance":
        named = (find_hdu(index, name) for name in ("MASK", "VARIANCE"))
        candidates = [h for h in named if h is not None and h.index != image.hdu.index]
    else:
        candidates = [h for h in image_hdus(index) if h.index != image.hdu.index]
    out = []
    for hdu in sorted(candidates, key=lambda h: h.index):
        header = image_header(hdu)
        if detail != "all" and _shape(header) == _shape(image.header):
            out.append(PlannedHdu(hdu, header, image.region))  # the image's planes: same pixels
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
            out.append(PlannedHdu(hdu, header, own))
    return out
