"""Pixel bounding boxes of sky stencils on an image.

The box of a stencil is the bounding box of the part of the stencil that
falls on the image. That region's edge is made of the stencil's boundary
where it crosses the image and of the image's border where the border lies
inside the stencil, so the box is the bounding box of two point sets: points
along the stencil's boundary curves that project onto the image, refined
until neighbours are under a quarter pixel apart, and points along the
image border whose sky position is inside the stencil.

The boundary curves are a circle's edge (a small circle), a polygon's edges
(great-circle arcs) and a range's meridians and parallels. Each curve is
sampled in its own parameter and refined where the projected samples are
far apart near the image, so the result is exact up to rounding whatever
the stencil's size, for stencils around a pole, for images across RA = 0
and for distorted (SIP) WCSs, since every projection goes through the full
WCS.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from astropy.wcs import WCS

from skycut.cutout.projection import SkyProjection
from skycut.cutout.sphere import (
    Array,
    from_vectors,
    great_circle_points,
    small_circle_points,
    to_vectors,
)
from skycut.cutout.stencil import Circle, Polygon, Range, Stencil
from skycut.errors import NoOverlapError

__all__ = ["PixelBox", "circle_pixel_box", "pixels_inside", "stencil_pixel_box"]

_IntArray = npt.NDArray[np.intp]
_Bool = npt.NDArray[np.bool_]
# (curve number, parameter in [0, 1]) -> ICRS (lon, lat) in radians
_Curves = Callable[[_IntArray, Array], tuple[Array, Array]]

_FIRST_SAMPLES = 1024  # per curve; polygon edges get _EDGE_SAMPLES each
_EDGE_SAMPLES = 256
_MAX_STEP = 0.25  # pixels between boundary samples: bounds the chord error to ~1e-3 px
_MAX_REFINEMENTS = 40
_CELL = 16  # pixels per side of the cells pixels_inside classifies whole


@dataclass(frozen=True)
class PixelBox:
    """A rectangle of whole pixels, 0-based, stops exclusive.

    ``x`` runs along the WCS's first celestial pixel axis (FITS axis 1 of a
    plain image, numpy's last axis), ``y`` along the second, so the pixels of
    a 2-D image are ``data[y0:y1, x0:x1]``.
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


def stencil_pixel_box(
    wcs: WCS, shape: tuple[int, int], stencil: Stencil, *, source: str = "the image"
) -> PixelBox:
    """Find the pixels of an image that a stencil covers.

    Parameters
    ----------
    wcs
        The image's 2-D celestial WCS, distortions included.
    shape
        Image shape in numpy order, ``(ny, nx)``.
    stencil
        The sky region, in ICRS.
    source
        The image's name for the error message.

    Returns
    -------
    PixelBox
        The smallest box of whole pixels holding every part of the stencil
        that lies on the image: every pixel whose centre is inside the
        stencil is in it, and it reaches at most one pixel beyond it.

    Raises
    ------
    skycut.errors.NoOverlapError
        If the stencil does not touch the image.
    skycut.errors.UnsupportedSourceError
        If the WCS is not a 2-D celestial WCS.

    """
    projection = _projection(wcs, source)
    ny, nx = shape
    xs, ys = _boundary_on(projection, PixelBox(0, nx, 0, ny), *_boundary(stencil))
    ex, ey = _border_inside(projection, (nx, ny), stencil)
    x, y = np.concatenate([xs, ex]), np.concatenate([ys, ey])
    if x.size == 0:
        raise NoOverlapError(f"no overlap between {stencil.to_soda()} and {source}")
    # Pixel i spans [i - 0.5, i + 0.5): take every pixel the region touches.
    x0, x1 = math.floor(x.min() + 0.5), math.floor(x.max() + 0.5) + 1
    y0, y1 = math.floor(y.min() + 0.5), math.floor(y.max() + 0.5) + 1
    return PixelBox(max(x0, 0), min(x1, nx), max(y0, 0), min(y1, ny))


def circle_pixel_box(
    wcs: WCS, shape: tuple[int, int], circle: Circle, *, source: str = "the image"
) -> PixelBox:
    """Find the pixels of an image that a circle covers (see `stencil_pixel_box`)."""
    return stencil_pixel_box(wcs, shape, circle, source=source)


