"""Reprojecting one input onto one tile, from only the input pixels the tile needs.

:func:`input_box` says which pixels of an input land on a tile (with the
few around them that the interpolation kernel reaches), so the engine can
range-read that box alone; :func:`reproject_to_tile` resamples those pixels
onto the tile with `reproject`:

- ``bilinear`` and ``bicubic`` interpolate at the tile's pixel centres, as
  ``reproject_interp`` does: the values are surface brightness, as in the
  input (see below for how the pixel positions are found);
- ``exact`` is flux-conserving (``reproject_exact``): each output pixel is
  the mean of the input pixels weighted by their exact spherical-polygon
  overlap with it, as Montage's mProject computes it, so the integral of
  surface brightness over the sky (value x pixel solid angle) is kept.

The footprint returned with the plane is, for ``exact``, the fraction of
each tile pixel the input covers and, for the interpolations, 1 where the
input has a value there and 0 elsewhere.

Interpolation spends nearly all its time carrying every tile pixel's
position to the input's pixels through both WCSs (``reproject_interp`` does
it twice, there and back, and a TAN-SIP input inverts its distortion
iteratively for each pixel). The positions are a smooth function of the
tile pixel, so they are computed exactly on a grid of every
:data:`_STEP`-th pixel and filled in by a bicubic spline, checked
against exact positions halfway between the grid's nodes; the values are
then interpolated at those positions with scipy's ``map_coordinates`` as
``reproject_interp`` calls it (values at pixel centres, the outer half of a
border pixel taking its value, NaN beyond). A mapping the spline cannot
follow to :data:`_POSITION_TOLERANCE` pixel (an all-sky grid near its
boundary, positions that do not round-trip) falls back to
``reproject_interp`` itself.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from astropy.wcs import WCS

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.sampling import bounding_box, overlap_points
from skycut.mosaic.tiles import Tile

if TYPE_CHECKING:
    from scipy.interpolate import RectBivariateSpline

__all__ = ["METHODS", "Method", "TilePlane", "input_box", "reproject_to_tile"]

Method = Literal["bilinear", "bicubic", "exact"]
METHODS: tuple[Method, ...] = ("bilinear", "bicubic", "exact")

# Input pixels beyond the overlap that each method reads. Bilinear and exact
# use the pixels around each point. Bicubic is a cubic spline (scipy's, through
# reproject), whose coefficients depend on the whole array, though the weight of
# a pixel n away falls as 0.268^n: 12 more pixels keep the box's result within
# 2e-7 of the whole image's.
_KERNEL: dict[Method, int] = {"bilinear": 1, "bicubic": 12, "exact": 1}
_ORDER: dict[Method, int] = {"bilinear": 1, "bicubic": 3}

#: Spacing, in tile pixels, of the positions carried exactly through the WCSs.
_STEP = 16
#: Largest error of a spline-filled position, in input pixels, that is accepted.
_POSITION_TOLERANCE = 1e-5
#: Parts of a tile of up to this many pixels are carried pixel by pixel.
_SMALL = 64 * 64

_Float = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TilePlane:
    """One input reprojected onto one tile.

    Attributes
    ----------
    data
        Values on the tile's pixels, NaN where the input gives none.
    footprint
        How much of each tile pixel the input covers, in ``[0, 1]``.

    """

    data: _Float
    footprint: _Float

    @property
    def covered(self) -> npt.NDArray[np.bool_]:
        """Pixels with a value and some coverage."""
        return np.isfinite(self.data) & (self.footprint > 0)


def input_box(
    tile: Tile, wcs: WCS, shape: tuple[int, int], *, method: Method = "bilinear"
) -> PixelBox | None:
    """Return the input pixels that reprojecting onto ``tile`` reads, or None.

    Parameters
    ----------
    tile
        The output tile.
    wcs
        The input's 2-D celestial WCS (of the whole image).
    shape
        The input's ``(ny, nx)``.
    method
        The reprojection method, whose kernel sets the margin.

    Returns
    -------
    PixelBox or None
        The bounding box (clipped to the image) of the input pixels that
        land on the tile, widened by the method's kernel; None if the input
        does not reach the tile.

    """
    x, y = overlap_points(wcs, shape, tile.wcs, tile.shape)
    if x.size == 0:
        return None
    return bounding_box(x, y, margin=_KERNEL[method], shape=shape)


def reproject_to_tile(
    data: npt.NDArray[np.floating],
    wcs: WCS,
    tile: Tile,
    *,
    method: Method = "bilinear",
    box: PixelBox | None = None,
) -> TilePlane:
    """Reproject an input, or a box of it, onto a tile.

    Parameters
    ----------
    data
        The input's pixels: the whole image, or only ``box`` of it.
    wcs
        The WCS of the whole input image.
    tile
        The output tile.
    method
        ``bilinear`` or ``bicubic`` interpolation, or ``exact`` (flux-conserving).
    box
        Where ``data`` lies in the input, when it is a part (as `input_box`
        gives it); None when ``data`` is the whole image.

    Returns
    -------
    TilePlane
        The plane on the tile with its footprint.

    Raises
    ------
    ValueError
        If ``method`` is unknown or ``data`` is not ``box``'s shape.

    """
    # Imported here: reproject brings dask and scipy (about a second), which
    # the planner and the API, importing this module for `input_box`, never use.
    from reproject import reproject_exact, reproject_interp

    if method not in METHODS:
        raise ValueError(f"unknown reprojection method {method!r}; use one of {METHODS}")
    values = np.asarray(data, dtype=np.float64)
    if box is not None:
        if values.shape != box.shape:
            raise ValueError(f"data of shape {values.shape} is not the box's {box.shape}")
        wcs = wcs.slice(box.slices)
    plane = np.full(tile.shape, np.nan)
    footprint = np.zeros(tile.shape)
    # Only the part of the tile the input covers is computed: an input on a
    # tile's corner costs its corner, not the whole tile.
    part = _covered_part(tile, wcs, values.shape)
    if part is None:
        return TilePlane(data=plane, footprint=footprint)
    target, shape_out = tile.wcs.slice(part.slices), part.shape
    with warnings.catch_warnings():
        # reproject warns when no input pixel lands on some output pixels.
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "exact":
            values_out, weight = reproject_exact((values, wcs), target, shape_out=shape_out)
        else:
            positions = _input_positions(target, wcs, shape_out)
            if positions is None:
                values_out, weight = reproject_interp(
                    (values, wcs), target, shape_out=shape_out, order=method
                )
            else:
                values_out = _interpolate(values, positions, order=_ORDER[method])
                weight = np.isfinite(values_out).astype(np.float64)
    weight = np.clip(np.nan_to_num(np.asarray(weight, dtype=np.float64), nan=0.0), 0.0, 1.0)
    values_out = np.asarray(values_out, dtype=np.float64)
    values_out[weight <= 0] = np.nan
    weight[~np.isfinite(values_out)] = 0.0
    plane[part.slices] = values_out
    footprint[part.slices] = weight
    return TilePlane(data=plane, footprint=footprint)


def _covered_part(tile: Tile, wcs: WCS, shape: tuple[int, int]) -> PixelBox | None:
    """Return the tile pixels an input (``wcs``, ``shape``) reaches, a pixel wider; None if none."""
    x, y = overlap_points(tile.wcs, tile.shape, wcs, shape)
    if x.size == 0:
        return None
    return bounding_box(x, y, margin=1, shape=tile.shape)


def _input_positions(target: WCS, wcs: WCS, shape: tuple[int, int]) -> tuple[_Float, _Float] | None:
    """Return the input pixel (x, y) of every pixel of ``target``, or None.

    Positions are carried exactly (astropy's ``pixel_to_pixel``, as
    ``reproject_interp`` uses it) on a grid of every `_STEP`-th pixel and
    filled in by bicubic splines. None, so that the caller interpolates
    with ``reproject_interp`` itself, when a node has no position, a node
    does not come back to itself through the inverse transform (as
    ``reproject_interp`` checks), or the splines miss the exact position
    halfway between nodes by more than `_POSITION_TOLERANCE`.
    """
    from astropy.wcs.utils import pixel_to_pixel

    ny, nx = shape
    if ny * nx <= _SMALL or min(ny, nx) < 4 * _STEP:
        return None
    xs = np.unique(np.append(np.arange(0, nx, _STEP, dtype=np.float64), nx - 1))
    ys = np.unique(np.append(np.arange(0, ny, _STEP, dtype=np.float64), ny - 1))
    mx, my = 0.5 * (xs[1:] + xs[:-1]), 0.5 * (ys[1:] + ys[:-1])
    # nodes and midpoints carried in one call: each transform has a fixed cost
    gx = np.concatenate([np.tile(xs, ys.size), np.tile(mx, my.size)])
    gy = np.concatenate([np.repeat(ys, xs.size), np.repeat(my, mx.size)])
    with np.errstate(invalid="ignore"):
        px, py = (np.asarray(p, dtype=np.float64) for p in pixel_to_pixel(target, wcs, gx, gy))
        bx, by = (np.asarray(p, dtype=np.float64) for p in pixel_to_pixel(wcs, target, px, py))
    if not (np.isfinite(px).all() and np.isfinite(py).all()):
        return None
    if max(float(np.abs(bx - gx).max()), float(np.abs(by - gy).max())) > 1:
        return None
    nodes = xs.size * ys.size
    splines = [_spline(ys, xs, p[:nodes].reshape(ys.size, xs.size)) for p in (px, py)]
    for spline, exact in zip(splines, (px, py), strict=True):
        between = spline(my, mx) - exact[nodes:].reshape(my.size, mx.size)
        if float(np.abs(between).max()) > _POSITION_TOLERANCE:
            return None
    rows, cols = np.arange(ny, dtype=np.float64), np.arange(nx, dtype=np.float64)
    x_in, y_in = (np.asarray(spline(rows, cols), dtype=np.float64) for spline in splines)
    return x_in, y_in


def _spline(ys: _Float, xs: _Float, values: _Float) -> RectBivariateSpline:
    from scipy.interpolate import RectBivariateSpline

    return RectBivariateSpline(ys, xs, values, kx=3, ky=3, s=0)


def _interpolate(values: _Float, positions: tuple[_Float, _Float], *, order: int) -> _Float:
    """Interpolate ``values`` at input pixel ``positions`` (x, y arrays), NaN off the input.

    Values are at pixel centres; a position in the outer half of a border
    pixel takes the border pixel's value, one beyond it is NaN (what
    ``reproject_interp`` does). A NaN input pixel spreads to every position
    whose interpolation reaches it.
    """
    from scipy.ndimage import map_coordinates

    ny, nx = values.shape
    coords = []
    for c, n in ((positions[1], ny), (positions[0], nx)):
        c = c.copy()
        c[(c >= -0.5) & (c < 0)] = 0.0
        c[(c > n - 1) & (c < n - 0.5)] = n - 1
        coords.append(c)
    out = map_coordinates(values, coords, order=order, mode="constant", cval=np.nan)
    return np.asarray(out, dtype=np.float64)
