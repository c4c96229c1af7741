"""Exact tests of a footprint against a query: the filter after the cell lookup.

The cell lookup (:mod:`skycut.index.cells`) returns every image that may
meet a query and some that do not; these tests decide, on the sphere:

- :func:`contains`: whether positions fall on the image;
- :func:`overlaps`: whether a CIRCLE, POLYGON or RANGE shares a point with
  the image (SIA 2.0's ``POS`` match);
- :func:`covers`: whether the image holds the whole region.

Two regions whose boundaries do not cross are disjoint, nested one in the
other, or together cover the sphere; so both tests come down to whether
the boundaries cross (great-circle arcs against arcs, and against a
RANGE's parallels, solved in closed form) and whether a point of each
boundary lies inside the other region. Points exactly on a boundary may
go either way; the footprint's outline lies a few thousandths of a pixel
outside the image, so that never drops a pixel of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from skycut.cutout.sphere import Array, from_vectors, to_vectors
from skycut.cutout.stencil import Circle, Polygon, Range
from skycut.index.footprint import Footprint
from skycut.index.spherical import (
    SphericalPolygon,
    angle_between,
    boundary_distances,
    contain_point,
)

__all__ = ["contains", "covers", "overlaps", "overlaps_each"]

_Bool = npt.NDArray[np.bool_]
Region = Circle | Polygon | Range


def contains(footprint: Footprint, ra: Array | float, dec: Array | float) -> _Bool:
    """Whether ICRS positions (degrees) fall on the image (see `Footprint.contains`)."""
    return footprint.contains(ra, dec)


def _vertices_deg(footprint: Footprint) -> tuple[Array, Array]:
    lon, lat = np.array(footprint.vertices, dtype=np.float64).T
    return lon, lat


def _circle(footprint: Footprint, circle: Circle, *, need_covers: bool) -> tuple[bool, bool]:
    """(overlaps, covers) of a circle; ``covers`` is `False` unless ``need_covers``."""
    if not footprint.may_meet(circle.ra, circle.dec, circle.radius):
        return False, False  # the caps are apart: most candidates of a cell lookup
    centre = to_vectors(*np.radians((circle.ra, circle.dec)))[None, :]
    radius = math.radians(circle.radius)
    inside = bool(footprint.polygon.contains(centre)[0])
    if inside and not need_covers:
        return True, False  # only covers needs the distance to the border
    gap = float(footprint.polygon.boundary_distance(centre)[0])
    overlaps = inside or gap <= radius
    # A whole-sky circle has no room left outside any outline.
    covers = inside and gap >= radius and circle.radius < 180.0
    return overlaps, covers


def _polygon(footprint: Footprint, polygon: Polygon) -> tuple[bool, bool]:
    """(overlaps, covers) of a POLYGON."""
    lon, lat = np.radians(np.array(polygon.vertices, dtype=np.float64).T)
    corners = to_vectors(lon, lat)
    crossing = footprint.polygon.crosses(corners, np.roll(corners, -1, axis=0))
    ours_in_theirs = polygon.contains(*_vertices_deg(footprint))
    theirs_in_ours = footprint.polygon.contains(corners)
    overlaps = crossing or bool(ours_in_theirs.any()) or bool(theirs_in_ours.any())
    covers = not crossing and bool(theirs_in_ours.all()) and not bool(ours_in_theirs.any())
    return overlaps, covers


def _crosses_parallel(
    shape: SphericalPolygon, lat: float, lon_start: float, lon_width: float
) -> bool:
    """Whether an edge meets the parallel ``lat`` between ``lon_start`` and ``+ lon_width``.

    Along an edge from ``a`` at angle ``t`` (a unit vector ``u`` ahead of
    ``a`` in the edge's plane), ``z(t) = a_z cos t + u_z sin t = R cos(t - τ)``,
    which meets ``sin(lat)`` at ``t = τ ± acos(sin(lat) / R)``.
    """
    a, b = shape.vertices, shape.following
    length = angle_between(a, b)
    ahead = b - np.sum(a * b, axis=1, keepdims=True) * a
    norm = np.linalg.norm(ahead, axis=1, keepdims=True)
    keep = norm[:, 0] > 1e-15
    a, ahead, length = a[keep], ahead[keep] / norm[keep], length[keep]
    amplitude = np.hypot(a[:, 2], ahead[:, 2])
    target = math.sin(math.radians(lat))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = target / amplitude
    reach = np.isfinite(ratio) & (np.abs(ratio) <= 1.0)
    phase = np.arctan2(ahead[:, 2], a[:, 2])
    spread = np.arccos(np.clip(np.where(reach, ratio, 0.0), -1.0, 1.0))
    for t in (np.mod(phase - spread, 2 * math.pi), np.mod(phase + spread, 2 * math.pi)):
        on_edge = reach & (t <= length)
        if not on_edge.any():
            continue
        points = (
            a[on_edge] * np.cos(t[on_edge])[:, None] + ahead[on_edge] * np.sin(t[on_edge])[:, None]
        )
        lon = np.degrees(from_vectors(points)[0])
        if lon_width >= 360.0 or (np.mod(lon - lon_start, 360.0) <= lon_width).any():
            return True
    return False


def _range(footprint: Footprint, stencil: Range) -> tuple[bool, bool]:
    """(overlaps, covers) of a RANGE."""
    lon0, width = stencil.lon_start, stencil.lon_width
    lat_min, lat_max = stencil.lat_min, stencil.lat_max
    shape = footprint.polygon
    crossing = False
    if width < 360.0:
        # Each meridian edge as two arcs of at most 90°, so none is a half circle.
        mid = 0.5 * (lat_min + lat_max)
        lons = np.repeat([lon0, lon0 + width], 2)
        starts = to_vectors(np.radians(lons), np.radians([lat_min, mid] * 2))
        ends = to_vectors(np.radians(lons), np.radians([mid, lat_max] * 2))
        crossing = shape.crosses(starts, ends)
        marks = [(lon0, lat_min)]
    else:
        marks = [(0.0, lat) for lat in (lat_min, lat_max) if abs(lat) < 90.0]
    for lat in (lat_min, lat_max):
        if not crossing and abs(lat) < 90.0:
            crossing = _crosses_parallel(shape, lat, lon0, width)
    if not marks:  # the whole sky
        return True, False
    ours_in_theirs = stencil.contains(*_vertices_deg(footprint))
    lon, lat = np.radians(np.array(marks, dtype=np.float64).T)
    theirs_in_ours = shape.contains(to_vectors(lon, lat))
    overlaps = crossing or bool(ours_in_theirs.any()) or bool(theirs_in_ours.any())
    covers = not crossing and bool(theirs_in_ours.all()) and not bool(ours_in_theirs.any())
    return overlaps, covers


def _test(footprint: Footprint, region: Region, *, need_covers: bool) -> tuple[bool, bool]:
    if isinstance(region, Circle):
        return _circle(footprint, region, need_covers=need_covers)
    if isinstance(region, Polygon):
        return _polygon(footprint, region)
    return _range(footprint, region)


def overlaps(footprint: Footprint, region: Region) -> bool:
    """Whether a CIRCLE, POLYGON or RANGE (ICRS) shares a point with the image."""
    return _test(footprint, region, need_covers=False)[0]


def covers(footprint: Footprint, region: Region) -> bool:
    """Whether the image holds the whole of a CIRCLE, POLYGON or RANGE (ICRS)."""
    return _test(footprint, region, need_covers=True)[1]


def overlaps_each(footprints: Sequence[Footprint], region: Region) -> _Bool:
    """Whether a region shares a point with each of many images: :func:`overlaps`, batched.

    A CIRCLE (a point is one of radius 0) is tested against every footprint
    whose cap it reaches at once (:func:`~skycut.index.spherical.contain_point`,
    then :func:`~skycut.index.spherical.boundary_distances` for the centres
    left outside); other regions one footprint at a time.

    Returns
    -------
    numpy.ndarray
        One boolean per footprint.

    """
    if not isinstance(region, Circle):
        return np.array([overlaps(f, region) for f in footprints], dtype=bool)
    result = np.zeros(len(footprints), dtype=bool)
    near = [k for k, f in enumerate(footprints) if f.may_meet(region.ra, region.dec, region.radius)]
    if not near:
        return result
    centre = to_vectors(*np.radians((region.ra, region.dec)))
    polygons = [footprints[k].polygon for k in near]
    inside = contain_point(polygons, centre)
    outside = np.flatnonzero(~inside)
    if outside.size:
        gaps = boundary_distances([polygons[k] for k in outside], centre)
        inside[outside] = gaps <= math.radians(region.radius)
    result[near] = inside
    return result
