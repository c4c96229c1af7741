"""Pixel boxes of POLYGON and RANGE stencils (and circles again) on random WCSs.

The reference is brute force: every pixel centre tested with the stencil's
own containment through the full WCS, and a 5 x 5 grid inside every pixel
to tell how far the stencil reaches.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from skycut.cutout.geometry import PixelBox, pixels_inside, stencil_pixel_box
from skycut.cutout.stencil import Circle, Polygon, Range, Stencil, parse_stencil
from skycut.errors import NoOverlapError, UsageError

SHAPE = (50, 70)
_SUB = 5  # sub-samples per pixel and axis for "where does the stencil reach"


def make_wcs(
    crval: tuple[float, float],
    *,
    scale: float = 1e-3,
    rotation: float = 0.0,
    shape: tuple[int, int] = SHAPE,
    projection: str = "TAN",
    sip: bool = False,
) -> WCS:
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    suffix = "-SIP" if sip else ""
    header = fits.Header()
    header.update(
        NAXIS=2, NAXIS1=shape[1], NAXIS2=shape[0],
        CTYPE1=f"RA---{projection}{suffix}", CTYPE2=f"DEC--{projection}{suffix}",
        CRVAL1=crval[0], CRVAL2=crval[1], CRPIX1=shape[1] / 2 + 0.5, CRPIX2=shape[0] / 2 + 0.5,
        CD1_1=-scale * c, CD1_2=scale * s, CD2_1=scale * s, CD2_2=scale * c,
    )  # fmt: skip
    if sip:
        # Distortions of a pixel or so at the corners, whatever the size.
        k = 1.0 / max(shape) ** 2
        header.update(A_ORDER=2, B_ORDER=2, A_2_0=2 * k, A_1_1=-k, A_0_2=k)
        header.update(B_2_0=-k, B_1_1=2 * k, B_0_2=1.5 * k)
    return WCS(header)


def inside_grid(wcs: WCS, shape: tuple[int, int], stencil: Stencil, sub: int) -> np.ndarray:
    """Containment at ``sub`` x ``sub`` points per pixel, edges included: (ny, nx, sub, sub)."""
    offsets = np.linspace(-0.5, 0.5, sub) if sub > 1 else np.zeros(1)
    y, x = np.mgrid[: shape[0], : shape[1]].astype(float)
    px = x[:, :, None, None] + offsets[None, None, None, :]
    py = y[:, :, None, None] + offsets[None, None, :, None]
    px, py = np.broadcast_arrays(px, py)
    sky = wcs.pixel_to_world(px.ravel(), py.ravel()).icrs
    return stencil.contains(sky.ra.deg, sky.dec.deg).reshape(px.shape)


def boundary_points(stencil: Stencil, n: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Points of the stencil's boundary, its corners and any pole it holds (ICRS degrees)."""
    t = np.linspace(0.0, 1.0, n)
    if isinstance(stencil, Circle):
        centre = SkyCoord(stencil.ra, stencil.dec, unit="deg")
        edge = centre.directional_offset_by(t * 360 * u.deg, stencil.radius * u.deg)
        return edge.ra.deg, edge.dec.deg
    if isinstance(stencil, Polygon):
        v = SkyCoord(*np.array(stencil.vertices).T, unit="deg").cartesian.xyz.value.T
        a, b = v[:, None, :], np.roll(v, -1, axis=0)[:, None, :]
        p = a + t[None, :, None] * (b - a)  # the chord, pushed out onto the sphere below
        lon, lat = (
            SkyCoord(*p.reshape(-1, 3).T, representation_type="cartesian")
            .spherical.lon.deg, SkyCoord(*p.reshape(-1, 3).T, representation_type="cartesian")
            .spherical.lat.deg
        )  # fmt: skip
        return lon, lat
    lon0, width, lat0, lat1 = stencil.lon_start, stencil.lon_width, stencil.lat_min, stencil.lat_max
    lon = np.concatenate([lon0 + t * width, lon0 + t * width, np.full(n, lon0),
                          np.full(n, lon0 + width)])  # fmt: skip
    lat = np.concatenate([np.full(n, lat0), np.full(n, lat1), lat0 + t * (lat1 - lat0),
                          lat0 + t * (lat1 - lat0)])  # fmt: skip
    return lon % 360.0, np.clip(lat, -90.0, 90.0)


