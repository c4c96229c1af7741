"""Pixel positions carried from one celestial WCS to another, and image borders to carry.

Which tiles an input touches and which of its pixels a tile needs are both
answered from points along borders: the part of image A that lands on image
B is bounded by A's border where it lies on B and by B's border where it
lies on A, so the bounding box of those points, sampled finer than a pixel
on the side that is measured, is the bounding box of the overlap. Points
whose position one WCS cannot give (the far side of a TAN projection, an
all-sky grid's outside) are NaN and count for nothing. An image that
reaches past its projection's edge (an all-sky grid's limb) is bounded
there by the limb rather than its border, so its every pixel centre is
carried instead (such images are rare and the cost is paid only by them).
"""

from __future__ import annotations

import math

import numpy as np
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from skycut.cutout.geometry import PixelBox
from skycut.cutout.projection import SkyProjection
from skycut.cutout.sphere import Array

__all__ = ["border_points", "bounding_box", "overlap_points", "pixel_scale", "transfer"]


def pixel_scale(wcs: WCS) -> float:
    """Return the geometric mean pixel side at the reference point, in degrees."""
    return float(np.sqrt(np.prod(proj_plane_pixel_scales(wcs.celestial))))


def border_points(shape: tuple[int, int], step: float) -> tuple[Array, Array]:
    """Points along the outer edge of an image's pixels, at most ``step`` pixels apart.

    Parameters
    ----------
    shape
        ``(ny, nx)``.
    step
        Largest spacing, in pixels, of this image.

    Returns
    -------
    x, y
        0-based pixel coordinates on the edges ``-0.5`` and ``n - 0.5``.

    """
    ny, nx = shape
    xs = np.linspace(-0.5, nx - 0.5, math.ceil(nx / step) + 1)
    ys = np.linspace(-0.5, ny - 0.5, math.ceil(ny / step) + 1)
    x = np.concatenate([xs, xs, np.full(ys.size, -0.5), np.full(ys.size, nx - 0.5)])
    y = np.concatenate([np.full(xs.size, -0.5), np.full(xs.size, ny - 0.5), ys, ys])
    return x, y


def transfer(source: WCS, target: WCS, x: Array, y: Array) -> tuple[Array, Array]:
    """Carry 0-based pixel positions of ``source`` to pixel positions of ``target``.

    Both WCSs are 2-D celestial, in any frames (positions go through ICRS)
    and with any distortions. Positions ``target`` cannot project are NaN.
    """
    lon, lat = SkyProjection(source).to_sky(x, y)
    return SkyProjection(target).to_pixel(np.radians(lon), np.radians(lat))


def overlap_points(
    wcs: WCS, shape: tuple[int, int], other: WCS, other_shape: tuple[int, int]
) -> tuple[Array, Array]:
    """Return points, in pixels of the first image, bounding the part the other covers.

    They are the other image's border where it lies on the first and the
    first image's border where it lies on the other, each sampled under half
    a pixel of the first image apart: the bounding box of the overlap is
    their bounding box. Both empty if the images do not overlap.
    """
    ny, nx = shape
    ratio = pixel_scale(other) / pixel_scale(wcs)
    ox, oy = transfer(other, wcs, *border_points(other_shape, 0.5 * min(1.0, 1.0 / ratio)))
    with np.errstate(invalid="ignore"):
        on_first = (ox >= -0.5) & (ox <= nx - 0.5) & (oy >= -0.5) & (oy <= ny - 0.5)
    bx, by = border_points(shape, 0.5 * min(1.0, ratio))
    tx, ty = transfer(wcs, other, bx, by)
    with np.errstate(invalid="ignore"):
        on_other = (tx >= -0.5) & (tx <= other_shape[1] - 0.5)
        on_other &= (ty >= -0.5) & (ty <= other_shape[0] - 0.5)
    x = np.concatenate([ox[on_first], bx[on_other]])
    y = np.concatenate([oy[on_first], by[on_other]])
    # An image reaching past its projection's edge (an all-sky grid's limb) is
    # bounded there by the limb, not by its border: its pixel centres are added.
    if _beyond_projection(wcs, shape):
        px, py = _pixel_centres(shape)
        tx, ty = transfer(wcs, other, px, py)
        with np.errstate(invalid="ignore"):
            on = (tx >= -0.5) & (tx <= other_shape[1] - 0.5)
            on &= (ty >= -0.5) & (ty <= other_shape[0] - 0.5)
        x, y = np.concatenate([x, px[on]]), np.concatenate([y, py[on]])
    if _beyond_projection(other, other_shape):
        tx, ty = transfer(other, wcs, *_pixel_centres(other_shape))
        with np.errstate(invalid="ignore"):
            on = (tx >= -0.5) & (tx <= nx - 0.5) & (ty >= -0.5) & (ty <= ny - 0.5)
        x, y = np.concatenate([x, tx[on]]), np.concatenate([y, ty[on]])
    return x, y


def _beyond_projection(wcs: WCS, shape: tuple[int, int]) -> bool:
    """Whether some of the image's border has no sky position (it crosses its projection's edge)."""
    lon, lat = SkyProjection(wcs).to_sky(*border_points(shape, 1.0))
    return not (np.isfinite(lon).all() and np.isfinite(lat).all())


def _pixel_centres(shape: tuple[int, int]) -> tuple[Array, Array]:
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return x.ravel(), y.ravel()


def bounding_box(x: Array, y: Array, *, margin: int, shape: tuple[int, int]) -> PixelBox:
    """Return the pixels that points touch, ``margin`` pixels wider, clipped to ``shape``.

    Pixel ``i`` spans ``[i - 0.5, i + 0.5)``; ``x`` and ``y`` must not be empty.
    """
    ny, nx = shape
    return PixelBox(
        x0=max(math.floor(float(x.min()) + 0.5) - margin, 0),
        x1=min(math.floor(float(x.max()) + 0.5) + 1 + margin, nx),
        y0=max(math.floor(float(y.min()) + 0.5) - margin, 0),
        y1=min(math.floor(float(y.max()) + 0.5) + 1 + margin, ny),
    )
