"""Vectorised spherical geometry on the unit sphere, in radians.

Longitudes and latitudes go in and out as numpy arrays; unit vectors are
arrays of shape ``(..., 3)``. Every function works on whole arrays at once,
so masks over millions of pixels cost a few array passes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "Array",
    "from_vectors",
    "great_circle_points",
    "separation",
    "small_circle_points",
    "to_vectors",
]

Array = npt.NDArray[np.float64]


def to_vectors(lon: Array | float, lat: Array | float) -> Array:
    """Return unit vectors of shape ``(..., 3)`` for longitudes and latitudes."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def from_vectors(vectors: Array) -> tuple[Array, Array]:
    """Return ``(lon, lat)`` of vectors, lon in ``[0, 2π)``; vectors need not be unit."""
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    lon = np.mod(np.arctan2(y, x), 2.0 * np.pi)
    lat = np.arctan2(z, np.hypot(x, y))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def separation(lon1: Array | float, lat1: Array | float, lon2: float, lat2: float) -> Array:
    """Great-circle distance (Vincenty's formula, exact at all angles)."""
    lon1, lat1 = np.asarray(lon1, dtype=np.float64), np.asarray(lat1, dtype=np.float64)
    dlon = lon1 - lon2
    num = np.hypot(
        np.cos(lat2) * np.sin(dlon),
        np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon),
    )
    den = np.sin(lat1) * np.sin(lat2) + np.cos(lat1) * np.cos(lat2) * np.cos(dlon)
    return np.asarray(np.arctan2(num, den), dtype=np.float64)


def small_circle_points(
    lon0: float, lat0: float, radius: float, bearing: Array
) -> tuple[Array, Array]:
    """Points at ``radius`` from ``(lon0, lat0)`` along each bearing (from north, via east)."""
    sin_lat = np.sin(lat0) * np.cos(radius) + np.cos(lat0) * np.sin(radius) * np.cos(bearing)
    lat = np.arcsin(np.clip(sin_lat, -1.0, 1.0))
    dlon = np.arctan2(
        np.sin(bearing) * np.sin(radius) * np.cos(lat0), np.cos(radius) - np.sin(lat0) * sin_lat
    )
    return np.asarray(lon0 + dlon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def great_circle_points(start: Array, stop: Array, t: Array) -> Array:
    """Points a fraction ``t`` of the way along the shorter arcs from ``start`` to ``stop``.

    Parameters
    ----------
    start, stop
        Unit vectors, shape ``(n, 3)``; each pair less than 180° apart.
    t
        Fractions in ``[0, 1]``, shape ``(n,)``.

    Returns
    -------
    numpy.ndarray
        Unit vectors, shape ``(n, 3)``, spaced evenly in angle along each arc.

    """
    cross = np.linalg.norm(np.cross(start, stop), axis=-1)
    angle = np.arctan2(cross, np.einsum("ij,ij->i", start, stop))
    # sin(tθ)/sin θ without the 0/0 of identical ends (where it tends to t).
    with np.errstate(invalid="ignore", divide="ignore"):
        sin_angle = np.sin(angle)
        a = np.where(sin_angle > 0, np.sin((1.0 - t) * angle) / sin_angle, 1.0 - t)
        b = np.where(sin_angle > 0, np.sin(t * angle) / sin_angle, t)
    points = a[:, None] * start + b[:, None] * stop
    return np.asarray(points / np.linalg.norm(points, axis=-1, keepdims=True), dtype=np.float64)
