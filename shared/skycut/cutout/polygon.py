"""Spherical polygons: validation and a vectorised point-in-polygon test.

A polygon's edges are great-circle arcs. The gnomonic projection centred on
the vertices' mean direction maps every great circle to a straight line, so
within the hemisphere around that centre the spherical polygon *is* a plane
polygon there, and containment is the plane's even-odd test, exactly.

Which of the two regions an edge loop bounds is the one on the centre's side,
the smaller one: the winding order does not matter, so clockwise polygons
mean the same as counter-clockwise ones (DALI 1.1 §3.3.7 asks for
counter-clockwise; we accept both rather than refuse or invert a request).
The price is that a polygon must lie within a hemisphere around its
vertices' mean direction, which every polygon worth cutting from an image does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skycut.cutout.sphere import Array, to_vectors

__all__ = ["GnomonicPolygon"]

# Vertices must be more than ~89.9° from the centre: beyond, the plane
# coordinates grow without bound and the even-odd test loses precision.
_MIN_HEIGHT = 2e-3
_Bool = npt.NDArray[np.bool_]


def _orient(ax: Array, ay: Array, bx: Array, by: Array, cx: Array, cy: Array) -> Array:
    """Twice the signed area of triangles ``abc`` (positive counter-clockwise)."""
    return np.asarray((bx - ax) * (cy - ay) - (by - ay) * (cx - ax), dtype=np.float64)


def _between(ax: Array, ay: Array, bx: Array, by: Array, px: Array, py: Array) -> _Bool:
    """Whether points ``p`` known to be on line ``ab`` lie on the segment ``ab``."""
    return np.asarray(
        (np.minimum(ax, bx) <= px)
        & (px <= np.maximum(ax, bx))
        & (np.minimum(ay, by) <= py)
        & (py <= np.maximum(ay, by))
    )


@dataclass(frozen=True)
class GnomonicPolygon:
    """A spherical polygon as a plane polygon in its own gnomonic projection.

    Attributes
    ----------
    centre, east, north
        The projection's centre and the tangent plane's axes, unit vectors.
    u, v
        The vertices in the tangent plane.

    """

    centre: Array
    east: Array
    north: Array
    u: Array
    v: Array

    @classmethod
    def from_vertices(cls, lon: Array, lat: Array) -> GnomonicPolygon:
        """Project and check the vertices of a polygon, given in radians.

        Raises
        ------
        ValueError
            If two consecutive vertices coincide, the vertices do not lie
            within a hemisphere, the polygon has no area or its edges cross;
            the message says which.

        """
        points = to_vectors(lon, lat)
        nxt = np.roll(points, -1, axis=0)
        if (np.linalg.norm(points - nxt, axis=-1) < 1e-15).any():
            raise ValueError(
                "two consecutive vertices are the same point (the polygon closes itself: "
                "do not repeat the first vertex at the end)"
            )
        total = points.sum(axis=0)
        if np.linalg.norm(total) < 1e-12:
            raise ValueError("the vertices do not lie within a hemisphere")
        centre = total / np.linalg.norm(total)
        if (points @ centre < _MIN_HEIGHT).any():
            raise ValueError(
                "the vertices must lie within a hemisphere (less than 90° from their mean "
                "direction)"
            )
        east = np.cross([0.0, 0.0, 1.0], centre)
        if np.linalg.norm(east) < 1e-12:  # centred on a pole: any east will do
            east = np.array([0.0, 1.0, 0.0])
        east /= np.linalg.norm(east)
        north = np.cross(centre, east)
        height = points @ centre
        polygon = cls(centre, east, north, points @ east / height, points @ north / height)
        polygon._check_shape()
        return polygon

    def _check_shape(self) -> None:
        u, v = self.u, self.v
        un, vn = np.roll(u, -1), np.roll(v, -1)
        n = u.size
        i, j = np.triu_indices(n, k=2)
        adjacent = (i == 0) & (j == n - 1)
        i, j = i[~adjacent], j[~adjacent]
        # Edges i and j cross if each one's ends lie on both sides of the other.
        d1 = _orient(u[i], v[i], un[i], vn[i], u[j], v[j])
        d2 = _orient(u[i], v[i], un[i], vn[i], un[j], vn[j])
        d3 = _orient(u[j], v[j], un[j], vn[j], u[i], v[i])
        d4 = _orient(u[j], v[j], un[j], vn[j], un[i], vn[i])
        crossing = (d1 * d2 < 0) & (d3 * d4 < 0)
        # An end exactly on the other edge (or collinear overlap) counts as touching.
        touching = (
            ((d1 == 0) & _between(u[i], v[i], un[i], vn[i], u[j], v[j]))
            | ((d2 == 0) & _between(u[i], v[i], un[i], vn[i], un[j], vn[j]))
            | ((d3 == 0) & _between(u[j], v[j], un[j], vn[j], u[i], v[i]))
            | ((d4 == 0) & _between(u[j], v[j], un[j], vn[j], un[i], vn[i]))
        )
        if (crossing | touching).any():
            raise ValueError("the polygon's edges cross or touch each other")
        area = 0.5 * float(np.sum(u * vn - un * v))
        perimeter = float(np.sum(np.hypot(un - u, vn - v)))
        if abs(area) <= 1e-6 * perimeter**2:
            raise ValueError("the polygon has no area (its vertices lie on one great circle)")
        # A vertex whose two edges fold back onto each other makes a spike of no width.
        up, vp = np.roll(u, 1), np.roll(v, 1)
        turn = _orient(up, vp, u, v, un, vn)
        back = (u - up) * (un - u) + (v - vp) * (vn - v) < 0
        if ((np.abs(turn) <= 1e-12 * perimeter**2) & back).any():
            raise ValueError("the polygon's edges fold back onto each other")

    def contains(self, lon: Array, lat: Array) -> _Bool:
        """Whether points (radians) are inside; points on an edge may go either way.

        Returns
        -------
        numpy.ndarray
            Booleans of the shape of ``lon`` and ``lat``.

        """
        points = to_vectors(lon, lat)
        height = points @ self.centre
        front = height > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            pu = np.where(front, points @ self.east / height, np.inf)
            pv = np.where(front, points @ self.north / height, np.inf)
        inside = np.zeros(pu.shape, dtype=bool)
        u, v = self.u, self.v
        for k in range(u.size):
            k1 = (k + 1) % u.size
            crosses = (v[k] > pv) != (v[k1] > pv)
            with np.errstate(invalid="ignore", divide="ignore"):
                at = u[k] + (pv - v[k]) * (u[k1] - u[k]) / (v[k1] - v[k])
            inside ^= crosses & (pu < at)
        return inside & front