def reached_pixels(wcs: WCS, shape: tuple[int, int], stencil: Stencil) -> np.ndarray:
    """Pixels some part of the stencil touches, as far as dense sampling can tell."""
    reached = inside_grid(wcs, shape, stencil, _SUB).any(axis=(2, 3))
    lon, lat = boundary_points(stencil)
    crval = SkyCoord(*wcs.wcs.crval, unit="deg")
    # Beyond 90° TAN and SIN fold the far side onto the image: those points are not on it.
    near = SkyCoord(lon, lat, unit="deg").separation(crval).deg < 89.0
    x, y = wcs.all_world2pix(lon[near], lat[near], 0, quiet=True)
    ix, iy = np.floor(x + 0.5), np.floor(y + 0.5)
    on = (ix >= 0) & (ix < shape[1]) & (iy >= 0) & (iy < shape[0])
    reached[iy[on].astype(int), ix[on].astype(int)] = True
    return reached


def assert_box_is_exact(wcs: WCS, shape: tuple[int, int], stencil: Stencil, box: PixelBox) -> None:
    """Every pixel centre inside is in the box; no box edge lies more than a pixel beyond."""
    centres = inside_grid(wcs, shape, stencil, 1)[:, :, 0, 0]
    outside_box = np.ones(shape, dtype=bool)
    outside_box[box.slices] = False
    assert not (centres & outside_box).any(), "a pixel centre inside the stencil is not cut"
    rows, cols = np.nonzero(reached_pixels(wcs, shape, stencil))
    if rows.size == 0:
        return  # a sliver narrower than the sampling: nothing to measure against
    assert box.x0 >= cols.min() - 1
    assert box.x1 <= cols.max() + 2
    assert box.y0 >= rows.min() - 1
    assert box.y1 <= rows.max() + 2


def check(wcs: WCS, shape: tuple[int, int], stencil: Stencil) -> PixelBox | None:
    """The box, checked against brute force; `None` (also checked) when there is no overlap."""
    try:
        box = stencil_pixel_box(wcs, shape, stencil)
    except NoOverlapError:
        assert not inside_grid(wcs, shape, stencil, 3).any(), "NoOverlapError, but it overlaps"
        return None
    assert box.shape[0] > 0
    assert box.shape[1] > 0
    assert_box_is_exact(wcs, shape, stencil, box)
    centres = inside_grid(wcs, shape, stencil, 1)[:, :, 0, 0]
    np.testing.assert_array_equal(pixels_inside(wcs, box, stencil), centres[box.slices])
    return box


@pytest.mark.parametrize(
    "text",
    [
        "POLYGON 10.01 19.99 10.0 20.01 9.99 19.995",  # a triangle on the image
        "POLYGON 10.0 19.99 10.0 20.01 9.99 20.0",  # clockwise
        "POLYGON 10.03 19.99 10.03 20.01 10.01 20.0",  # clipped at the left edge
        "POLYGON 9.0 19.0 11.0 19.0 11.0 21.0 9.0 21.0",  # the whole image inside
        "POLYGON 10.0 19.99 10.02 20.0 10.0 20.01 10.005 20.0",  # concave (an arrow head)
        "RANGE 9.99 10.01 19.99 20.005",
        "RANGE 9.99 10.01 -Inf 20.0",
        "RANGE -Inf +Inf 19.999 20.001",  # a band of latitude right across
    ],
)
def test_boxes_on_a_sip_image(text: str) -> None:
    wcs = make_wcs((10.0, 20.0), scale=5e-4, sip=True)
    assert check(wcs, SHAPE, parse_stencil(text)) is not None


