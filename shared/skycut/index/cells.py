"""HEALPix cells of footprints and of queries, for Firestore ``array-contains-any``.

Each image is filed under the nested HEALPix cells that touch its
footprint at one *order* chosen from its size, the finest of the ladder
:data:`ORDERS` (every second order, 0 to 24: cells of 59° down to 0.013")
at which its cells and their ancestors make at most ``max_ids`` ids (30 by
default); an image a cell wide typically gets 4 to 12 cells. A query
(a point, a CIRCLE, a POLYGON or a RANGE) is turned into cells the same
way, and an image is a candidate if the two lists share an id.

Ids are NUNIQ numbers, ``4 * 4**order + ipix``, unique across orders,
positive for a cell an image or query touches at its own order and
negative for an *ancestor* (the cell holding such a cell at a coarser
order of the ladder):

- an image stores its cells (+) and their ancestors (-);
- a query looks up its cells at its order ``q`` as both + and -, and
  their ancestors as +.

If an image (order ``d``) and a query region share a point ``p``, the
cells holding ``p`` are in both covers (covers include every cell that
touches the region), so they share an id: for ``d <= q``, ``p``'s cell at
``d`` (+ in both lists); for ``d > q``, ``p``'s cell at ``q`` (the image's
ancestor, -, against the query's own cell). Lookups therefore never miss
an image that meets the query; an image and a query that only share a
coarse ancestor do not match, so candidates stay within about a cell of
the larger of the two, and :mod:`skycut.index.match` removes the rest.

The covers come from cdshealpix (CDS's Rust HEALPix): polygon coverage for
footprints and POLYGONs up to 60° in radius, cone coverage for circles up
to 90° (it misses cells of larger cones), zone coverage for RANGEs; a
footprint or circle larger than that touches nearly every order-0 cell and
is filed under all twelve. A polygon cover is used only if it holds the
polygon's inner point and lies in the polygon's enclosing cone, so a
polygon cdshealpix would read inside-out falls back to that cone.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import astropy.units as u
import numpy as np
import numpy.typing as npt
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested

from skycut.cutout.sphere import Array, to_vectors
from skycut.cutout.stencil import Circle, Polygon, Range
from skycut.index.footprint import Footprint
from skycut.index.spherical import angle_between

__all__ = [
    "MAX_IDS",
    "ORDERS",
    "CellCover",
    "cell_ids",
    "footprint_cells",
    "point_ids",
    "query_cells",
]

ORDERS: tuple[int, ...] = tuple(range(0, 25, 2))
"""The orders images and queries are filed under: each cell is 4 of the next."""

MAX_IDS = 30
"""Firestore's limit on ``array-contains-any`` values, and our cap per image."""

_POLYGON_LIMIT = 60.0  # degrees of radius up to which polygon covers are used
_CONE_LIMIT = 90.0  # cdshealpix's cone covers miss cells beyond ~120°; stay well inside
_PAD = 1e-9  # degrees added around query regions against rounding at their edges
_Ids = npt.NDArray[np.int64]
_UInt = npt.NDArray[np.uint64]


def _cell_size(order: int) -> float:
    """Typical side of a cell at ``order``, in degrees (square root of its area)."""
    return math.degrees(math.sqrt(4.0 * math.pi / (12 * 4**order)))


def cell_ids(order: int, cells: Sequence[int] | _UInt, *, ancestor: bool = False) -> list[int]:
    """NUNIQ ids of nested cells at ``order``, negated for ancestors."""
    base = 4 * 4**order
    sign = -1 if ancestor else 1
    return [sign * (base + int(c)) for c in cells]