def pixels_inside(wcs: WCS, box: PixelBox, stencil: Stencil) -> _Bool:
    """Tell which pixel centres of a box are inside a stencil.

    Exact, as if every centre were tested, but only the centres near the
    stencil's boundary are: the box is split into cells of ``_CELL`` pixels
    and a cell that no boundary sample (they are under a quarter pixel
    apart) comes near is wholly inside or outside, as its corners say.

    Parameters
    ----------
    wcs
        The image's 2-D celestial WCS.
    box
        The pixels to test.
    stencil
        The sky region, in ICRS.

    Returns
    -------
    numpy.ndarray
        Booleans of shape ``box.shape``; pixels whose position the WCS
        cannot give are outside.

    """
    projection = _projection(wcs, "the image")
    ny, nx = box.shape

    def exact(x: Array, y: Array) -> _Bool:
        """Containment of box-relative pixel centres."""
        return stencil.contains(*projection.to_sky(x + box.x0, y + box.y0))

    # Cell k spans pixels [k * _CELL, (k + 1) * _CELL), its corners at both ends.
    cells_y, cells_x = -(-ny // _CELL), -(-nx // _CELL)
    gy = np.minimum(np.arange(cells_y + 1) * _CELL, ny - 1).astype(np.float64)
    gx = np.minimum(np.arange(cells_x + 1) * _CELL, nx - 1).astype(np.float64)
    corner = exact(*np.meshgrid(gx, gy)).reshape(gy.size, gx.size)
    uniform = (corner[:-1, :-1] == corner[1:, :-1]) & (corner[:-1, :-1] == corner[:-1, 1:])
    uniform &= corner[:-1, :-1] == corner[1:, 1:]
    # Cells a boundary sample falls in, and their neighbours, are tested pixel by pixel.
    bx, by = _boundary_on(projection, box, *_boundary(stencil))
    crossed = np.zeros((cells_y + 2, cells_x + 2), dtype=bool)
    kx = np.clip(np.floor((bx - box.x0) / _CELL).astype(int), -1, cells_x) + 1
    ky = np.clip(np.floor((by - box.y0) / _CELL).astype(int), -1, cells_y) + 1
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            crossed[np.clip(ky + dy, 0, cells_y + 1), np.clip(kx + dx, 0, cells_x + 1)] = True
    uniform &= ~crossed[1:-1, 1:-1]
    cell_y, cell_x = np.arange(ny) // _CELL, np.arange(nx) // _CELL
    inside = np.repeat(np.repeat(corner[:-1, :-1], _CELL, axis=0), _CELL, axis=1)[:ny, :nx]
    rows, cols = np.nonzero(~uniform[cell_y[:, None], cell_x[None, :]])
    inside[rows, cols] = exact(cols.astype(np.float64), rows.astype(np.float64))
    return inside


def _boundary(stencil: Stencil) -> tuple[_Curves, int, int]:
    """Return the boundary curves: how to evaluate them, how many, samples per curve."""
    if isinstance(stencil, Circle):
        lon0, lat0, radius = map(math.radians, (stencil.ra, stencil.dec, stencil.radius))

        def circle(_: _IntArray, t: Array) -> tuple[Array, Array]:
            return small_circle_points(lon0, lat0, radius, 2.0 * math.pi * t)

        return circle, 1, _FIRST_SAMPLES
    if isinstance(stencil, Polygon):
        vertices = to_vectors(*np.radians(np.array(stencil.vertices, dtype=np.float64).T))
        following = np.roll(vertices, -1, axis=0)

        def edges(c: _IntArray, t: Array) -> tuple[Array, Array]:
            return from_vectors(great_circle_points(vertices[c], following[c], t))

        return edges, len(vertices), _EDGE_SAMPLES
    return _range_boundary(stencil)


def _range_boundary(stencil: Range) -> tuple[_Curves, int, int]:
    """Meridians at both longitude bounds, parallels at latitude bounds off the poles."""
    lon0, width = math.radians(stencil.lon_start), math.radians(stencil.lon_width)
    lat0, lat1 = math.radians(stencil.lat_min), math.radians(stencil.lat_max)
    # Each curve: (is a meridian, fixed coordinate, start, span of the other).
    specs = []
    if stencil.lon_width < 360.0:
        specs += [(True, lon0, lat0, lat1 - lat0), (True, lon0 + width, lat0, lat1 - lat0)]
    specs += [(False, lat, lon0, width) for lat in (lat0, lat1) if abs(lat) < math.pi / 2]
    meridian = np.array([s[0] for s in specs], dtype=bool)
    fixed, start, span = (np.array([s[i] for s in specs], dtype=np.float64) for i in (1, 2, 3))

    def lines(c: _IntArray, t: Array) -> tuple[Array, Array]:
        moving = start[c] + t * span[c]
        lon = np.where(meridian[c], fixed[c], moving)
        lat = np.where(meridian[c], moving, fixed[c])
        return lon, lat

    return lines, len(specs), _FIRST_SAMPLES


def _within(x: Array, y: Array, area: PixelBox, margin: Array | float = 0.0) -> _Bool:
    """Whether points lie on the pixels of ``area`` (outer edges at ``x0 - 0.5``...)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(
            (x >= area.x0 - 0.5 - margin)
            & (x <= area.x1 - 0.5 + margin)
            & (y >= area.y0 - 0.5 - margin)
            & (y <= area.y1 - 0.5 + margin)
        )


def _boundary_on(
    projection: SkyProjection, area: PixelBox, curves: _Curves, count: int, samples: int
) -> tuple[Array, Array]:
    """Pixels of boundary points on ``area``, under ``_MAX_STEP`` apart along each curve."""
    if count == 0:
        return np.empty(0), np.empty(0)
    c = np.repeat(np.arange(count), samples + 1)
    t = np.tile(np.linspace(0.0, 1.0, samples + 1), count)
    x, y = projection.to_pixel(*curves(c, t))
    for _ in range(_MAX_REFINEMENTS):
        same_curve = c[:-1] == c[1:]
        step = np.hypot(np.diff(x), np.diff(y))
        # A segment can only reach the area if an end is within about its length
        # of it; twice that allows for the arc bulging beyond its chord.
        margin = 2.0 * step
        near = _within(x[:-1], y[:-1], area, margin) | _within(x[1:], y[1:], area, margin)
        # Where a curve leaves the WCS's domain (NaN: the far side of TAN, or
        # where SIP does not invert), nothing says how far it went; close in on
        # the crossing, so the valid part is sampled up to it.
        valid = np.isfinite(x)
        leaves = valid[:-1] != valid[1:]
        with np.errstate(invalid="ignore"):
            split = np.flatnonzero(same_curve & ((near & (step > _MAX_STEP)) | leaves))
        if split.size == 0:
            break
        mid = 0.5 * (t[split] + t[split + 1])
        mx, my = projection.to_pixel(*curves(c[split], mid))
        c, t = np.insert(c, split + 1, c[split]), np.insert(t, split + 1, mid)
        x, y = np.insert(x, split + 1, mx), np.insert(y, split + 1, my)
    keep = _within(x, y, area)
    return x[keep], y[keep]


# A WCS's projection (its celestial frame found once): WCS objects are cached per
# HDU, and finding the frame costs more than a small stamp's box.
_PROJECTIONS: weakref.WeakKeyDictionary[WCS, SkyProjection] = weakref.WeakKeyDictionary()


def _projection(wcs: WCS, source: str) -> SkyProjection:
    projection = _PROJECTIONS.get(wcs)
    if projection is None:
        projection = _PROJECTIONS[wcs] = SkyProjection(wcs, source=source)
    return projection


_Border = tuple[tuple[int, int], Array, Array, Array, Array]
# The border's sky positions per WCS object: every stencil cut from an image
# tests the same points, and projecting them is most of the cost of a stamp.
_BORDERS: weakref.WeakKeyDictionary[WCS, _Border] = weakref.WeakKeyDictionary()


def _border_sky(projection: SkyProjection, size: tuple[int, int]) -> _Border:
    """Points of the image's outer border, a pixel or less apart, and their ICRS positions."""
    cached = _BORDERS.get(projection.wcs)
    if cached is not None and cached[0] == size:
        return cached
    nx, ny = size
    xs = np.linspace(-0.5, nx - 0.5, nx + 1)
    ys = np.linspace(-0.5, ny - 0.5, ny + 1)
    x = np.concatenate([xs, xs, np.full(ny + 1, -0.5), np.full(ny + 1, nx - 0.5)])
    y = np.concatenate([np.full(nx + 1, -0.5), np.full(nx + 1, ny - 0.5), ys, ys])
    border = (size, x, y, *projection.to_sky(x, y))
    for array in border[1:]:
        array.flags.writeable = False  # shared by every later stencil
    _BORDERS[projection.wcs] = border
    return border


def _border_inside(
    projection: SkyProjection, size: tuple[int, int], stencil: Stencil
) -> tuple[Array, Array]:
    """Points of the image's outer border, a pixel or less apart, inside the stencil."""
    _, x, y, lon, lat = _border_sky(projection, size)
    if isinstance(stencil, Circle):
        # A point inside is within the radius in latitude too: test only those (a stamp's
        # circle is near few of the border's points, and the exact test is the costly part).
        near = np.flatnonzero(np.abs(lat - stencil.dec) <= stencil.radius * (1 + 1e-9) + 1e-12)
        hits = near[stencil.contains(lon[near], lat[near])]
        return x[hits], y[hits]
    inside = stencil.contains(lon, lat)
    return x[inside], y[inside]
