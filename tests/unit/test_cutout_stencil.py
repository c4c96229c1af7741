"""The stencil value types: validation, SODA text round trips, containment."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from skycut.cutout.stencil import (
    Circle,
    Polygon,
    Range,
    parse_polygon,
    parse_range,
    parse_stencil,
)
from skycut.errors import UsageError


@pytest.mark.parametrize(
    ("circle", "text"),
    [
        (Circle(150.1, 2.2, 0.01), "CIRCLE 150.1 2.2 0.01"),
        (Circle(0, -90, 180), "CIRCLE 0.0 -90.0 180.0"),
        (Circle(np.float64(1) / 3, 0.0, 1e-6), "CIRCLE 0.3333333333333333 0.0 1e-06"),
    ],
)
def test_to_soda_round_trips(circle: Circle, text: str) -> None:
    assert circle.to_soda() == text
    assert parse_stencil(text) == circle


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ((10.0, 91.0, 1.0), "declination"),
        ((10.0, 0.0, 0.0), "radius"),
        ((10.0, 0.0, 181.0), "radius"),
        ((math.nan, 0.0, 1.0), "finite"),
        ((10.0, 0.0, math.inf), "finite"),
    ],
)
def test_out_of_range_values_are_refused(values: tuple[float, float, float], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        Circle(*values)


def test_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Circle(1.0, 2.0, 3.0).ra = 4.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "POLYGON 10.0 20.0 10.1 20.0 10.05 20.1",
        "POLYGON 359.9 -0.1 0.1 -0.1 0.1 0.1 359.9 0.1",
        "POLYGON 0.0 80.0 90.0 80.0 180.0 80.0 270.0 80.0",
        "RANGE 150.0 150.2 2.1 2.3",
        "RANGE 350.0 10.0 -5.0 5.0",
        "RANGE -Inf +Inf 89.0 +Inf",
        "RANGE 0.0 360.0 -Inf 1e-05",
        "CIRCLE 359.99999999999994 89.99999999999999 1e-12",
    ],
)
def test_every_stencil_round_trips_through_its_soda_text(text: str) -> None:
    stencil = parse_stencil(text)
    assert stencil.to_soda() == text
    assert parse_stencil(stencil.to_soda()) == stencil


lons = st.floats(0.0, 360.0)
lats = st.floats(-90.0, 90.0)


@given(lon=lons, lat=lats, radius=st.floats(1e-9, 180.0), lon2=lons, lat2=lats)
def test_random_circles_and_ranges_round_trip(
    lon: float, lat: float, radius: float, lon2: float, lat2: float
) -> None:
    circle = Circle(lon % 360.0, lat, radius)
    assert parse_stencil(circle.to_soda()) == circle
    rng = Range(lon, lon2, min(lat, lat2), max(lat, lat2))
    assert parse_stencil(rng.to_soda()) == rng


@given(
    lon=st.floats(0.0, 359.0),
    lat=st.floats(-80.0, 80.0),
    size=st.floats(1e-4, 5.0),
    clockwise=st.booleans(),
)
def test_random_polygons_round_trip(lon: float, lat: float, size: float, clockwise: bool) -> None:
    corners = [(0, 0), (1, 0), (1, 1), (0, 1)]
    if clockwise:
        corners.reverse()
    vertices = tuple(((lon + size * dx) % 360.0, lat + size * dy) for dx, dy in corners)
    polygon = Polygon(vertices)
    assert parse_stencil(polygon.to_soda()) == polygon


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10 20 11 20", "at least 6 numbers"),
        ("10 20 11 20 11", "at least 6 numbers"),
        ("10 20 11 20 11 21 12", "pairs"),
        ("10 20 11 x 11 21", "not a number"),
        ("10 20 1_1 20 11 21", "not a number"),  # float() reads 11
        ("10 20 \u0661\u0661 20 11 21", "not a number"),  # Arabic-Indic digits: float() reads 11
        ("10 20 11 20 0x1 21", "not a number"),
        ("10 20 11 nan 11 21", "finite"),
        ("10 20 11 +Inf 11 21", "finite"),
        ("10 95 11 20 11 21", r"latitude 95\.0 is outside \[-90, 90\]"),
        ("361 20 11 20 11 21", r"longitude 361\.0 is outside \[0, 360\]"),
        ("10 20 11 20 11 20", "same point"),
        ("10 20 11 20 11 21 10 20", "same point"),  # the first vertex repeated at the end
        ("10 0 11 0 12 0", "no area"),  # on the equator, a great circle
        ("10 20 11 21 11 20 10 21", "cross"),  # a bow tie
        ("0 0 120 0 240 0.1", "hemisphere"),
    ],
)
def test_bad_polygons_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_polygon(text)
    assert info.value.to_text().startswith("UsageError: POLYGON")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 2 3", "needs 4 numbers"),
        ("1 2 3 x", "not a number"),
        ("1 2 3 inf", "open ends are written -Inf or \\+Inf"),
        ("1 2 3 Infinity", "open ends are written -Inf or \\+Inf"),
        ("+Inf 2 3 4", "lower bounds cannot be \\+Inf"),
        ("1 2 3 -Inf", "upper bounds cannot be -Inf"),
        ("1 400 3 4", r"longitude 400\.0 is outside \[0, 360\]"),
        ("1 2 -91 4", r"latitude -91\.0 is outside \[-90, 90\]"),
        ("1 2 5 4", "latitudes must be increasing"),
    ],
)
def test_bad_ranges_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_range(text)
    assert info.value.to_text().startswith("UsageError: POS RANGE")


def test_unknown_shape_is_refused_with_examples() -> None:
    with pytest.raises(UsageError, match=r"must start with CIRCLE, RANGE or POLYGON, e\.g\."):
        parse_stencil("BOX 1 2 3 4")


def test_shape_keywords_are_case_sensitive() -> None:
    with pytest.raises(UsageError, match="must start with"):
        parse_stencil("circle 1 2 3")


def test_range_wraps_through_zero_when_lon1_exceeds_lon2() -> None:
    rng = parse_range("350 10 -5 5")
    assert (rng.lon_start, rng.lon_width) == (350.0, 20.0)
    lon = np.array([349.0, 350.0, 359.0, 0.0, 5.0, 10.0, 11.0, 180.0])
    assert_array_equal(rng.contains(lon, np.zeros(lon.size)), [0, 1, 1, 1, 1, 1, 0, 0])


@pytest.mark.parametrize(
    ("text", "start", "width", "lat_min", "lat_max"),
    [
        ("RANGE -Inf +Inf -Inf +Inf", 0.0, 360.0, -90.0, 90.0),
        ("RANGE 0 360 89 +Inf", 0.0, 360.0, 89.0, 90.0),
        ("RANGE -Inf 10 -Inf 0", 0.0, 10.0, -90.0, 0.0),
        ("RANGE 300 +Inf 0 1", 300.0, 60.0, 0.0, 1.0),
        ("RANGE 20 20 0 1", 20.0, 0.0, 0.0, 1.0),
    ],
)
def test_range_open_ends_are_clamped_to_the_sky(
    text: str, start: float, width: float, lat_min: float, lat_max: float
) -> None:
    rng = parse_stencil(text)
    assert isinstance(rng, Range)
    assert (rng.lon_start, rng.lon_width, rng.lat_min, rng.lat_max) == (
        start, width, lat_min, lat_max
    )  # fmt: skip


def test_whole_sky_range_contains_everything() -> None:
    rng = parse_range("-Inf +Inf -Inf +Inf")
    lon, lat = np.random.default_rng(1).uniform([0, -90], [360, 90], (1000, 2)).T
    assert rng.contains(lon, lat).all()


def test_polygon_winding_does_not_matter() -> None:
    ccw = parse_polygon("10 20 11 20 11 21 10 21")
    cw = parse_polygon("10 21 11 21 11 20 10 20")
    lon, lat = np.random.default_rng(2).uniform([9.5, 19.5], [11.5, 21.5], (5000, 2)).T
    inside = ccw.contains(lon, lat)
    assert_array_equal(inside, cw.contains(lon, lat))
    assert 0.2 < inside.mean() < 0.4  # the small square, not the rest of the sky


def test_polygon_edges_are_great_circles() -> None:
    # Two vertices on the parallel at 60°: the edge between them bulges poleward.
    polygon = parse_polygon("0 60 90 60 45 0")
    # The arc's midpoint is at latitude atan(sqrt(6)) = 67.79°.
    assert polygon.contains(np.array([45.0]), np.array([67.7]))[0]  # beyond the parallel
    assert not polygon.contains(np.array([45.0]), np.array([67.9]))[0]  # beyond the arc


def test_polygon_around_the_pole_contains_it() -> None:
    polygon = parse_polygon("0 80 90 80 180 80 270 80")
    inside = polygon.contains(np.array([123.0, 0.0, 45.0]), np.array([90.0, 85.0, 79.0]))
    assert inside.tolist() == [True, True, False]
    assert polygon.centre[1] == pytest.approx(90.0)


def test_polygon_across_ra_zero() -> None:
    polygon = parse_polygon("359 -1 1 -1 1 1 359 1")
    lon = np.array([0.0, 359.5, 0.5, 2.0, 180.0])
    assert_array_equal(polygon.contains(lon, np.zeros(5)), [1, 1, 1, 0, 0])


@given(
    lon=st.floats(0.0, 360.0),
    lat=st.floats(-89.0, 89.0),
    radius=st.floats(1e-5, 170.0),
    points=st.lists(st.tuples(st.floats(0.0, 360.0), st.floats(-90.0, 90.0)), min_size=1),
)
def test_circle_contains_what_is_within_its_radius(
    lon: float, lat: float, radius: float, points: list[tuple[float, float]]
) -> None:
    circle = Circle(lon % 360.0, lat, radius)
    plon, plat = np.array(points).T
    distance = np.degrees(
        np.arccos(
            np.clip(
                np.sin(np.radians(plat)) * np.sin(math.radians(lat))
                + np.cos(np.radians(plat)) * np.cos(math.radians(lat))
                * np.cos(np.radians(plon - lon)),
                -1, 1,
            )
        )
    )  # fmt: skip
    clear = np.abs(distance - radius) > 1e-6
    assume(clear.any())
    assert_array_equal(circle.contains(plon, plat)[clear], (distance <= radius)[clear])
