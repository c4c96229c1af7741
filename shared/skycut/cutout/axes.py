"""BAND, TIME and POL along an image's spectral, time and Stokes axes.

Each filter picks the contiguous pixel range of its axis that it touches:

- spectral axes of any type wcslib knows (WAVE, AWAV, FREQ, ENER, WAVN,
  VRAD, VOPT, ZOPT, ...) are translated to vacuum wavelength in metres with
  wcslib (``sptr``), velocities through the header's rest frequency; the
  spectral reference frame is taken as is (no barycentric correction);
- time axes are read in their ``CUNIT`` (seconds by default) from
  ``MJDREF``/``DATEREF`` in their time scale, and compared in MJD UTC;
- a pixel is kept if its extent (centre ± half a pixel) touches the
  interval, ends included, so ``BAND=x x`` keeps the one pixel holding x;
- Stokes axes keep the planes whose code a ``POL`` value names, and the
  planes between them, so the axis stays linear (``POL=I`` and ``POL=V``
  on an IQUV axis keep all four).

A filter on an axis the image lacks cuts nothing (SODA 1.0 §3.3: a filter
beyond the data is reduced to the data's extent), except ``TIME`` on an
image whose header records its exposure (``MJD-BEG``/``MJD-END``,
``DATE-BEG``/``DATE-END``, or ``MJD-OBS``/``DATE-OBS`` plus ``EXPTIME``,
``XPOSURE`` or ``TELAPSE``): a ``TIME`` missing that exposure has no
overlap. A filter that touches no pixel of its axis has no overlap.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS
from erfa import ErfaWarning

from skycut.cutout.intervals import STOKES_CODES, Interval, PolState
from skycut.cutout.sphere import Array
from skycut.errors import NoOverlapError, UnsupportedSourceError

__all__ = ["AxisKind", "axis_kind", "exposure_mjd", "select_axis"]

AxisKind = Literal["spectral", "time", "stokes", "other"]

# FITS time scales (WCS Paper VII Table 2) astropy knows under another name.
_SCALES = {"TDT": "tt", "ET": "tt", "IAT": "tai", "GMT": "utc", "UT": "utc"}
_DURATIONS = ("EXPTIME", "XPOSURE", "TELAPSE")


def axis_kind(wcs: WCS, axis: int) -> AxisKind:
    """Tell what a WCS axis (0-based, FITS order) measures."""
    if wcs.wcs.spec == axis:
        return "spectral"
    if wcs.wcs.ctype[axis].strip().upper() == "STOKES":
        return "stokes"
    if wcs.world_axis_physical_types[axis] == "time":
        return "time"
    return "other"


def select_axis(
    wcs: WCS,
    axis: int,
    length: int,
    *,
    band: Interval | None,
    time: Interval | None,
    pol: Sequence[PolState],
    source: str,
) -> slice | None:
    """Choose the pixel range of one axis that the filters keep.

    Parameters
    ----------
    wcs
        The image's full WCS.
    axis
        The axis, 0-based in FITS order.
    length
        Its number of pixels (1 for a WCS axis beyond ``NAXIS``).
    band, time, pol
        The filters; only the one matching the axis's kind applies.
    source
        The image's name, for messages.

    Returns
    -------
    slice or None
        The pixels kept, or `None` if no filter applies to this axis.

    Raises
    ------
    skycut.errors.NoOverlapError
        If the filter keeps no pixel of the axis.
    skycut.errors.UnsupportedSourceError
        If the axis's coordinates cannot be compared with the filter.

    """
    kind = axis_kind(wcs, axis)
    if kind == "stokes" and pol:
        _check_separable(wcs, axis, source)
        return _select_stokes(wcs, axis, length, pol, source)
    interval = band if kind == "spectral" else time if kind == "time" else None
    if interval is None:
        return None
    _check_separable(wcs, axis, source)
    edges = (
        _spectral_edges(wcs, axis, length, source)
        if kind == "spectral"
        else (_time_edges(wcs, axis, length, source))
    )
    lo, hi = np.minimum(edges[:-1], edges[1:]), np.maximum(edges[:-1], edges[1:])
    with np.errstate(invalid="ignore"):
        kept = np.flatnonzero((hi >= interval.lo) & (lo <= interval.hi))
    if kept.size == 0:
        name, unit = ("BAND", "m") if kind == "spectral" else ("TIME", "MJD")
        raise NoOverlapError(
            f"no overlap between {name} {interval.to_soda()} and {source} "
            f"(its {kind} axis covers {np.nanmin(edges):.8g} to {np.nanmax(edges):.8g} {unit})"
        )
    return slice(int(kept[0]), int(kept[-1]) + 1)


def _check_separable(wcs: WCS, axis: int, source: str) -> None:
    matrix = wcs.axis_correlation_matrix
    if matrix[axis].sum() != 1 or matrix[:, axis].sum() != 1:
        raise UnsupportedSourceError(
            f"{source}: WCS axis {axis + 1} ({wcs.wcs.ctype[axis]}) is mixed with other axes "
            "by its PC/CD matrix, so it cannot be cut on its own"
        )


def _pixels(wcs: WCS, axis: int, values: Array) -> list[Array]:
    """Pixel coordinates along ``axis``, the reference pixel on every other axis."""
    pixels = [np.full(values.shape, wcs.wcs.crpix[i] - 1.0) for i in range(wcs.naxis)]
    pixels[axis] = values
    return pixels


def _spectral_edges(wcs: WCS, axis: int, length: int, source: str) -> Array:
    """Vacuum wavelength (m) at the pixel edges ``-0.5 ... length - 0.5``."""
    wave = wcs.deepcopy()
    ctype = wcs.wcs.ctype[axis]
    try:
        wave.wcs.sptr("WAVE-???", axis)
    except ValueError as e:
        # wcslib cannot translate logarithmic or tabular axes; wavelength ones need not be.
        if not ctype.startswith("WAVE"):
            reason = str(e).strip().splitlines()[-1]
            raise UnsupportedSourceError(
                f"{source}: spectral axis {ctype} cannot be converted to wavelength: {reason}"
            ) from e
        wave = wcs
    edges = np.arange(length + 1, dtype=np.float64) - 0.5
    return np.asarray(wave.pixel_to_world_values(*_pixels(wave, axis, edges))[axis])


def _to_utc_mjd(day: float, fraction: Array, scale: str, source: str) -> Array:
    """MJD UTC of ``day + fraction`` days in a FITS time scale."""
    name = scale.strip().upper() or "UTC"
    offset = 0.0
    if name == "GPS":  # astropy has no GPS scale: GPS = TAI - 19 s
        name, offset = "TAI", 19.0 / 86400.0
    astropy_scale = _SCALES.get(name, name.lower())
    if astropy_scale not in Time.SCALES or astropy_scale == "local":
        raise UnsupportedSourceError(f"{source}: time scale {scale!r} cannot be related to UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErfaWarning)  # "dubious year" far from today
        t = Time(day, fraction + offset, format="mjd", scale=astropy_scale)
        return np.asarray(t.utc.mjd, dtype=np.float64)


def _time_edges(wcs: WCS, axis: int, length: int, source: str) -> Array:
    """MJD UTC at the pixel edges ``-0.5 ... length - 0.5`` of a time axis."""
    edges = np.arange(length + 1, dtype=np.float64) - 0.5
    values = np.asarray(wcs.pixel_to_world_values(*_pixels(wcs, axis, edges))[axis])
    unit = wcs.wcs.cunit[axis] or u.s
    days = (values * u.Unit(unit)).to_value(u.day)
    mjdref = [0.0 if math.isnan(v) else float(v) for v in wcs.wcs.mjdref]
    ctype = wcs.wcs.ctype[axis].split("-")[0]
    scale = wcs.wcs.timesys if ctype.upper() == "TIME" else ctype
    return _to_utc_mjd(mjdref[0], mjdref[1] + days, scale, source)


def _select_stokes(wcs: WCS, axis: int, length: int, pol: Sequence[PolState], source: str) -> slice:
    centres = np.arange(length, dtype=np.float64)
    codes = np.rint(wcs.pixel_to_world_values(*_pixels(wcs, axis, centres))[axis])
    wanted = [STOKES_CODES[p] for p in pol if p in STOKES_CODES]
    kept = np.flatnonzero(np.isin(codes, wanted))
    if kept.size == 0:
        names = {v: k for k, v in STOKES_CODES.items()}
        has = " ".join(names.get(int(c), str(int(c))) for c in codes)
        raise NoOverlapError(
            f"no overlap between POL {' '.join(pol)} and {source} (its Stokes axis has {has})"
        )
    return slice(int(kept[0]), int(kept[-1]) + 1)


def exposure_mjd(headers: Sequence[fits.Header], *, source: str) -> tuple[float, float] | None:
    """Return the exposure's start and end in MJD UTC, as the headers record it.

    Parameters
    ----------
    headers
        The image HDU's header first, then the primary header it inherits.
    source
        The image's name, for messages.

    Returns
    -------
    tuple of float or None
        ``(start, end)``, equal if only the start is known; `None` if the
        headers do not say when the image was taken.

    Raises
    ------
    skycut.errors.UnsupportedSourceError
        If the header's time scale cannot be related to UTC.

    """

    def number(key: str) -> float | None:
        value = next((h[key] for h in headers if key in h), None)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok and math.isfinite(value) else None  # type: ignore[arg-type]

    def date(key: str) -> float | None:
        value = next((h[key] for h in headers if key in h), None)
        if not isinstance(value, str):
            return None
        try:
            # The MJD number of a calendar date; its scale is TIMESYS, applied below.
            return float(Time(value.strip(), scale="tai").mjd)
        except ValueError:
            return None

    starts = (number("MJD-BEG"), date("DATE-BEG"), number("MJD-OBS"), date("DATE-OBS"))
    start = next((v for v in starts if v is not None), None)
    if start is None:
        return None
    end = next((v for v in (number("MJD-END"), date("DATE-END")) if v is not None), None)
    if end is None:
        seconds = next((d for d in map(number, _DURATIONS) if d is not None), 0.0)
        end = start + seconds / 86400.0
    scale = next((str(h["TIMESYS"]) for h in headers if "TIMESYS" in h), "UTC")
    both = _to_utc_mjd(0.0, np.array([start, end]), scale, source)
    return float(both.min()), float(both.max())