def test_range_of_no_width_is_the_meridian_segment() -> None:
    wcs = make_wcs((10.0, 20.0), scale=5e-4)
    box = stencil_pixel_box(wcs, SHAPE, parse_stencil("RANGE 10.0 10.0 19.99 20.01"))
    _, y = wcs.world_to_pixel_values([10.0, 10.0], [19.99, 20.01])
    assert (box.y0, box.y1) == (math.floor(min(y) + 0.5), math.floor(max(y) + 0.5) + 1)
    assert box.shape[1] <= 2  # the meridian bends a little on TAN, within a pixel


def test_polygon_box_matches_its_vertices_on_a_plain_tan_image() -> None:
    wcs = make_wcs((10.0, 20.0), scale=1e-3)
    x, y = [10.2, 30.6, 25.0], [5.3, 8.9, 40.1]
    ra, dec = wcs.pixel_to_world_values(x, y)
    polygon = Polygon(tuple(zip(map(float, ra), map(float, dec), strict=True)))
    # Great circles are straight lines on TAN: the box is the vertices' box.
    assert stencil_pixel_box(wcs, SHAPE, polygon) == PixelBox(10, 32, 5, 41)


def test_range_across_ra_zero() -> None:
    wcs = make_wcs((0.0, 0.0), scale=1e-3)
    box = check(wcs, SHAPE, parse_stencil("RANGE 359.9898 0.0102 -0.0102 0.0102"))
    assert box is not None
    assert box.shape == (22, 22)  # not the whole width: the range wraps through 0


def test_range_not_wrapping_misses_an_image_at_ra_zero() -> None:
    wcs = make_wcs((0.0, 0.0), scale=1e-3)
    # lon1 <= lon2: 0.01 to 359.99 is everything but the image's 0.02° around RA = 0.
    box = check(wcs, SHAPE, parse_stencil("RANGE 0.04 359.96 -0.01 0.01"))
    assert box is None


def test_polar_cap_range_on_an_image_of_the_pole() -> None:
    wcs = make_wcs((0.0, 90.0), scale=1e-3, shape=(60, 60))
    box = check(wcs, (60, 60), parse_stencil("RANGE -Inf +Inf 89.9898 +Inf"))
    assert box is not None
    assert box == PixelBox(19, 41, 19, 41)  # 0.0102° around the pole, at the image's centre


def test_polygon_around_the_pole() -> None:
    wcs = make_wcs((0.0, 90.0), scale=1e-3, shape=(60, 60))
    polygon = parse_stencil("POLYGON 0 89.99 90 89.99 180 89.99 270 89.99")
    box = check(wcs, (60, 60), polygon)
    assert box is not None
    pole_x, pole_y = wcs.world_to_pixel_values(0.0, 90.0)
    assert box.x0 <= pole_x < box.x1
    assert box.y0 <= pole_y < box.y1


def test_meridian_edges_of_a_range_reach_the_pole() -> None:
    wcs = make_wcs((0.0, 90.0), scale=1e-3, shape=(60, 60))
    # A wedge from the pole down to 89.985, between RA 0 and 90: one quadrant.
    box = check(wcs, (60, 60), parse_stencil("RANGE 0 90 89.985 +Inf"))
    assert box is not None
    assert box.shape[0] < 60
    assert box.shape[1] < 60


def test_galactic_image_and_icrs_polygon() -> None:
    header = fits.Header()
    header.update(
        CTYPE1="GLON-TAN", CTYPE2="GLAT-TAN", CRVAL1=0.0, CRVAL2=0.0,
        CRPIX1=35.5, CRPIX2=25.5, CDELT1=-1e-3, CDELT2=1e-3,
    )  # fmt: skip
    polygon = parse_stencil("POLYGON 266.40 -28.95 266.42 -28.93 266.39 -28.92")
    assert check(WCS(header), SHAPE, polygon) is not None


