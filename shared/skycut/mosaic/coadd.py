"""Coadding the planes reprojected onto one tile.

``COMBINE`` modes, each per output pixel over the inputs that cover it
(``f`` is an input's footprint on the pixel, ``v`` its value):

- ``mean``: ``sum(f v) / sum(f)``, the footprint-weighted mean, as
  ``reproject.mosaicking.reproject_and_coadd`` computes it;
- ``sum``: ``sum(f v)``;
- ``median``: the median of ``v`` over the inputs with ``f > 0``;
- ``weighted``: ``sum(f w v) / sum(f w)`` with ``w`` each input's weight on the
  pixel (the inverse of its variance), 1 where none is given, so that
  ``weighted`` without weights is ``mean``.

Whatever the mode, ``coverage`` is ``sum(f)`` (how many inputs' worth of
area covers the pixel) and ``count`` the number of inputs with ``f > 0``.
Pixels no input covers are NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from skycut.mosaic.reproject_tile import TilePlane

__all__ = ["COMBINES", "Combine", "TileCoadd", "coadd_tile"]

Combine = Literal["mean", "median", "sum", "weighted"]
COMBINES: tuple[Combine, ...] = ("mean", "median", "sum", "weighted")

_Float = npt.NDArray[np.float64]
_MEDIAN_ROWS = 128


@dataclass(frozen=True)
class TileCoadd:
    """The coadded tile.

    Attributes
    ----------
    data
        The combined values, NaN where no input covers the pixel.
    coverage
        The sum of the inputs' footprints.
    count
        How many inputs cover each pixel.

    """

    data: _Float
    coverage: _Float
    count: npt.NDArray[np.int32]


def coadd_tile(
    planes: Sequence[TilePlane],
    *,
    shape: tuple[int, int],
    combine: Combine = "mean",
    weights: Sequence[_Float | float | None] | None = None,
) -> TileCoadd:
    """Combine the inputs' planes on one tile.

    Parameters
    ----------
    planes
        Each input's plane on the tile (background-corrected if matched).
    shape
        The tile's ``(ny, nx)``; the result has it even if ``planes`` is empty.
    combine
        ``mean``, ``median``, ``sum`` or ``weighted``.
    weights
        For ``weighted``: per plane, an array of the tile's shape or a
        number (the inverse variance), or None for 1.

    Returns
    -------
    TileCoadd
        The combined plane with its coverage and count.

    Raises
    ------
    ValueError
        If ``combine`` is unknown, a plane has another shape, or ``weights``
        is not one per plane.

    """
    if combine not in COMBINES:
        raise ValueError(f"unknown COMBINE {combine!r}; use one of {COMBINES}")
    if weights is not None and len(weights) != len(planes):
        raise ValueError(f"{len(weights)} weights for {len(planes)} planes")
    for plane in planes:
        if plane.data.shape != shape:
            raise ValueError(f"a plane of shape {plane.data.shape} on a tile of shape {shape}")
    coverage = np.zeros(shape)
    count = np.zeros(shape, dtype=np.int32)
    if combine == "median":
        for plane in planes:
            f = np.where(plane.covered, plane.footprint, 0.0)
            coverage += f
            count += f > 0
        data = _median(planes, shape)
    else:
        total, norm = np.zeros(shape), np.zeros(shape)
        # One pass: each plane's footprint where it has a value is made once.
        for i, plane in enumerate(planes):
            f = np.where(plane.covered, plane.footprint, 0.0)
            coverage += f
            count += f > 0
            if combine == "weighted" and weights is not None and weights[i] is not None:
                f *= np.asarray(weights[i], dtype=np.float64)
            total += np.where(f > 0, plane.data, 0.0) * f
            norm += f
        if combine == "sum":
            data = total
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                data = total / norm
            data[norm <= 0] = np.nan
    data[count == 0] = np.nan
    return TileCoadd(data=data, coverage=coverage, count=count)


def _median(planes: Sequence[TilePlane], shape: tuple[int, int]) -> _Float:
    out = np.full(shape, np.nan)
    if not planes:
        return out
    # A band of rows at a time: the stack is the planes' size over the band,
    # not a second copy of every plane.
    for y0 in range(0, shape[0], _MEDIAN_ROWS):
        band = slice(y0, min(y0 + _MEDIAN_ROWS, shape[0]))
        stack = np.stack([np.where(p.covered[band], p.data[band], np.nan) for p in planes])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no input there
            out[band] = np.nanmedian(stack, axis=0)
    return out
