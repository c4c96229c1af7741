"""Pixel bounding boxes of sky stencils on an image.

The box of a circle is the bounding box of the part of the circle that falls
on the image. That region's edge is made of the circle's boundary where it
crosses the image and of the image's border where the border lies inside the
circle, so the box is the bounding box of two point sets: points along the
circle boundary that project onto the image, refined until neighbours are
under a quarter pixel apart, and points along the image border whose sky
position is inside the circle. This is exact up to rounding whatever the
circle's size, for circles around a pole, for images across RA = 0 and for
distorted (SIP) WCSs, since every projection goes through the full WCS.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS, NoConvergence
from astropy.wcs.utils import wcs_to_celestial_frame

from skycut.cutout.stencil import Circle
from skycut.errors import NoOverlapError, UnsupportedSourceError

__all__ = ["PixelBox", "circle_pixel_box"]

_Array = npt.NDArray[np.float64]

_FIRST_SAMPLES = 1024
_MAX_STEP = 0.25  # pixels between boundary samples: bounds the chord error to ~1e-3 px
_MAX_REFINEMENTS = 40
# Projections that map only the hemisphere around the reference point (or,
# for SIN, map both hemispheres onto the same disk).
_HEMISPHERE_PROJECTIONS = frozenset({"TAN", "TPV", "SIN", "NCP"})


@dataclass(frozen=True)
class PixelBox:
    """A rectangle of whole pixels, 0-based, stops exclusive.

    ``x`` runs along FITS axis 1 (numpy's last axis), ``y`` along FITS axis 2,
    so the pixels are ``data[y0:y1, x0:x1]``.
    """

    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``, in numpy order."""
        return (self.y1 - self.y0, self.x1 - self.x0)

    @property
    def slices(self) -> tuple[slice, slice]:
        """The numpy index of the box in the full image."""
        return (slice(self.y0, self.y1), slice(self.x0, self.x1))


def circle_pixel_box(
    wcs: WCS, shape: tuple[int, int], circle: Circle, *, source: str = "the image"
) -> PixelBox:
    """Find the pixels of an image that a circle covers.

    Parameters
    ----------
    wcs
        The image's full WCS, distortions included.
    shape
        Image shape in numpy order, ``(NAXIS2, NAXIS1)``.
    circle
        The stencil, in ICRS.
    source
        The image's name for the error message.

    Returns
    -------
    PixelBox
        The smallest box of whole pixels holding every part of the circle
        that lies on the image: every pixel whose centre is inside the circle
        is in it, and it reaches at most one pixel beyond the circle.

    Raises
    ------
    skycut.errors.NoOverlapError
        If the circle does not touch the image.
    skycut.errors.UnsupportedSourceError
        If the WCS is not a 2-D celestial WCS.

    """
    if wcs.naxis != 2 or not wcs.has_celestial:
        raise UnsupportedSourceError(f"{source} has no 2-D celestial WCS")
    ny, nx = shape
    lon0, lat0 = _centre_in_wcs_frame(wcs, circle, source)
    radius = math.radians(circle.radius)

    xs, ys = _boundary_on_image(wcs, (nx, ny), lon0, lat0, radius)
    ex, ey = _border_inside(wcs, (nx, ny), lon0, lat0, radius)
    cx, cy = _to_pixel(wcs, np.array([lon0]), np.array([lat0]))
    x = np.concatenate([xs, ex, cx[_on_image(cx, cy, nx, ny)]])
    y = np.concatenate([ys, ey, cy[_on_image(cx, cy, nx, ny)]])
    if x.size == 0:
        raise NoOverlapError(f"no overlap between {circle.to_soda()} and {source}")
    # Pixel i spans [i - 0.5, i + 0.5): take every pixel the region touches.
    x0, x1 = math.floor(x.min() + 0.5), math.floor(x.max() + 0.5) + 1
    y0, y1 = math.floor(y.min() + 0.5), math.floor(y.max() + 0.5) + 1
    return PixelBox(max(x0, 0), min(x1, nx), max(y0, 0), min(y1, ny))


def _centre_in_wcs_frame(wcs: WCS, circle: Circle, source: str) -> tuple[float, float]:
    """Circle centre in radians in the WCS's own frame (frames differ by rotations)."""
    try:
        frame = wcs_to_celestial_frame(wcs)
    except ValueError as e:
        raise UnsupportedSourceError(f"{source}: unknown celestial frame") from e
    if frame.name == "icrs":
        return math.radians(circle.ra), math.radians(circle.dec)
    native = SkyCoord(circle.ra, circle.dec, unit="deg", frame="icrs").transform_to(frame)
    return float(native.spherical.lon.rad), float(native.spherical.lat.rad)


def _small_circle(
    lon0: float, lat0: float, radius: float, bearing: _Array
) -> tuple[_Array, _Array]:
    """Points at ``radius`` from the centre along each bearing (radians)."""
    sin_lat = np.sin(lat0) * np.cos(radius) + np.cos(lat0) * np.sin(radius) * np.cos(bearing)
    lat = np.arcsin(np.clip(sin_lat, -1.0, 1.0))
    dlon = np.arctan2(
        np.sin(bearing) * np.sin(radius) * np.cos(lat0), np.cos(radius) - np.sin(lat0) * sin_lat
    )
    return lon0 + dlon, lat


def _separation(lon1: _Array | float, lat1: _Array | float, lon2: float, lat2: float) -> _Array:
    """Great-circle distance in radians (Vincenty's formula, exact at all angles)."""
    dlon = np.asarray(lon1) - lon2
    num = np.hypot(
        np.cos(lat2) * np.sin(dlon),
        np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon),
    )
    den = np.sin(lat1) * np.sin(lat2) + np.cos(lat1) * np.cos(lat2) * np.cos(dlon)
    return np.asarray(np.arctan2(num, den), dtype=np.float64)


