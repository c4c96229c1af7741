"""COMBINE modes on one tile: values, coverage and count, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skycut.mosaic.coadd import coadd_tile
from skycut.mosaic.reproject_tile import TilePlane

NAN = np.nan


def plane(values: list[float], footprint: list[float]) -> TilePlane:
    return TilePlane(
        data=np.array([values], dtype=float), footprint=np.array([footprint], dtype=float)
    )


# Three inputs over four pixels: the first covers all, the second half of the
# second pixel and all of the third, the third input only the third pixel.
PLANES = [
    plane([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]),
    plane([NAN, 6.0, 5.0, NAN], [0.0, 0.5, 1.0, 0.0]),
    plane([NAN, NAN, 10.0, NAN], [0.0, 0.0, 1.0, 0.0]),
]


@pytest.mark.parametrize(
    ("combine", "expected"),
    [
        ("mean", [1.0, (2.0 + 0.5 * 6.0) / 1.5, 6.0, 4.0]),
        ("sum", [1.0, 2.0 + 0.5 * 6.0, 18.0, 4.0]),
        ("median", [1.0, 4.0, 5.0, 4.0]),
        ("weighted", [1.0, (2.0 + 0.5 * 6.0) / 1.5, 6.0, 4.0]),  # no weights: the mean
    ],
)
def test_combine_modes(combine: str, expected: list[float]) -> None:
    result = coadd_tile(PLANES, shape=(1, 4), combine=combine)  # type: ignore[arg-type]
    assert_allclose(result.data[0], expected)
    assert_allclose(result.coverage[0], [1.0, 1.5, 3.0, 1.0])
    assert_array_equal(result.count[0], [1, 2, 3, 1])


def test_weighted_uses_inverse_variance_per_input_or_per_pixel() -> None:
    weights = [1.0, np.array([[1.0, 4.0, 4.0, 1.0]]), None]
    result = coadd_tile(PLANES, shape=(1, 4), combine="weighted", weights=weights)
    assert_allclose(
        result.data[0],
        [1.0, (2.0 + 0.5 * 4 * 6.0) / (1 + 0.5 * 4), (3.0 + 4 * 5.0 + 10.0) / 6, 4.0],
    )


def test_pixels_no_input_covers_are_nan_with_zero_coverage() -> None:
    result = coadd_tile([plane([NAN, 2.0], [0.0, 1.0])], shape=(1, 2), combine="sum")
    assert np.isnan(result.data[0, 0])
    assert (result.coverage[0, 0], result.count[0, 0]) == (0.0, 0)
    empty = coadd_tile([], shape=(2, 3), combine="median")
    assert np.isnan(empty.data).all()
    assert (empty.count == 0).all()


def test_a_value_with_no_footprint_is_ignored() -> None:
    # reproject can leave a value where the footprint is 0 (e.g. the edge)
    stray = TilePlane(data=np.array([[100.0]]), footprint=np.array([[0.0]]))
    result = coadd_tile([plane([1.0], [1.0]), stray], shape=(1, 1), combine="median")
    assert result.data[0, 0] == 1.0
    assert result.count[0, 0] == 1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="COMBINE"):
        coadd_tile(PLANES, shape=(1, 4), combine="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weights"):
        coadd_tile(PLANES, shape=(1, 4), combine="weighted", weights=[1.0])
    with pytest.raises(ValueError, match="shape"):
        coadd_tile(PLANES, shape=(2, 4))


def test_the_median_of_a_tile_taller_than_a_band_is_the_median_everywhere() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(size=(5, 300, 40))
    values[1, 100:250] = np.nan  # one input missing over rows that span two bands
    planes = [TilePlane(data=v, footprint=np.isfinite(v).astype(float)) for v in values]
    result = coadd_tile(planes, shape=(300, 40), combine="median")
    assert_allclose(result.data, np.nanmedian(values, axis=0))
    assert_array_equal(result.count[99:101, 0], [5, 4])
