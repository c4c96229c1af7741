"""An image's ``s_region``: its outline as a DALI polygon of at most a hundred or so vertices.

An outline (:class:`skycut.index.footprint.Footprint`) holds as many
vertices as it takes to follow the image's border within 0.002 px: four
for a plain TAN image, up to about a thousand for a distorted (SIP) one.
ObsCore's ``s_region`` only has to describe the covered region, and a
thousand vertices would make each row of a response some 40 kB, so an
outline with more vertices than asked for is replaced by a polygon that
still **contains** it:

1. the vertices are projected gnomonically about the footprint's centre,
   where great-circle arcs are straight lines;
2. the vertices where the outline turns inwards are dropped until it is
   convex: its convex hull (a side that distortion bends inwards is then
   replaced by its chord, so the polygon is looser there);
3. the hull's sharp corners (turning by 10° or more) and vertices evenly
   spaced along it are kept;
4. each chord between two kept vertices is pushed outwards, parallel to
   itself, until no vertex it skips lies beyond it;
5. the pushed chords, meeting their neighbours, give the new vertices.

The result is checked before it is used: it must be convex and wind once
(then it is the intersection of the pushed chords' half-planes) and every
vertex of the outline must lie inside every one of those half-planes
(then it holds the outline's convex hull, so the outline). A footprint
that fails, or whose enclosing cap is too large for the projection
(radius above 80°), keeps all of its vertices. An outline of a thousand
vertices takes about 1 ms.

Vertices are ordered as in DALI 1.1 §3.3.7's example, counter-clockwise
seen from outside the sphere (RA increasing to the right), with RA in
``[0, 360)``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from skycut.cutout.sphere import Array, from_vectors, to_vectors
from skycut.index.footprint import Footprint

__all__ = ["DEFAULT_MAX_VERTICES", "region_polygon"]

DEFAULT_MAX_VERTICES = 100
"""The most vertices an ``s_region`` polygon is given (unless simplifying fails)."""

_CORNER = math.radians(10.0)
_MAX_RADIUS = 80.0  # degrees: the gnomonic projection is finite below 90
_Vertices = tuple[tuple[float, float], ...]


def region_polygon(footprint: Footprint, *, max_vertices: int = DEFAULT_MAX_VERTICES) -> _Vertices:
    """Return ``(ra, dec)`` vertices (degrees) of a polygon that holds the footprint.

    Parameters
    ----------
    footprint
        The image's outline.
    max_vertices
        Simplify outlines with more vertices than this (at least 8).

    Returns
    -------
    tuple
        The outline's own vertices if it has at most ``max_vertices`` (or
        cannot be simplified safely), else at most ``max_vertices`` vertices
        of a convex polygon holding the whole outline.

    """
    if max_vertices < 8:
        msg = f"max_vertices must be at least 8, got {max_vertices}"
        raise ValueError(msg)
    vertices = footprint.vertices
    own: _Vertices = tuple((a, b) for a, b in vertices.tolist())
    if len(vertices) <= max_vertices or footprint.radius > _MAX_RADIUS:
        return own
    centre = to_vectors(*np.radians(footprint.centre))
    east, north = _tangent_basis(centre)
    lon, lat = np.radians(vertices.T)
    sky = to_vectors(lon, lat)
    depth = sky @ centre
    if not (depth > 1e-6).all():
        return own
    plane = np.stack([(sky @ east) / depth, (sky @ north) / depth], axis=1)
    outer = _outer_polygon(plane, max_vertices)
    if outer is None:
        return own
    back = centre[None, :] + outer[:, :1] * east[None, :] + outer[:, 1:] * north[None, :]
    ra, dec = from_vectors(back)
    return tuple(
        (float(a) % 360.0, float(d)) for a, d in zip(np.degrees(ra), np.degrees(dec), strict=True)
    )


def _tangent_basis(centre: Array) -> tuple[Array, Array]:
    """Return unit east and north at ``centre``; east x north = centre (the view from outside)."""
    pole = np.array([0.0, 0.0, 1.0]) if abs(centre[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    east = np.cross(pole, centre)
    east /= np.linalg.norm(east)
    return east, np.cross(centre, east)


def _cross(a: Array, b: Array) -> Array:
    return np.asarray(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0], dtype=np.float64)


def _turns(points: Array) -> Array:
    """Sine of the turn at each vertex of a closed polygon (positive to the left)."""
    before = points - np.roll(points, 1, axis=0)
    after = np.roll(points, -1, axis=0) - points
    norms = np.hypot(before[:, 0], before[:, 1]) * np.hypot(after[:, 0], after[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(_cross(before, after) / norms, dtype=np.float64)


def _hull(plane: Array) -> Array | None:
    """Return the convex hull of a counter-clockwise outline, dropping its reflex vertices.

    An outline bent inwards along a side (as SIP distortion bends some) loses
    that side's inner vertices in one pass; a few passes suffice for any
    image. Outlines this does not make convex are left to the caller.
    """
    points = plane
    for _ in range(16):
        convex = _turns(points) > 1e-9
        if convex.all():
            return points
        if convex.sum() < 3:
            return None
        points = points[convex]
    return None


def _kept(hull: Array, max_vertices: int) -> npt.NDArray[np.intp] | None:
    """Return the indices of the hull's sharp corners and of evenly spaced vertices, in order."""
    n = hull.shape[0]
    corners = np.flatnonzero(np.arcsin(np.clip(_turns(hull), -1.0, 1.0)) >= _CORNER)
    budget = max_vertices - corners.size
    if budget < 4:
        return None
    kept = np.union1d(corners, np.arange(0, n, math.ceil(n / budget)))
    # a kept vertex on a straight stretch would make two parallel chords: merge them
    kept = kept[_turns(hull[kept]) > 1e-9]
    return kept if kept.size >= 3 and (_turns(hull[kept]) > 1e-9).all() else None