def _to_pixel(wcs: WCS, lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    """Project radians to 0-based pixels; NaN where the WCS has no valid answer."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    if wcs.wcs.ctype[wcs.wcs.lng][5:8] in _HEMISPHERE_PROJECTIONS:
        crval = np.radians(wcs.wcs.crval)
        ok &= _separation(lon, lat, crval[wcs.wcs.lng], crval[wcs.wcs.lat]) < math.pi / 2
    x, y = np.full(lon.shape, np.nan), np.full(lon.shape, np.nan)
    if not ok.any():
        return x, y
    world = [np.empty(0), np.empty(0)]
    world[wcs.wcs.lng], world[wcs.wcs.lat] = np.degrees(lon[ok]), np.degrees(lat[ok])
    try:
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            # Points wcslib rejects come back as NaN, which is what we want.
            warnings.simplefilter("ignore", RuntimeWarning)
            px, py = wcs.all_world2pix(*world, 0, quiet=False)
    except NoConvergence as e:
        # Far off the image SIP polynomials do not invert; those points are not on it.
        px, py = e.best_solution[:, 0].copy(), e.best_solution[:, 1].copy()
        for bad in (e.divergent, e.slow_conv):
            if bad is not None:
                px[bad] = np.nan
    x[ok], y[ok] = px, py
    bad = ~(np.isfinite(x) & np.isfinite(y))
    x[bad], y[bad] = np.nan, np.nan
    return x, y


def _on_image(
    x: _Array, y: _Array, nx: int, ny: int, margin: _Array | float = 0.0
) -> npt.NDArray[np.bool_]:
    """Whether points lie on the image's pixels (their outer edges at -0.5 and n - 0.5)."""
    with np.errstate(invalid="ignore"):
        return (
            (x >= -0.5 - margin)
            & (x <= nx - 0.5 + margin)
            & (y >= -0.5 - margin)
            & (y <= ny - 0.5 + margin)
        )


def _boundary_on_image(
    wcs: WCS, size: tuple[int, int], lon0: float, lat0: float, radius: float
) -> tuple[_Array, _Array]:
    """Pixels of circle boundary points on the image, under ``_MAX_STEP`` apart."""
    nx, ny = size
    bearing = np.linspace(0.0, 2.0 * math.pi, _FIRST_SAMPLES + 1)
    x, y = _to_pixel(wcs, *_small_circle(lon0, lat0, radius, bearing))
    for _ in range(_MAX_REFINEMENTS):
        step = np.hypot(np.diff(x), np.diff(y))
        # A segment can only reach the image if an end is within about its length
        # of it; twice that allows for the arc bulging beyond its chord.
        margin = 2.0 * step
        near = _on_image(x[:-1], y[:-1], nx, ny, margin) | _on_image(x[1:], y[1:], nx, ny, margin)
        split = np.flatnonzero(near & (step > _MAX_STEP))
        if split.size == 0:
            break
        mid = 0.5 * (bearing[split] + bearing[split + 1])
        mx, my = _to_pixel(wcs, *_small_circle(lon0, lat0, radius, mid))
        bearing = np.insert(bearing, split + 1, mid)
        x, y = np.insert(x, split + 1, mx), np.insert(y, split + 1, my)
    keep = _on_image(x, y, nx, ny)
    return x[keep], y[keep]


def _border_inside(
    wcs: WCS, size: tuple[int, int], lon0: float, lat0: float, radius: float
) -> tuple[_Array, _Array]:
    """Points of the image's outer border, a pixel or less apart, inside the circle."""
    nx, ny = size
    xs = np.linspace(-0.5, nx - 0.5, nx + 1)
    ys = np.linspace(-0.5, ny - 0.5, ny + 1)
    x = np.concatenate([xs, xs, np.full(ny + 1, -0.5), np.full(ny + 1, nx - 0.5)])
    y = np.concatenate([np.full(nx + 1, -0.5), np.full(nx + 1, ny - 0.5), ys, ys])
    world = wcs.all_pix2world(x, y, 0)
    lon, lat = np.radians(world[wcs.wcs.lng]), np.radians(world[wcs.wcs.lat])
    with np.errstate(invalid="ignore"):
        inside = _separation(lon, lat, lon0, lat0) <= radius
    return x[inside], y[inside]
