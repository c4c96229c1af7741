"""An image's border on the sky as great-circle arcs that leave no pixel outside.

The border is the rectangle of pixel edges, ``x = -0.5 ... nx - 0.5`` and
``y = -0.5 ... ny - 0.5`` (0-based pixel centres), mapped to the sky
through the full WCS (SIP and other distortions included). An arc between
two points of the mapped border is a chord of it: where the border curves
the chord cuts inside it, and a polygon through the border itself would
miss slivers of the image. So the vertices are placed on the border
*pushed out* by ``margin`` pixels, and every arc is refined until, mapped
back to pixels, it stays within ``tolerance`` of that pushed border at
seven points spaced evenly along it. With ``tolerance <= margin / 2`` and
the WCS inverting to better than ``tolerance / 2`` (checked at every
vertex), each arc passes at least ``margin / 4`` pixel outside the image
at those points; since a chord's departure from a smooth curve grows as
the square of the arc's length and is largest mid-arc, seven probes bound
it between them with room to spare. The outline is also at most
``margin + tolerance`` outside the image, so it is exact to a few
thousandths of a pixel either way. A plain TAN projection maps great
circles to straight lines, so its outline is its four corners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skycut.cutout.projection import SkyProjection
from skycut.cutout.sphere import Array, from_vectors, great_circle_points, to_vectors
from skycut.index.errors import UnindexableError
from skycut.index.spherical import angle_between

__all__ = ["Outline", "trace_outline"]

_PROBES = np.arange(1, 8) / 8.0  # where along each arc it is compared with the border
_MAX_ARC = math.radians(10.0)  # longer arcs are split whatever their fit
_MAX_VERTICES = 20_000
_MAX_ROUNDS = 64
_MIN_SEGMENT = 1e-4  # pixels: a border piece this short that still fits badly is a singularity
_IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Outline:
    """The vertices of an image's outline, in the pixel border's order.

    Attributes
    ----------
    x, y
        The vertices' pixel coordinates (0-based), on the pushed border,
        counter-clockwise in pixel space (``x`` right, ``y`` up).
    lon, lat
        Their ICRS coordinates, in degrees.

    """

    x: Array
    y: Array
    lon: Array
    lat: Array


class _Border:
    """The pushed border as a function of a perimeter parameter ``s`` in ``[0, 4)``.

    Side ``k`` is ``s`` in ``[k, k + 1)``: bottom (``y`` low, ``x`` rising),
    right, top, left, so the corners are at whole ``s``.
    """

    def __init__(self, nx: int, ny: int, margin: float) -> None:
        self.lo = -0.5 - margin
        self.hx = nx - 0.5 + margin
        self.hy = ny - 0.5 + margin
        self.lengths = np.array([self.hx - self.lo, self.hy - self.lo] * 2)

    def pixels(self, s: Array) -> tuple[Array, Array]:
        side, f = np.floor(s).astype(np.intp) % 4, s - np.floor(s)
        lo, hx, hy = self.lo, self.hx, self.hy
        x = np.choose(side, [lo + f * (hx - lo), hx, hx - f * (hx - lo), lo])
        y = np.choose(side, [lo, lo + f * (hy - lo), hy, hy - f * (hy - lo)])
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def inward(self, side: _IntArray, x: Array, y: Array) -> Array:
        """How far pixel points lie inside the pushed border line of ``side``."""
        lo, hx, hy = self.lo, self.hx, self.hy
        return np.asarray(np.choose(side, [y - lo, hx - x, hy - y, x - lo]), dtype=np.float64)


def _sky(projection: SkyProjection, border: _Border, s: Array, source: str) -> tuple[Array, Array]:
    x, y = border.pixels(s)
    lon, lat = projection.to_sky(x, y)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise UnindexableError(f"{source}: the WCS gives no sky position for part of its border")
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def trace_outline(
    projection: SkyProjection,
    size: tuple[int, int],
    *,
    margin: float,
    tolerance: float,
    source: str = "the image",
) -> Outline:
    """Outline an image on the sky (see the module's description for the guarantee).

    Parameters
    ----------
    projection
        The image's celestial WCS.
    size
        ``(nx, ny)``, the pixel counts along the WCS's first and second axes.
    margin
        How far (pixels) outside the image's border the vertices lie.
    tolerance
        How far (pixels) each arc may stray from the pushed border, at most
        ``margin / 2``.
    source
        The image's name, for messages.

    Returns
    -------
    Outline
        The vertices.

    Raises
    ------
    skycut.index.errors.UnindexableError
        If part of the border has no sky position, the WCS does not map the
        border back onto itself, or the border cannot be followed within
        ``tolerance`` with at most 20,000 vertices.

    """
    border = _Border(*size, margin)
    s = np.arange(4, dtype=np.float64)  # the corners; sides are split where they bend
    lon, lat = _sky(projection, border, s, source)
    settled = False
    for _ in range(_MAX_ROUNDS):
        side = np.floor(s).astype(np.intp)
        start = to_vectors(np.radians(lon), np.radians(lat))
        stop = np.roll(start, -1, axis=0)
        arcs = np.repeat(np.arange(s.size), _PROBES.size)
        probes = great_circle_points(start[arcs], stop[arcs], np.tile(_PROBES, s.size))
        px, py = projection.to_pixel(*from_vectors(probes))
        with np.errstate(invalid="ignore"):
            off = np.abs(border.inward(side[arcs], px, py))
            fits = (off <= tolerance).reshape(s.size, _PROBES.size).all(axis=1)
        bad = ~fits | (angle_between(start, stop) > _MAX_ARC)
        if not bad.any():
            settled = True
            break
        following = np.append(s[1:], 4.0)
        if ((following - s) * border.lengths[side] < _MIN_SEGMENT)[bad].any():
            raise UnindexableError(
                f"{source}: the WCS cannot be followed along its border (it folds or "
                "has a singularity there)"
            )
        new = 0.5 * (s[bad] + following[bad])
        new_lon, new_lat = _sky(projection, border, new, source)
        order = np.argsort(np.concatenate([s, new]), kind="stable")
        s = np.concatenate([s, new])[order]
        lon, lat = np.concatenate([lon, new_lon])[order], np.concatenate([lat, new_lat])[order]
        if s.size > _MAX_VERTICES:
            break
    if not settled:
        raise UnindexableError(
            f"{source}: its border bends too much to outline within {tolerance} pixel "
            f"with {_MAX_VERTICES} vertices"
        )
    x, y = border.pixels(s)
    _check_round_trip(projection, x, y, lon, lat, tolerance / 2.0, source)
    return Outline(x=x, y=y, lon=lon, lat=lat)


def _check_round_trip(
    projection: SkyProjection,
    x: Array,
    y: Array,
    lon: Array,
    lat: Array,
    limit: float,
    source: str,
) -> None:
    """Refuse a WCS that does not map the border's sky positions back to the border."""
    bx, by = projection.to_pixel(np.radians(lon), np.radians(lat))
    with np.errstate(invalid="ignore"):
        error = np.hypot(bx - x, by - y)
    if not (error <= limit).all():
        worst = float(np.nanmax(error)) if np.isfinite(error).any() else math.inf
        raise UnindexableError(
            f"{source}: its WCS does not map its border back onto itself (off by up to "
            f"{worst:.3g} pixel): it wraps around the sky or does not invert"
        )