def _outer_polygon(plane: Array, max_vertices: int) -> Array | None:
    """Return a convex polygon of <= ``max_vertices`` holding ``plane``'s, or `None`."""
    # a footprint runs counter-clockwise; anything else fails the checks below
    hull = _hull(plane)
    if hull is None:
        return None
    kept = np.arange(hull.shape[0]) if hull.shape[0] <= max_vertices else _kept(hull, max_vertices)
    if kept is None:
        return None
    starts = hull[kept]
    direction = np.roll(starts, -1, axis=0) - starts
    direction /= np.hypot(direction[:, 0], direction[:, 1])[:, None]
    outward = np.stack([direction[:, 1], -direction[:, 0]], axis=1)  # the right of a CCW edge
    # every hull vertex belongs to the chord that starts at or before it
    chord = np.searchsorted(kept, np.arange(hull.shape[0]), side="right") - 1
    chord %= kept.size
    beyond = np.sum((hull - starts[chord]) * outward[chord], axis=1)
    push = np.zeros(kept.size)
    np.maximum.at(push, chord, beyond)
    push += 1e-12 * (1.0 + float(np.abs(plane).max()))  # rounding of the lines' intersections
    anchors = starts + push[:, None] * outward
    # corner j: where pushed chord j-1 meets pushed chord j
    prev_dir, prev_anchor = np.roll(direction, 1, axis=0), np.roll(anchors, 1, axis=0)
    along = _cross(anchors - prev_anchor, direction) / _cross(prev_dir, direction)
    corners = prev_anchor + along[:, None] * prev_dir
    return corners if _holds(corners, direction, anchors, outward, plane) else None


def _holds(corners: Array, direction: Array, anchors: Array, outward: Array, plane: Array) -> bool:
    """Whether the polygon is the convex intersection of the half-planes, holding every vertex."""
    if not np.isfinite(corners).all():
        return False
    edges = np.roll(corners, -1, axis=0) - corners
    if not (np.sum(edges * direction, axis=1) > 0).all():
        return False  # a chord was pushed past its neighbours' meeting point
    heading = np.arctan2(direction[:, 1], direction[:, 0])
    turned = float(np.mod(np.diff(heading, append=heading[0]), 2 * np.pi).sum())
    if not math.isclose(turned, 2 * math.pi, rel_tol=1e-9):
        return False  # winds more than once
    reach = (plane @ outward.T).max(axis=0)  # how far out along each chord's normal
    return bool((reach <= np.sum(anchors * outward, axis=1)).all())
