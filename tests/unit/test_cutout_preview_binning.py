"""Previews of cuts larger than a screen are binned, block means with NaN ignored."""

from __future__ import annotations

import io

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from skycut.cutout.preview import MAX_PREVIEW_SIDE, binned, render_preview
from skycut.cutout.selection import JPEG, PNG


def test_a_plane_that_fits_is_left_as_it_is() -> None:
    plane = np.arange(12.0).reshape(3, 4)
    out, factor = binned(plane, max_side=4)
    assert factor == 1
    assert out is plane


def test_blocks_are_averaged_ignoring_nan_and_edges_may_be_partial() -> None:
    plane = np.arange(35.0).reshape(5, 7)
    plane[0, 0] = np.nan
    out, factor = binned(plane, max_side=3)
    assert factor == 3  # 7 / 3 rounds up to 3, and 7 / 2 would not fit
    assert out.shape == (2, 3)
    assert_allclose(out[0, 0], np.nanmean(plane[0:3, 0:3]))
    assert_allclose(out[1, 2], plane[3:5, 6:7].mean())  # a partial corner block
    assert_allclose(out[0, 1], plane[0:3, 3:6].mean())


def test_an_all_nan_block_stays_nan() -> None:
    plane = np.ones((4, 4))
    plane[:2, :2] = np.nan
    out, _ = binned(plane, max_side=2)
    assert np.isnan(out[0, 0])
    assert_array_equal(out[1], [1.0, 1.0])


def test_a_large_preview_fits_the_limit_and_says_its_binning() -> None:
    values = np.random.default_rng(1).normal(size=(300, MAX_PREVIEW_SIDE + 1))
    png = render_preview(values, (0, 1), response_format=PNG, text={"SC_ID": "x"})
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (MAX_PREVIEW_SIDE // 2 + 1, 150)
        assert image.text["SC_BIN"] == "2"  # type: ignore[attr-defined]
        assert image.text["SC_ID"] == "x"  # type: ignore[attr-defined]
    jpeg = render_preview(values[:, :100], (0, 1), response_format=JPEG)
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.size == (100, 300), "small previews keep one pixel per image pixel"
