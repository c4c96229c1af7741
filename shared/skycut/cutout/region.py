"""Which pixels of an image HDU a selection keeps, on every axis.

The celestial axes are cut to the stencil's pixel box
(:mod:`skycut.cutout.geometry`), the spectral, time and Stokes axes to the
BAND, TIME and POL filters (:mod:`skycut.cutout.axes`); other axes are kept
whole. The result is one slice per data axis, what
:func:`skycut.cutout.pixels.read_pixels` reads.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from skycut.cutout.axes import exposure_mjd, select_axis
from skycut.cutout.geometry import PixelBox, stencil_pixel_box
from skycut.cutout.selection import Selection
from skycut.errors import NoOverlapError, UnsupportedSourceError

__all__ = ["Region", "cached_header_wcs", "header_wcs", "plan_region"]


@dataclass(frozen=True)
class Region:
    """The pixels of one HDU to cut.

    Attributes
    ----------
    slices
        One ``slice(start, stop)`` per data axis, numpy order (slowest first).
    box
        The cut of the celestial axes, or `None` if the HDU has none.
    celestial
        The numpy axes ``(y, x)`` of `box`, or `None`.
    sky_wcs
        The HDU's 2-D celestial WCS (for masking), or `None`.

    """

    slices: tuple[slice, ...]
    box: PixelBox | None
    celestial: tuple[int, int] | None
    sky_wcs: WCS | None

    @property
    def shape(self) -> tuple[int, ...]:
        """The cut's shape, numpy order."""
        return tuple(s.stop - s.start for s in self.slices)

    @property
    def start(self) -> tuple[int, ...]:
        """The first pixel of the cut on each data axis, FITS order (for CRPIX)."""
        return tuple(s.start for s in reversed(self.slices))


_local = threading.local()
_CACHED_WCS = 64


def cached_header_wcs(key: object, header: fits.Header, *, source: str) -> WCS:
    """Return :func:`header_wcs` of ``header``, built once per ``key`` and thread.

    ``key`` must stay alive as long as it may be used (e.g. a cached HDU
    index entry): its ``id`` is the cache key, and the entry holds it. WCS
    objects are not shared between threads, as wcslib's are not thread-safe.
    """
    cache: OrderedDict[int, tuple[object, WCS]] | None = getattr(_local, "wcs", None)
    if cache is None:
        cache = _local.wcs = OrderedDict()
    hit = cache.get(id(key))
    if hit is not None and hit[0] is key:
        cache.move_to_end(id(key))
        return hit[1]
    wcs = header_wcs(header, source=source)
    cache[id(key)] = (key, wcs)
    while len(cache) > _CACHED_WCS:
        cache.popitem(last=False)
    return wcs


def header_wcs(header: fits.Header, *, source: str) -> WCS:
    """Return the full WCS of an image header.

    Raises
    ------
    skycut.errors.UnsupportedSourceError
        If astropy cannot build a WCS from it.

    """
    try:
        with warnings.catch_warnings():
            # wcslib's notes on non-standard cards it fixes are not the user's concern.
            warnings.simplefilter("ignore", FITSFixedWarning)
            return WCS(header)
    except (ValueError, KeyError, MemoryError) as e:
        raise UnsupportedSourceError(f"{source}: unusable WCS: {e}") from e


# The sky axes of a WCS, found once per WCS object (cached per HDU): astropy builds
# a sub-WCS to answer `has_celestial`, which costs milliseconds.
_SKY_AXES: weakref.WeakKeyDictionary[WCS, tuple[int, tuple[int, int] | None]] = (
    weakref.WeakKeyDictionary()
)


def _sky_axes(wcs: WCS, naxis: int, source: str) -> tuple[int, int] | None:
    """Return the two pixel axes (FITS order, 0-based) of the sky plane, or `None`."""
    known = _SKY_AXES.get(wcs)
    if known is not None and known[0] == naxis:
        return known[1]
    axes = _find_sky_axes(wcs, naxis, source)
    _SKY_AXES[wcs] = (naxis, axes)
    return axes


