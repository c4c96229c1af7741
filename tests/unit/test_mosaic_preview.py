"""Mosaic previews: binned tile by tile, grey or Lupton colour, no-data transparent."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image

from skycut.mosaic.preview import PreviewCanvas, render_mosaic_preview, render_rgb_preview
from skycut.mosaic.tiles import Tiling
from tests.unit.test_mosaic_assemble import grid


def test_the_canvas_bins_a_mosaic_given_tile_by_tile() -> None:
    g = grid(100, 70)
    rng = np.random.default_rng(1)
    mosaic = rng.normal(size=g.shape)
    mosaic[:20, :30] = np.nan
    canvas = PreviewCanvas(g.shape, max_side=30)  # factor 4: blocks straddle the 32 px tiles
    for tile in Tiling(g, 32):
        canvas.add(tile.box, mosaic[tile.box.slices])
    assert canvas.factor == 4
    binned = canvas.plane()
    assert binned.shape == (18, 25)
    expected = np.nanmean(mosaic[8:12, 36:40])
    assert binned[2, 9] == pytest.approx(expected)
    assert np.isnan(binned[0, 0])
    last = mosaic[68:70, 96:100]  # a partial block at the corner
    assert binned[17, 24] == pytest.approx(last.mean())


def test_a_small_mosaic_is_not_binned() -> None:
    canvas = PreviewCanvas((10, 12), max_side=2048)
    values = np.arange(120.0).reshape(10, 12)
    canvas.add(Tiling(grid(12, 10), 12).tile(0, 0).box, values)
    assert_allclose(canvas.plane(), values)


def test_grey_preview_shows_north_up_with_no_data_transparent() -> None:
    values = np.random.default_rng(2).normal(10.0, 1.0, size=(40, 50))
    values[30:33, 5:8] += 500.0  # a star near the top-left
    values[:, 45:] = np.nan
    image = Image.open(io.BytesIO(render_mosaic_preview(values)))
    assert image.size == (50, 40)
    grey, alpha = np.asarray(image)[..., 0], np.asarray(image)[..., 1]
    assert grey[40 - 1 - 31, 6] == 255  # row 31 from the bottom is row 8 from the top
    assert (alpha[:, 45:] == 0).all()
    assert (alpha[:, :45] == 255).all()


def test_rgb_preview_colours_a_source_by_its_bands() -> None:
    rng = np.random.default_rng(3)
    red, green, blue = (rng.normal(100.0, 1.0, size=(30, 40)) for _ in range(3))
    red[10:13, 10:13] += 300.0  # red only
    blue[20:23, 30:33] += 300.0  # blue only
    for band in (red, green, blue):
        band[25:, :4] = np.nan
    png = Image.open(io.BytesIO(render_rgb_preview(red, green, blue)))
    assert png.mode == "RGBA"
    rgba = np.asarray(png)
    r_star, b_star = rgba[30 - 1 - 11, 11], rgba[30 - 1 - 21, 31]
    assert r_star[0] > 200
    assert r_star[2] < 50
    assert b_star[2] > 200
    assert b_star[0] < 50
    assert (rgba[:5, :4, 3] == 0).all()  # no data: transparent
    sky = rgba[15:, 15:25, :3]
    assert sky.mean() < 40  # the sky is dark
    jpeg = Image.open(
        io.BytesIO(render_rgb_preview(red, green, blue, response_format="image/jpeg"))
    )
    assert (jpeg.mode, jpeg.size) == ("RGB", (40, 30))


def test_rgb_bands_must_share_a_grid() -> None:
    with pytest.raises(ValueError, match="shapes"):
        render_rgb_preview(np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 4)))


@pytest.mark.parametrize("tile", [32, 30])  # bands on block edges (factor 4), and across them
def test_bands_binned_apart_and_merged_make_the_whole_canvas(tile: int) -> None:
    g = grid(100, 70)
    mosaic = np.random.default_rng(5).normal(size=g.shape)
    mosaic[:20, :30] = np.nan
    whole = PreviewCanvas(g.shape, max_side=30)
    for t in Tiling(g, tile):
        whole.add(t.box, mosaic[t.box.slices])
    tiling = Tiling(g, tile)
    merged = PreviewCanvas(g.shape, max_side=30)
    for row in range(tiling.rows):
        first = tiling.tile(row, 0).box
        band = merged.band(first.y0, first.y1)
        for col in range(tiling.cols):
            box = tiling.tile(row, col).box
            band.add(box, mosaic[box.slices])
        merged.merge(PreviewCanvas.from_bytes(band.to_bytes()))  # as a worker stores it
    # stored as float32 sums: far below a grey level of the preview
    assert_allclose(merged.plane(), whole.plane(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.isnan(merged.plane()), np.isnan(whole.plane()))
    with pytest.raises(ValueError, match="not of this mosaic"):
        merged.merge(PreviewCanvas((70, 99), max_side=30).band(0, 10))
