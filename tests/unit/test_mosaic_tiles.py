"""Tiles of the output grid, which inputs touch them, and which input pixels each needs."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose, assert_array_equal

from skycut.errors import UsageError
from skycut.mosaic.grid import OutputGrid, grid_from_parameters
from skycut.mosaic.reproject_tile import input_box, reproject_to_tile
from skycut.mosaic.sampling import transfer
from skycut.mosaic.tiles import Tiling
from tests.unit.test_mosaic_sky import make_wcs, offset


def test_tiles_cover_the_grid_once_and_carry_its_wcs() -> None:
    grid = grid_from_parameters(center=(10.0, 20.0), width=100, height=70, pixscale=1e-3)
    tiling = Tiling(grid, 32)
    seen = np.zeros(grid.shape, dtype=int)
    for tile in tiling:
        seen[tile.box.slices] += 1
        y, x = np.mgrid[0 : tile.shape[0], 0 : tile.shape[1]]
        assert_allclose(
            tile.wcs.wcs_pix2world(x.ravel(), y.ravel(), 0),
            grid.wcs.wcs_pix2world(x.ravel() + tile.box.x0, y.ravel() + tile.box.y0, 0),
            atol=1e-12,
        )
    assert (seen == 1).all()
    assert (tiling.rows, tiling.cols, len(tiling)) == (3, 4, 12)
    assert tiling.tile(2, 3).shape == (70 - 64, 100 - 96)


def test_a_tile_size_must_be_positive() -> None:
    grid = grid_from_parameters(center=(10.0, 20.0), width=10, height=10, pixscale=1e-3)
    with pytest.raises(UsageError, match="tile size"):
        Tiling(grid, 0)


def pole_grid() -> OutputGrid:
    return grid_from_parameters(
        center=(0.0, 90.0), width=120, height=100, pixscale=5e-4, projection="ZEA", rotation=30.0
    )


def ra0_grid() -> OutputGrid:
    return grid_from_parameters(
        center=(0.0, -1.0), width=140, height=90, pixscale=4e-4, rotation=-15.0
    )


def ait_grid() -> OutputGrid:
    return grid_from_parameters(
        center=(359.98, 0.01), width=130, height=110, pixscale=4e-4, projection="AIT"
    )


# (grid, input WCS, input shape): inputs astride RA = 0, over the pole, partly
# off the grid, larger than the grid, off it altogether, with another scale.
CASES = {  # grid, input centre, shape, pixel scale, rotation
    "ra0-rotated": (ra0_grid, (359.99, -0.99), (50, 60), 5e-4, 25.0),
    "ra0-partly-off": (ra0_grid, (0.03, -1.0), (40, 40), 4e-4, 0.0),
    "pole": (pole_grid, (45.0, 89.99), (60, 50), 6e-4, -40.0),
    "larger-than-grid": (ait_grid, (359.99, 0.0), (200, 220), 3e-4, 10.0),
    "coarser": (ait_grid, (0.0, 0.0), (12, 14), 2e-3, 5.0),
    "off-the-grid": (ait_grid, (1.0, 1.0), (30, 30), 4e-4, 0.0),
}


def case(name: str) -> tuple[OutputGrid, WCS, tuple[int, int]]:
    make_grid, (lon, lat), shape, scale, rotation = CASES[name]
    return make_grid(), make_wcs(lon, lat, shape=shape, pixscale=scale, rotation=rotation), shape


def landing(grid: OutputGrid, wcs: WCS, shape: tuple[int, int]) -> np.ndarray:
    """Brute force: which grid pixel centres fall on the input."""
    y, x = np.mgrid[0 : grid.shape[0], 0 : grid.shape[1]].astype(float)
    ix, iy = transfer(grid.wcs, wcs, x.ravel(), y.ravel())
    with np.errstate(invalid="ignore"):
        on = (ix >= -0.5) & (ix <= shape[1] - 0.5) & (iy >= -0.5) & (iy <= shape[0] - 0.5)
    return on.reshape(grid.shape)


@pytest.mark.parametrize("name", CASES)
def test_touched_tiles_are_those_the_input_lands_on(name: str) -> None:
    grid, wcs, shape = case(name)
    tiling = Tiling(grid, 32)
    touched = {t.key for t in tiling.touched_by(wcs, shape)}
    on = landing(grid, wcs, shape)
    needed = {t.key for t in tiling if on[t.box.slices].any()}
    assert needed <= touched
    # and nothing far: every touched tile has a landing pixel within 2 pixels
    near = np.zeros_like(on)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            near |= np.roll(np.roll(on, dy, axis=0), dx, axis=1)
    assert touched <= {t.key for t in tiling if near[t.box.slices].any()}
    assert (name == "off-the-grid") == (not touched)


@pytest.mark.parametrize("method", ["bilinear", "bicubic", "exact"])
@pytest.mark.parametrize("name", CASES)
def test_reprojecting_the_box_equals_reprojecting_the_image(name: str, method: str) -> None:
    grid, wcs, shape = case(name)
    data = np.random.default_rng(3).normal(50.0, 5.0, size=shape)
    tiling = Tiling(grid, 48)
    boxes = 0
    for tile in tiling:
        box = input_box(tile, wcs, shape, method=method)
        whole = reproject_to_tile(data, wcs, tile, method=method)
        if box is None:
            assert not whole.covered.any()
            continue
        boxes += 1
        part = reproject_to_tile(data[box.slices], wcs, tile, method=method, box=box)
        assert_array_equal(part.covered, whole.covered)
        assert_allclose(part.data[part.covered], whole.data[whole.covered], rtol=1e-6)
        assert_allclose(part.footprint, whole.footprint, atol=1e-9)
    assert (boxes == 0) == (name == "off-the-grid")


def test_the_box_is_no_larger_than_the_pixels_that_land_plus_the_kernel() -> None:
    grid = ra0_grid()
    wcs = make_wcs(*offset(0.0, -1.0, 0.01, 0.0), shape=(300, 300), pixscale=1e-4)
    tile = Tiling(grid, 32).tile(1, 2)
    box = input_box(tile, wcs, (300, 300), method="bilinear")
    assert box is not None
    # the input pixels whose centres land on the tile, by brute force
    y, x = np.mgrid[0:300, 0:300].astype(float)
    tx, ty = transfer(wcs, tile.wcs, x.ravel(), y.ravel())
    inside = (tx >= -0.5) & (tx <= tile.shape[1] - 0.5) & (ty >= -0.5) & (ty <= tile.shape[0] - 0.5)
    xs, ys = x.ravel()[inside], y.ravel()[inside]
    # every pixel that lands is in the box, which reaches at most 2 pixels (the kernel) beyond
    assert xs.min() - 2 <= box.x0 <= xs.min()
    assert ys.min() - 2 <= box.y0 <= ys.min()
    assert xs.max() < box.x1 <= xs.max() + 3
    assert ys.max() < box.y1 <= ys.max() + 3
    # 4x4 input pixels per output pixel: the box is about the tile's 128x128 input pixels
    assert box.shape[0] * box.shape[1] < 1.5 * 128 * 128


def test_a_distorted_input_is_read_by_boxes_as_well() -> None:
    header = fits.Header()
    header.update(
        NAXIS=2, NAXIS1=120, NAXIS2=100, CTYPE1="RA---TAN-SIP", CTYPE2="DEC--TAN-SIP",
        CRVAL1=10.0, CRVAL2=20.0, CRPIX1=60.5, CRPIX2=50.5, CD1_1=-3e-4, CD1_2=0.0, CD2_1=0.0,
        CD2_2=3e-4, A_ORDER=2, B_ORDER=2, A_2_0=2e-5, A_0_2=-1e-5, B_1_1=2e-5,
    )  # fmt: skip
    wcs, shape = WCS(header), (100, 120)
    grid = grid_from_parameters(
        center=(10.0, 20.0), width=150, height=130, pixscale=3.5e-4, rotation=20.0
    )
    data = np.random.default_rng(0).normal(size=shape)
    tiling = Tiling(grid, 48)
    assert {t.key for t in tiling.touched_by(wcs, shape)} >= {
        t.key for t in tiling if landing(grid, wcs, shape)[t.box.slices].any()
    }
    for tile in tiling:
        box = input_box(tile, wcs, shape)
        whole = reproject_to_tile(data, wcs, tile)
        if box is None:
            assert not whole.covered.any()
            continue
        part = reproject_to_tile(data[box.slices], wcs, tile, box=box)
        assert_array_equal(part.covered, whole.covered)
        assert_allclose(part.data[part.covered], whole.data[whole.covered], atol=1e-12)
