"""Reprojecting one input onto one tile, from only the input pixels the tile needs.

:func:`input_box` says which pixels of an input land on a tile (with the
few around them that the interpolation kernel reaches), so the engine can
range-read that box alone; :func:`reproject_to_tile` resamples those pixels
onto the tile with `reproject`:

- ``bilinear`` and ``bicubic`` interpolate at the tile's pixel centres
  (``reproject_interp``): the values are surface brightness, as in the input;
- ``exact`` is flux-conserving (``reproject_exact``): each output pixel is
  the mean of the input pixels weighted by their exact spherical-polygon
  overlap with it, as Montage's mProject computes it, so the integral of
  surface brightness over the sky (value x pixel solid angle) is kept.

The footprint returned with the plane is, for ``exact``, the fraction of
each tile pixel the input covers and, for the interpolations, 1 where the
input has a value there and 0 elsewhere.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from astropy.wcs import WCS

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.sampling import bounding_box, overlap_points
from skycut.mosaic.tiles import Tile

__all__ = ["METHODS", "Method", "TilePlane", "input_box", "reproject_to_tile"]

Method = Literal["bilinear", "bicubic", "exact"]
METHODS: tuple[Method, ...] = ("bilinear", "bicubic", "exact")

# Input pixels beyond the overlap that each method reads. Bilinear and exact
# use the pixels around each point. Bicubic is a cubic spline (scipy's, through
# reproject), whose coefficients depend on the whole array, though the weight of
# a pixel n away falls as 0.268^n: 12 more pixels keep the box's result within
# 2e-7 of the whole image's.
_KERNEL: dict[Method, int] = {"bilinear": 1, "bicubic": 12, "exact": 1}

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
            values_out, weight = reproject_interp(
                (values, wcs), target, shape_out=shape_out, order=method
            )
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
