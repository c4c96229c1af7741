"""Interpolation onto a tile gives what ``reproject_interp`` gives, however the grids differ.

`reproject_to_tile` carries pixel positions exactly on a coarse grid and fills
in the rest by splines (falling back to ``reproject_interp`` where that cannot
be trusted); whichever path it takes, its values and footprint must be
``reproject_interp``'s on the same pixels: across RA = 0, over a pole, with
a strong SIP distortion, rotated, at scales three times finer or coarser,
onto zenithal, cylindrical and all-sky projections, and where the tile
reaches beyond an all-sky projection's edge.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.wcs import WCS
from numpy.testing import assert_allclose, assert_array_equal
from reproject import reproject_interp

from skycut.mosaic.grid import grid_from_parameters
from skycut.mosaic.reproject_tile import Method, reproject_to_tile
from skycut.mosaic.tiles import Tiling
from tests.unit.test_mosaic_sky import make_wcs


def smooth_sky(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A smooth field with structure on every scale from 3 pixels up (no noise to average)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    image = 100.0 + 0.05 * x - 0.03 * y
    for _ in range(12):
        kx, ky = rng.uniform(-2.0, 2.0, 2)
        image += rng.uniform(1.0, 5.0) * np.sin(kx * x + ky * y + rng.uniform(0, 2 * math.pi))
    return image


def with_sip(wcs: WCS, strength: float) -> WCS:
    """The same WCS with a quadratic and cubic SIP distortion of ``strength`` pixels at the edge."""
    header = wcs.to_header()
    half = wcs.pixel_shape[0] / 2 if wcs.pixel_shape else 100.0
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    header["A_ORDER"] = header["B_ORDER"] = 3
    header["A_2_0"], header["A_1_1"] = strength / half**2, -0.5 * strength / half**2
    header["B_0_2"], header["B_1_1"] = 0.7 * strength / half**2, 0.3 * strength / half**2
    header["A_3_0"], header["B_0_3"] = strength / half**3, -strength / half**3
    return WCS(header)


CASES = {
    # name: (input centre, rotation, input scale, SIP px at the edge,
    #        grid centre, projection, grid rotation, grid scale)
    "ra0-rotated": ((359.99, 1.0), 10.0, 3e-4, 0.0, (0.0, 1.0), "TAN", 37.0, 3e-4),
    "pole-zea": ((0.0, 89.98), -20.0, 3e-4, 0.0, (0.0, 90.0), "ZEA", 10.0, 3.5e-4),
    "sip": ((150.1, 2.2), 2.0, 3e-4, 4.0, (150.1, 2.2), "TAN", 0.0, 3e-4),
    "finer-sin": ((30.0, -45.0), 5.0, 3e-4, 1.5, (30.0, -45.0), "SIN", -30.0, 1e-4),
    "coarser-car": ((200.0, 60.0), -3.0, 3e-4, 0.0, (200.0, 60.0), "CAR", 5.0, 9e-4),
    "galactic-ait": ((266.4, -28.9), 0.0, 3e-4, 0.0, (266.4, -28.9), "AIT", 0.0, 3e-4),
}  # fmt: skip


@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
@pytest.mark.parametrize("name", CASES)
def test_the_tile_is_what_reproject_interp_makes(name: str, method: Method) -> None:
    centre, rotation, scale, sip, grid_centre, projection, grid_rotation, grid_scale = CASES[name]
    shape = (200, 220)
    wcs = make_wcs(*centre, shape=shape, pixscale=scale, rotation=rotation)
    wcs.pixel_shape = (shape[1], shape[0])
    if sip:
        wcs = with_sip(wcs, sip)
    data = smooth_sky(shape, seed=len(name))
    side = round(0.8 * 200 * scale / grid_scale)
    grid = grid_from_parameters(
        center=grid_centre, width=side + 7, height=side, pixscale=grid_scale,
        projection=projection, rotation=grid_rotation,
    )  # fmt: skip
    tile = Tiling(grid, max(grid.shape)).tile(0, 0)
    ours = reproject_to_tile(data, wcs, tile, method=method)
    theirs, footprint = reproject_interp((data, wcs), tile.wcs, shape_out=tile.shape, order=method)
    assert_array_equal(ours.footprint, footprint)
    covered = footprint > 0
    assert covered.mean() > 0.5
    assert_allclose(ours.data[covered], theirs[covered], rtol=1e-6, atol=0)
    assert np.isnan(ours.data[~covered]).all()


def test_a_tile_beyond_an_all_sky_projections_edge() -> None:
    # An AIT grid whose tile reaches past the projection's boundary (pixels with
    # no sky position) around an input on the boundary's meridian.
    grid = grid_from_parameters(center=(0.0, 0.0), width=400, height=200, pixscale=0.9,
                                projection="AIT")  # fmt: skip
    shape = (120, 120)
    wcs = make_wcs(180.0, 10.0, shape=shape, pixscale=0.5)
    data = smooth_sky(shape, seed=3)
    tile = Tiling(grid, 400).tile(0, 0)
    ours = reproject_to_tile(data, wcs, tile, method="bilinear")
    theirs, footprint = reproject_interp((data, wcs), tile.wcs, shape_out=tile.shape)
    assert_array_equal(ours.footprint, footprint)
    covered = footprint > 0
    assert covered.sum() > 1000
    assert_allclose(ours.data[covered], theirs[covered], rtol=1e-6, atol=0)
