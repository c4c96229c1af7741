"""Spherical polygons of any size, told inside from outside by a point known inside.

A closed loop of great-circle arcs splits the sphere in two, and which of
the two an outline means cannot be read from the loop alone once it may be
larger than a hemisphere (an all-sky image's outline is). A
:class:`SphericalPolygon` therefore carries one point known to be inside
(an image's central pixel), and a point is inside when the path from that
point to it crosses the loop an even number of times.

Every test reduces to the sign of 3x3 determinants of unit vectors, so it
works the same at the poles, across RA = 0 and for loops of any size. A
determinant that is exactly zero counts as positive everywhere (a fixed
symbolic perturbation), so a path through a vertex is counted consistently
by the two edges that share it; only points exactly on the loop may go
either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from skycut.cutout.sphere import Array

__all__ = [
    "SphericalPolygon",
    "angle_between",
    "arcs_cross",
    "boundary_distances",
    "contain_point",
    "enclosing_cap",
]

_Bool = npt.NDArray[np.bool_]
_Sign = npt.NDArray[np.int8]
# Points at most this cosine from the inner point go there in two legs through a
# waypoint 90° from it, so no leg is near 180° (where its great circle is undefined).
_TWO_LEGS_BELOW = -0.5
_CHUNK = 1 << 21  # elements of a points-by-edges matrix built at once


def _sign(det: Array) -> _Sign:
    """+1 where ``det >= 0``, else -1: zero is perturbed to the positive side."""
    return np.where(det >= 0.0, 1, -1).astype(np.int8)


def angle_between(a: Array, b: Array) -> Array:
    """Angles (radians) between unit vectors, exact from 0 to π."""
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.asarray(np.arctan2(cross, np.sum(a * b, axis=-1)), dtype=np.float64)


def arcs_cross(a: Array, b: Array, c: Array, d: Array) -> _Bool:
    """Whether arcs ``ab`` and ``cd`` (each shorter than 180°) cross.

    Parameters
    ----------
    a, b, c, d
        Unit vectors of shape ``(..., 3)``, broadcast together.

    Returns
    -------
    numpy.ndarray
        `True` where the arcs share a point; arcs that only touch at an end
        count as crossing or not consistently with the sign convention.

    """
    ab, cd = np.cross(a, b), np.cross(c, d)
    acb = -_sign(np.sum(ab * c, axis=-1))
    bda = _sign(np.sum(ab * d, axis=-1))
    cbd = -_sign(np.sum(cd * b, axis=-1))
    dac = _sign(np.sum(cd * a, axis=-1))
    return np.asarray((acb == bda) & (bda == cbd) & (cbd == dac))


def _crossing_counts(
    starts: Array, ends: Array, vertices: Array, normals: Array
) -> npt.NDArray[np.int64]:
    """How many polygon edges each path ``starts[k] -> ends[k]`` crosses.

    ``starts`` and ``ends`` have shape ``(k, 3)`` (``starts`` may be ``(3,)``);
    ``normals[j]`` is ``cross(vertices[j], vertices[j + 1])``.
    """
    starts = np.broadcast_to(starts, ends.shape)
    counts = np.zeros(ends.shape[0], dtype=np.int64)
    step = max(1, _CHUNK // max(1, vertices.shape[0]))
    for lo in range(0, ends.shape[0], step):
        c, d = starts[lo : lo + step], ends[lo : lo + step]
        acb = -_sign(c @ normals.T)
        bda = _sign(d @ normals.T)
        # One determinant per (path, vertex), shared by the two edges meeting there.
        side = _sign(np.cross(c, d) @ vertices.T)
        cbd, dac = -np.roll(side, -1, axis=1), side
        crossed = (acb == bda) & (bda == cbd) & (cbd == dac)
        counts[lo : lo + step] = crossed.sum(axis=1)
    return counts


def _perpendicular(v: Array) -> Array:
    """Return a unit vector perpendicular to unit vector ``v``."""
    axis = np.zeros(3)
    axis[int(np.argmin(np.abs(v)))] = 1.0
    w = np.cross(v, axis)
    return np.asarray(w / np.linalg.norm(w), dtype=np.float64)


class SphericalPolygon:
    """A loop of great-circle arcs and the side of it that holds ``inner``.

    Parameters
    ----------
    vertices
        Unit vectors, shape ``(n, 3)``, ``n >= 3``; the last joins the first.
        Consecutive vertices must be less than 180° apart; repeated ones are
        dropped.
    inner
        A unit vector strictly inside.

    Raises
    ------
    ValueError
        If fewer than three distinct vertices remain.

    """

    def __init__(self, vertices: Array, inner: Array) -> None:
        vertices = np.asarray(vertices, dtype=np.float64)
        distinct = angle_between(vertices, np.roll(vertices, -1, axis=0)) > 1e-15
        vertices = vertices[distinct]
        if vertices.shape[0] < 3:
            raise ValueError("a polygon needs at least three distinct vertices")
        self.vertices = vertices
        self.normals = np.cross(vertices, np.roll(vertices, -1, axis=0))
        self.inner = np.asarray(inner, dtype=np.float64)
        self._waypoint = _perpendicular(self.inner)
        self._waypoint_parity = int(
            _crossing_counts(self.inner, self._waypoint[None, :], vertices, self.normals)[0] % 2
        )

    @property
    def following(self) -> Array:
        """Each vertex's successor (made when asked: a process keeps thousands of polygons)."""
        return np.roll(self.vertices, -1, axis=0)

    def contains(self, points: Array) -> _Bool:
        """Whether unit vectors, shape ``(k, 3)``, are inside."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        far = points @ self.inner < _TWO_LEGS_BELOW
        starts = np.where(far[:, None], self._waypoint, self.inner)
        parity = _crossing_counts(starts, points, self.vertices, self.normals) % 2
        parity = np.where(far, parity + self._waypoint_parity, parity) % 2
        return np.asarray(parity == 0)

    def crosses(self, starts: Array, ends: Array) -> bool:
        """Whether any arc ``starts[k] -> ends[k]`` (shape ``(k, 3)``) crosses an edge."""
        return bool(_crossing_counts(starts, ends, self.vertices, self.normals).any())

    def boundary_distance(self, points: Array) -> Array:
        """Angular distance (radians) from unit vectors ``(k, 3)`` to the nearest edge."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        unit = self.normals / np.linalg.norm(self.normals, axis=-1, keepdims=True)
        # The great circle's point nearest p lies on the arc iff it is turned
        # from a towards b, and not past b, about the edge's normal.
        after_a = np.cross(unit, self.vertices)
        before_b = np.cross(self.following, unit)
        best = np.full(points.shape[0], math.pi)
        step = max(1, _CHUNK // (3 * self.vertices.shape[0]))
        for lo in range(0, points.shape[0], step):
            p = points[lo : lo + step]
            on_arc = (p @ after_a.T >= 0.0) & (p @ before_b.T >= 0.0)
            to_circle = np.arcsin(np.clip(np.abs(p @ unit.T), 0.0, 1.0))
            e = angle_between(p[:, None, :], self.vertices[None, :, :])
            to_ends = np.minimum(e, np.roll(e, -1, axis=1))
            best[lo : lo + step] = np.where(on_arc, to_circle, to_ends).min(axis=1)
        return best


class _Stack:
    """The edges of many polygons as one array, for the batched tests below."""

    def __init__(self, polygons: Sequence[SphericalPolygon]) -> None:
        sizes = np.array([p.vertices.shape[0] for p in polygons], dtype=np.intp)
        self.first = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        self.sizes = sizes
        self.vertices = np.concatenate([p.vertices for p in polygons])
        self.normals = np.concatenate([p.normals for p in polygons])
        # each edge's next vertex within its own polygon (the last wraps to the first)
        self.next = np.arange(1, self.vertices.shape[0] + 1, dtype=np.intp)
        self.next[self.first + sizes - 1] = self.first
        self.following = self.vertices[self.next]


def contain_point(polygons: Sequence[SphericalPolygon], point: Array) -> _Bool:
    """Whether one unit vector lies inside each of many polygons.

    The same test as :meth:`SphericalPolygon.contains` (the same paths and
    determinants), made for all the polygons' edges at once: a cell lookup
    hands the exact test hundreds of candidates for one position, and one
    polygon at a time costs ~0.1 ms of numpy calls each.

    Parameters
    ----------
    polygons
        The polygons (at least one).
    point
        A unit vector, shape ``(3,)``.

    Returns
    -------
    numpy.ndarray
        One boolean per polygon.

    """
    point = np.asarray(point, dtype=np.float64)
    edges = _Stack(polygons)
    inner = np.stack([p.inner for p in polygons])
    far = inner @ point < _TWO_LEGS_BELOW
    starts = np.where(far[:, None], np.stack([p._waypoint for p in polygons]), inner)
    per_edge = np.repeat(starts, edges.sizes, axis=0)
    acb = -_sign(np.einsum("ij,ij->i", per_edge, edges.normals))
    bda = _sign(edges.normals @ point)
    side = _sign(np.einsum("ij,ij->i", np.repeat(np.cross(starts, point), edges.sizes, axis=0),
                           edges.vertices))  # fmt: skip
    cbd, dac = -side[edges.next], side
    crossed = (acb == bda) & (bda == cbd) & (cbd == dac)
    parity = np.add.reduceat(crossed.astype(np.int64), edges.first) % 2
    waypoint_parity = np.array([p._waypoint_parity for p in polygons])
    parity = np.where(far, parity + waypoint_parity, parity) % 2
    return np.asarray(parity == 0)


def boundary_distances(polygons: Sequence[SphericalPolygon], point: Array) -> Array:
    """Angular distance (radians) from one unit vector to each polygon's nearest edge.

    :meth:`SphericalPolygon.boundary_distance` for many polygons at once.
    """
    point = np.asarray(point, dtype=np.float64)
    edges = _Stack(polygons)
    unit = edges.normals / np.linalg.norm(edges.normals, axis=-1, keepdims=True)
    on_arc = (np.cross(unit, edges.vertices) @ point >= 0.0) & (
        np.cross(edges.following, unit) @ point >= 0.0
    )
    to_circle = np.arcsin(np.clip(np.abs(unit @ point), 0.0, 1.0))
    e = angle_between(edges.vertices, point[None, :])
    to_ends = np.minimum(e, e[edges.next])
    nearest = np.where(on_arc, to_circle, to_ends)
    return np.asarray(np.minimum.reduceat(nearest, edges.first), dtype=np.float64)


def enclosing_cap(vectors: Array, start: Array) -> tuple[Array, float]:
    """Find a small cap around unit vectors: a centre and the largest angle to any of them.

    The centre moves from ``start`` towards the farthest point by shrinking
    steps (Bădoiu and Clarkson's core-set iteration), which brings the
    radius within a few per cent of the smallest enclosing cap's when that
    cap is smaller than a hemisphere; the radius returned is the exact
    largest angle from the centre returned.

    Parameters
    ----------
    vectors
        Unit vectors, shape ``(n, 3)``.
    start
        The first guess of the centre, a unit vector.

    Returns
    -------
    tuple
        The centre (unit vector) and the radius in radians.

    """
    centre = np.asarray(start, dtype=np.float64)
    best, best_radius = centre, float(angle_between(vectors, centre).max())
    for k in range(1, 200):
        angles = angle_between(vectors, centre)
        radius = float(angles.max())
        if radius < best_radius:
            best, best_radius = centre, radius
        moved = centre + (vectors[int(np.argmax(angles))] - centre) / (k + 1)
        length = float(np.linalg.norm(moved))
        if length < 1e-12:
            break
        centre = moved / length
    return best, best_radius