@dataclass(frozen=True)
class CellCover:
    """The cells an image or a query touches at one order of :data:`ORDERS`.

    Attributes
    ----------
    order
        The order.
    cells
        Nested cell numbers at ``order``, sorted.

    """

    order: int
    cells: tuple[int, ...]

    def _ancestor_cells(self) -> dict[int, list[int]]:
        cells = np.array(self.cells, dtype=np.uint64)
        return {
            o: sorted({int(c) for c in cells >> np.uint64(2 * (self.order - o))})
            for o in ORDERS
            if o < self.order
        }

    def index_ids(self) -> list[int]:
        """Return the ids to store with an image: its cells, then their ancestors (negative)."""
        ids = cell_ids(self.order, self.cells)
        for o, cells in self._ancestor_cells().items():
            ids += cell_ids(o, cells, ancestor=True)
        return ids

    def query_ids(self) -> list[int]:
        """Return the ids to look up for a query: its cells as both kinds, then ancestors."""
        ids = cell_ids(self.order, self.cells)
        if self.order < ORDERS[-1]:  # images filed deeper hold these cells as ancestors
            ids += cell_ids(self.order, self.cells, ancestor=True)
        for o, cells in self._ancestor_cells().items():
            ids += cell_ids(o, cells)
        return ids


def _lon(deg: Array | float) -> Longitude:
    return Longitude(np.asarray(deg, dtype=np.float64) % 360.0, u.deg)


def _lat(deg: Array | float) -> Latitude:
    return Latitude(np.clip(np.asarray(deg, dtype=np.float64), -90.0, 90.0), u.deg)


