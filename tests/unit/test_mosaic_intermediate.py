"""What mosaic stages hand each other survives bytes and JSON."""

from __future__ import annotations

import json

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.background import Plane, solve_backgrounds, tile_overlaps
from skycut.mosaic.intermediate import (
    decode_overlaps,
    decode_plane,
    decode_tile_plane,
    encode_overlaps,
    encode_plane,
    encode_tile_plane,
)
from skycut.mosaic.reproject_tile import TilePlane


def test_a_tile_plane_round_trips_with_its_gaps() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(1000.0, 30.0, size=(64, 64))
    footprint = rng.uniform(0.0, 1.0, size=(64, 64))
    data[:10], footprint[:10] = np.nan, 0.0
    plane = TilePlane(data=data, footprint=footprint)
    single = decode_tile_plane(encode_tile_plane(plane))
    assert_array_equal(single.covered, plane.covered)
    assert_allclose(single.data[plane.covered], data[plane.covered], rtol=1e-7)
    double = decode_tile_plane(encode_tile_plane(plane, dtype="float64"))
    assert_array_equal(double.data[plane.covered], data[plane.covered])
    assert_array_equal(double.footprint, footprint)


def test_an_empty_tile_plane_is_small() -> None:
    empty = TilePlane(data=np.full((2048, 2048), np.nan), footprint=np.zeros((2048, 2048)))
    assert len(encode_tile_plane(empty)) < 100_000  # not 32 MiB


def test_pair_sums_and_planes_round_trip_through_json() -> None:
    y, x = np.mgrid[0:20, 0:30]
    planes = {
        "b": TilePlane(data=0.1 * x + 2.0, footprint=np.ones((20, 30))),
        "a": TilePlane(data=np.zeros((20, 30)), footprint=np.ones((20, 30))),
        "c": TilePlane(data=-0.2 * y, footprint=np.ones((20, 30))),
    }
    sums = tile_overlaps(planes, box=PixelBox(0, 30, 0, 20), grid_shape=(20, 30))
    again = decode_overlaps(json.loads(json.dumps(encode_overlaps(sums))))
    assert again == sums
    solved = solve_backgrounds(again, ["a", "b", "c"], reference="a")
    for plane in solved.values():
        assert decode_plane(json.loads(json.dumps(encode_plane(plane)))) == plane
    assert abs(solved["b"].a - 0.1) < 1e-12
    assert abs(solved["c"].b + 0.2) < 1e-12
    assert solved["a"] == Plane()


def test_an_interpolation_footprint_of_zeros_and_ones_round_trips_exactly() -> None:
    footprint = np.zeros((50, 40))
    footprint[5:30, 3:20] = 1.0
    data = np.where(footprint > 0, 7.25, np.nan)
    plane = TilePlane(data=data, footprint=footprint)
    blob = encode_tile_plane(plane)
    again = decode_tile_plane(blob)
    assert_array_equal(again.footprint, footprint)
    assert_array_equal(again.data, data)
    assert len(blob) < 25 * 17 * 5 + 2000  # float32 values, a byte of footprint, the box only