def test_pixels_inside_matches_containment_of_pixel_centres() -> None:
    wcs = make_wcs((10.0, 20.0), scale=5e-4, sip=True)
    polygon = parse_stencil("POLYGON 10.01 19.99 10.0 20.01 9.99 19.995")
    box = stencil_pixel_box(wcs, SHAPE, polygon)
    expected = inside_grid(wcs, SHAPE, polygon, 1)[:, :, 0, 0][box.slices]
    np.testing.assert_array_equal(pixels_inside(wcs, box, polygon), expected)
    assert 0 < expected.sum() < expected.size


# -- property tests ---------------------------------------------------------------------------


@st.composite
def wcs_and_stencils(draw: st.DrawFn) -> tuple[WCS, Stencil]:
    """A random WCS (any rotation, several projections, SIP on TAN) and a stencil near it."""
    near_pole = draw(st.booleans())
    ra = draw(st.floats(0.0, 360.0, exclude_max=True))
    dec = draw(st.floats(85.0, 90.0) if near_pole else st.floats(-84.0, 84.0))
    projection = draw(st.sampled_from(["TAN", "SIN", "ZEA", "ARC", "STG"]))
    scale = 10 ** draw(st.floats(math.log10(0.2 / 3600), math.log10(0.05)))
    wcs = make_wcs(
        (ra, dec), scale=scale, rotation=draw(st.floats(-180.0, 180.0)), projection=projection,
        sip=projection == "TAN" and draw(st.booleans()),
    )  # fmt: skip
    # A centre around the image, in image sizes, and a size of 0.3 to 200 pixels.
    offset = draw(st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5)))
    cra, cdec = wcs.pixel_to_world_values(
        (0.5 + offset[0]) * SHAPE[1], (0.5 + offset[1]) * SHAPE[0]
    )
    size = 10 ** draw(st.floats(-0.5, 2.3)) * scale
    kind = draw(st.sampled_from(["circle", "polygon", "range"]))
    try:
        if kind == "circle":
            return wcs, Circle(float(cra) % 360.0, float(cdec), size)
        if kind == "polygon":
            n = draw(st.integers(3, 8))
            angles = np.sort(draw(st.lists(st.floats(0, 2 * math.pi), min_size=n, max_size=n)))
            radii = draw(st.lists(st.floats(0.2, 1.0), min_size=n, max_size=n))
            if draw(st.booleans()):  # clockwise
                angles, radii = angles[::-1], radii[::-1]
            dra = np.array(radii) * size * np.cos(angles) / max(math.cos(math.radians(cdec)), 1e-3)
            ddec = np.array(radii) * size * np.sin(angles)
            lat = np.clip(float(cdec) + ddec, -90.0, 90.0)
            return wcs, Polygon(
                tuple(zip(((float(cra) + dra) % 360.0).tolist(), lat.tolist(), strict=True))
            )
        open_lon, open_lat = draw(st.booleans()), draw(st.booleans())
        half_lon = size / max(math.cos(math.radians(cdec)), 1e-3)
        lon1 = -math.inf if open_lon else (float(cra) - half_lon) % 360.0
        lon2 = (float(cra) + half_lon) % 360.0
        lat1 = max(float(cdec) - size, -90.0)
        lat2 = math.inf if open_lat else min(float(cdec) + size, 90.0)
        return wcs, Range(lon1, lon2, lat1, lat2)
    except UsageError:
        assume(False)  # a degenerate draw (vertices too close, crossing edges)
        raise


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=wcs_and_stencils())
def test_random_wcs_and_stencils(case: tuple[WCS, Stencil]) -> None:
    wcs, stencil = case
    check(wcs, SHAPE, stencil)