def _cone(ra: float, dec: float, radius: float, order: int) -> _UInt:
    """Cells touching a cone, every cell if it is wider than cdshealpix covers reliably."""
    if radius > _CONE_LIMIT:
        return np.arange(12 * 4**order, dtype=np.uint64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cells = nested.cone_search(_lon(ra), _lat(dec), radius * u.deg, order, flat=True)[0]
    return np.asarray(cells, dtype=np.uint64)


def _polygon(
    lon: Array, lat: Array, inner: tuple[float, float], cap: tuple[float, float, float], order: int
) -> _UInt:
    """Cells touching a polygon, checked against its enclosing cone (see the module)."""
    cone = _cone(*cap, order)
    if cap[2] > _POLYGON_LIMIT:
        return cone
    cells = np.asarray(nested.polygon_search(_lon(lon), _lat(lat), order, flat=True)[0])
    where = np.array([inner[0]]), np.array([inner[1]])
    home = int(np.ravel(nested.lonlat_to_healpix(_lon(where[0]), _lat(where[1]), order))[0])
    if home in set(cells.tolist()) and np.isin(cells, cone).all():
        return np.asarray(cells, dtype=np.uint64)
    return cone


def _first_order(radius: float) -> int:
    """Return the finest order of the ladder whose cells are at least ``radius / 2`` wide."""
    fitting = [o for o in ORDERS if _cell_size(o) >= radius / 2.0]
    return fitting[-1] if fitting else ORDERS[0]


def _choose(
    cover_at: Callable[[int], _UInt],
    radius: float,
    count: Callable[[CellCover], list[int]],
    max_ids: int,
) -> CellCover:
    """Walk up the ladder from the first order until the ids fit in ``max_ids``."""
    index = ORDERS.index(_first_order(radius))
    while True:
        order = ORDERS[index]
        cover = CellCover(order, tuple(sorted(int(c) for c in set(cover_at(order).tolist()))))
        if index == 0 or len(count(cover)) <= max_ids:
            return cover
        index -= 1


def footprint_cells(footprint: Footprint, *, max_ids: int = MAX_IDS) -> CellCover:
    """Find the cells to file an image under (store ``.index_ids()``).

    Parameters
    ----------
    footprint
        The image's footprint.
    max_ids
        The most ids ``index_ids()`` may return, unless even order 0
        (at most 12) exceeds it.

    Returns
    -------
    CellCover
        Every cell touching the footprint, at the finest order that fits.

    """
    lon, lat = np.array(footprint.vertices, dtype=np.float64).T
    cap = (*footprint.centre, footprint.radius)

    def cover_at(order: int) -> _UInt:
        return _polygon(lon, lat, footprint.inner, cap, order)

    return _choose(cover_at, footprint.radius, CellCover.index_ids, max_ids)


def point_ids(ra: Array | float, dec: Array | float) -> _Ids:
    """Return the ids to look up for positions: the cell holding each at every order.

    Parameters
    ----------
    ra, dec
        ICRS positions in degrees, arrays of one shape or scalars.

    Returns
    -------
    numpy.ndarray
        Integers of shape ``(n, len(ORDERS))``, one row per position.

    """
    deepest = ORDERS[-1]
    ra_flat = np.atleast_1d(np.asarray(ra, dtype=np.float64)).ravel()
    dec_flat = np.atleast_1d(np.asarray(dec, dtype=np.float64)).ravel()
    cells = np.asarray(nested.lonlat_to_healpix(_lon(ra_flat), _lat(dec_flat), deepest))
    columns = [(cells >> np.uint64(2 * (deepest - o))).astype(np.int64) + 4 * 4**o for o in ORDERS]
    return np.stack(columns, axis=1)


def _circle_cells(circle: Circle, max_ids: int) -> CellCover:
    radius = circle.radius + _PAD

    def cover_at(order: int) -> _UInt:
        return _cone(circle.ra, circle.dec, radius, order)

    return _choose(cover_at, radius, CellCover.query_ids, max_ids)


def _polygon_cells(polygon: Polygon, max_ids: int) -> CellCover:
    lon, lat = np.array(polygon.vertices, dtype=np.float64).T
    centre = polygon.centre
    vectors = to_vectors(np.radians(lon), np.radians(lat))
    reach = math.degrees(float(angle_between(vectors, to_vectors(*np.radians(centre))).max()))
    cap = (*centre, reach + _PAD)

    def cover_at(order: int) -> _UInt:
        return _polygon(lon, lat, centre, cap, order)

    return _choose(cover_at, reach, CellCover.query_ids, max_ids)


def _range_cells(stencil: Range, max_ids: int) -> CellCover:
    lat_min, lat_max = max(stencil.lat_min - _PAD, -90.0), min(stencil.lat_max + _PAD, 90.0)
    width = min(stencil.lon_width + 2 * _PAD, 360.0)
    nearest_equator = 0.0 if lat_min <= 0.0 <= lat_max else min(abs(lat_min), abs(lat_max))
    extent = max(lat_max - lat_min, width * math.cos(math.radians(nearest_equator)))

    def cover_at(order: int) -> _UInt:
        if width >= 360.0:
            lon_min, lon_max = 0.0, 360.0
        else:
            lon_min = (stencil.lon_start - _PAD) % 360.0
            lon_max = (lon_min + width) % 360.0  # cdshealpix wraps zones with min > max
        cells = nested.zone_search(
            Longitude(lon_min, u.deg),
            _lat(lat_min),
            Longitude(lon_max, u.deg, wrap_angle=360.01 * u.deg),
            _lat(lat_max),
            order,
            flat=True,
        )[0]
        return np.asarray(cells, dtype=np.uint64)

    return _choose(cover_at, extent / 2.0, CellCover.query_ids, max_ids)


def query_cells(region: Circle | Polygon | Range, *, max_ids: int = MAX_IDS) -> CellCover:
    """Find the cells to look up for a query region (look up ``.query_ids()``).

    Parameters
    ----------
    region
        The SODA/SIA ``POS`` region, in ICRS.
    max_ids
        The most ids ``query_ids()`` may return (Firestore allows 30).

    Returns
    -------
    CellCover
        Every cell touching the region, at the finest order that fits.

    """
    if isinstance(region, Circle):
        return _circle_cells(region, max_ids)
    if isinstance(region, Polygon):
        return _polygon_cells(region, max_ids)
    return _range_cells(region, max_ids)