def _find_sky_axes(wcs: WCS, naxis: int, source: str) -> tuple[int, int] | None:
    if not wcs.has_celestial:
        return None
    i, j = sorted((wcs.wcs.lng, wcs.wcs.lat))
    if j >= naxis:
        return None
    matrix = wcs.axis_correlation_matrix
    for axis in (i, j):
        pixels = {int(p) for p in matrix[axis].nonzero()[0]}
        worlds = {int(w) for w in matrix[:, axis].nonzero()[0]}
        if not pixels <= {i, j} or not worlds <= {i, j}:
            raise UnsupportedSourceError(
                f"{source}: the celestial axes are mixed with other axes by the PC/CD matrix"
            )
    return i, j


def plan_region(
    header: fits.Header,
    selection: Selection,
    *,
    source: str,
    inherited: Sequence[fits.Header] = (),
    wcs: WCS | None = None,
) -> Region:
    """Find the pixels of an image HDU that a selection keeps.

    Parameters
    ----------
    header
        The image HDU's header as an uncompressed image would carry it.
    selection
        The filters.
    source
        The image's name, for messages.
    inherited
        Headers the HDU inherits (the primary header), searched after
        ``header`` for the exposure time.
    wcs
        The header's WCS, if the caller has it already (building one takes
        milliseconds, a large part of a small cutout's time).

    Returns
    -------
    Region
        The slices to read, non-empty on every axis.

    Raises
    ------
    skycut.errors.NoOverlapError
        If a filter keeps nothing.
    skycut.errors.UnsupportedSourceError
        If a stencil is given but the HDU has no celestial WCS, or an axis
        cannot be related to its filter.

    """
    naxis = int(header.get("NAXIS", 0))
    lengths = [int(header[f"NAXIS{k + 1}"]) for k in range(naxis)]
    if wcs is None:
        wcs = header_wcs(header, source=source)
    sky = _sky_axes(wcs, naxis, source)
    if sky is None and selection.stencil is not None:
        raise UnsupportedSourceError(f"{source} has no 2-D celestial WCS to cut a stencil from")
    starts, stops = [0] * naxis, list(lengths)
    box = sky_wcs = None
    if sky is not None:
        i, j = sky
        sky_wcs = wcs if wcs.naxis == 2 else wcs.sub([i + 1, j + 1])
        box = PixelBox(0, lengths[i], 0, lengths[j])
        if selection.stencil is not None:
            box = stencil_pixel_box(
                sky_wcs, (lengths[j], lengths[i]), selection.stencil, source=source
            )
        starts[i], stops[i], starts[j], stops[j] = box.x0, box.x1, box.y0, box.y1
    has_time_axis = False
    for axis in range(wcs.naxis):
        if sky is not None and axis in sky:
            continue
        length = lengths[axis] if axis < naxis else 1  # WCS axes beyond NAXIS are degenerate
        cut = select_axis(
            wcs, axis, length, band=selection.band, time=selection.time, pol=selection.pol,
            source=source,
        )  # fmt: skip
        has_time_axis |= wcs.world_axis_physical_types[axis] == "time"
        if cut is not None and axis < naxis:
            starts[axis], stops[axis] = cut.start, cut.stop
    if selection.time is not None and not has_time_axis:
        exposure = exposure_mjd([header, *inherited], source=source)
        if exposure is not None and not selection.time.overlaps(*exposure):
            raise NoOverlapError(
                f"no overlap between TIME {selection.time.to_soda()} and {source} "
                f"(exposed from MJD {exposure[0]:.6f} to {exposure[1]:.6f})"
            )
    slices = tuple(slice(starts[k], stops[k]) for k in reversed(range(naxis)))
    celestial = None if sky is None else (naxis - 1 - sky[1], naxis - 1 - sky[0])
    return Region(slices=slices, box=box, celestial=celestial, sky_wcs=sky_wcs)
