"""The pixel box of a CIRCLE: every pixel centre inside it, at most a pixel more."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.coordinates import angular_separation
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from skycut.cutout.geometry import PixelBox, circle_pixel_box
from skycut.cutout.stencil import Circle
from skycut.errors import NoOverlapError, UnsupportedSourceError

SHAPE = (200, 300)  # numpy order: NAXIS2, NAXIS1


def tan_wcs(
    crval: tuple[float, float],
    *,
    scale: float = 1e-4,
    rotation: float = 0.0,
    shape: tuple[int, int] = SHAPE,
    sip: bool = True,
    ctype: str = "TAN",
) -> WCS:
    """A WCS centred on the image, ``scale`` degrees per pixel, with a quadratic SIP."""
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    header = fits.Header()
    suffix = "-SIP" if sip else ""
    header.update(
        NAXIS=2,
        NAXIS1=shape[1],
        NAXIS2=shape[0],
        CTYPE1=f"RA---{ctype}{suffix}",
        CTYPE2=f"DEC--{ctype}{suffix}",
        CRVAL1=crval[0],
        CRVAL2=crval[1],
        CRPIX1=shape[1] / 2 + 0.5,
        CRPIX2=shape[0] / 2 + 0.5,
        CD1_1=-scale * c,
        CD1_2=scale * s,
        CD2_1=scale * s,
        CD2_2=scale * c,
    )
    if sip:
        header.update(A_ORDER=2, B_ORDER=2, A_2_0=2e-5, A_1_1=-1e-5, A_0_2=1e-5)
        header.update(B_2_0=-1e-5, B_1_1=2e-5, B_0_2=1.5e-5)
    return WCS(header)


def pixel_separations(wcs: WCS, shape: tuple[int, int], circle: Circle) -> np.ndarray:
    """Angular distance (deg) from the circle centre of every pixel centre."""
    y, x = np.mgrid[: shape[0], : shape[1]]
    ra, dec = wcs.pixel_to_world_values(x, y)
    sep = angular_separation(
        np.radians(ra), np.radians(dec), math.radians(circle.ra), math.radians(circle.dec)
    )
    return np.asarray(np.degrees(sep))


def assert_covers_tightly(wcs: WCS, shape: tuple[int, int], circle: Circle, box: PixelBox) -> None:
    """Every pixel centre inside the circle is in the box; each box edge is within 1 px of it."""
    sep = pixel_separations(wcs, shape, circle)
    inside = sep <= circle.radius
    outside_box = np.ones(shape, dtype=bool)
    outside_box[box.slices] = False
    assert not (inside & outside_box).any(), "a pixel centre inside the circle is outside the box"
    if box.x1 <= box.x0 or box.y1 <= box.y0:
        return  # an empty box: no pixel centre is inside (checked just above), nothing to bound
    # Local pixel scale varies a little with the SIP terms; 10 % covers it.
    pixel = 1.1 * float(np.max(proj_plane_pixel_scales(wcs)))
    in_box = sep[box.slices]
    for edge in (in_box[0, :], in_box[-1, :], in_box[:, 0], in_box[:, -1]):
        assert edge.min() <= circle.radius + pixel, "box edge more than a pixel beyond the circle"


@pytest.mark.parametrize(
    ("circle", "expected"),
    [
        (Circle(10.0, 20.0, 0.001), PixelBox(139, 160, 89, 110)),  # 36 px wide, all inside
        (Circle(10.0, 20.0, 1.0), PixelBox(0, 300, 0, 200)),  # image inside the circle
    ],
)
def test_known_boxes(circle: Circle, expected: PixelBox) -> None:
    wcs = tan_wcs((10.0, 20.0))
    box = circle_pixel_box(wcs, SHAPE, circle)
    assert box == expected
    assert_covers_tightly(wcs, SHAPE, circle, box)


@pytest.mark.parametrize(
    "circle",
    [
        Circle(10.0, 20.0, 0.003),
        Circle(10.012, 20.0, 0.004),  # clipped at the left edge
        Circle(9.99, 19.995, 0.005),  # clipped at a corner
        Circle(10.0, 20.0103, 0.0005),  # only the top row's outer half
        Circle(10.0, 20.0, 0.00002),  # smaller than a pixel
        Circle(10.0, 22.0, 1.993),  # huge circle, a sliver of its edge on the image
    ],
)
def test_coverage_and_tightness(circle: Circle) -> None:
    wcs = tan_wcs((10.0, 20.0))
    box = circle_pixel_box(wcs, SHAPE, circle)
    assert box.shape[0] > 0
    assert box.shape[1] > 0
    assert_covers_tightly(wcs, SHAPE, circle, box)


def test_clipping_to_the_image() -> None:
    wcs = tan_wcs((10.0, 20.0), sip=False)
    ra = 10.0 + 0.0145 / math.cos(math.radians(20.0))  # 145 px left of the centre
    box = circle_pixel_box(wcs, SHAPE, Circle(ra, 20.0, 0.002))
    assert box.x0 == 0  # RA grows to the left
    assert 0 < box.x1 < 30


@pytest.mark.parametrize(
    "circle",
    [
        Circle(10.1, 20.0, 0.05),  # beside the image
        Circle(190.0, -20.0, 10.0),  # on the far side of the sky (TAN is invalid there)
        Circle(190.0, -20.0, 150.0),  # huge, but missing the image
    ],
)
def test_no_overlap(circle: Circle) -> None:
    with pytest.raises(NoOverlapError, match=r"no overlap between CIRCLE .* and calexp\.fits"):
        circle_pixel_box(tan_wcs((10.0, 20.0)), SHAPE, circle, source="calexp.fits")


@pytest.mark.parametrize("circle", [Circle(359.995, 0.002, 0.004), Circle(0.004, -0.003, 0.003)])
def test_ra_wrap(circle: Circle) -> None:
    wcs = tan_wcs((0.0, 0.0))
    box = circle_pixel_box(wcs, SHAPE, circle)
    assert_covers_tightly(wcs, SHAPE, circle, box)
    # Both sides of RA = 0 are on the image; the box is not the whole width.
    assert 0 < box.shape[1] < SHAPE[1]


def test_circle_around_the_pole_on_a_tan_image() -> None:
    wcs = tan_wcs((30.0, 89.95), scale=1e-3)
    circle = Circle(200.0, 89.99, 0.05)  # contains the pole, which is on the image
    box = circle_pixel_box(wcs, SHAPE, circle)
    assert_covers_tightly(wcs, SHAPE, circle, box)


def test_circle_around_the_pole_takes_the_whole_band() -> None:
    header = fits.Header()
    header.update(
        CTYPE1="RA---CAR", CTYPE2="DEC--CAR", CRVAL1=180.0, CRVAL2=0.0,
        CRPIX1=180.5, CRPIX2=90.5, CDELT1=-1.0, CDELT2=1.0,
    )  # fmt: skip
    wcs, shape = WCS(header), (180, 360)
    circle = Circle(40.0, 85.0, 10.0)  # reaches dec 75, around the pole
    box = circle_pixel_box(wcs, shape, circle)
    assert (box.x0, box.x1, box.y1) == (0, 360, 180)
    assert box.y0 == pytest.approx(164, abs=1)  # dec 75 is pixel 164.5
    assert_covers_tightly(wcs, shape, circle, box)


def test_sin_far_side_is_not_folded_onto_the_image() -> None:
    wcs = tan_wcs((10.0, 20.0), ctype="SIN", sip=False)
    with pytest.raises(NoOverlapError):
        circle_pixel_box(wcs, SHAPE, Circle(190.0, -20.0, 0.001))  # the antipode


def test_galactic_wcs() -> None:
    header = fits.Header()
    header.update(
        CTYPE1="GLON-TAN", CTYPE2="GLAT-TAN", CRVAL1=0.0, CRVAL2=0.0,
        CRPIX1=150.5, CRPIX2=100.5, CDELT1=-1e-3, CDELT2=1e-3,
    )  # fmt: skip
    wcs = WCS(header)
    # The Galactic centre in ICRS, within a few milliarcseconds: pixel (149.5, 99.5).
    box = circle_pixel_box(wcs, SHAPE, Circle(266.40498829, -28.93617776, 0.0102))
    assert box == PixelBox(139, 161, 89, 111)


def test_not_a_celestial_wcs() -> None:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["WAVE", "TIME"]
    with pytest.raises(UnsupportedSourceError, match="celestial"):
        circle_pixel_box(wcs, SHAPE, Circle(0.0, 0.0, 1.0))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ra=st.floats(0.0, 360.0, exclude_max=True),
    dec=st.floats(-89.9, 89.9),
    rotation=st.floats(-180.0, 180.0),
    log_scale=st.floats(math.log10(0.1 / 3600), math.log10(0.05)),
    offset=st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5)),
    log_radius=st.floats(-0.5, 2.3),
    sip=st.booleans(),
)
# a circle grazing the image's corner at RA = 0: no pixel centre inside, an empty box
@example(
    ra=0.0, dec=0.0, rotation=0.0, log_scale=-2.0, offset=(1.0, 1.31640625),
    log_radius=1.7372638485472143, sip=True,
)  # fmt: skip
def test_random_tan_wcs_and_circles(
    ra: float,
    dec: float,
    rotation: float,
    log_scale: float,
    offset: tuple[float, float],
    log_radius: float,
    sip: bool,
) -> None:
    shape = (50, 70)
    scale = 10**log_scale
    wcs = tan_wcs((ra, dec), scale=scale, rotation=rotation, shape=shape, sip=sip)
    # A centre around the image (offsets in image sizes) and a radius of 0.3 to 200 pixels.
    cx, cy = (0.5 + offset[0]) * shape[1], (0.5 + offset[1]) * shape[0]
    cra, cdec = wcs.pixel_to_world_values(cx, cy)
    circle = Circle(float(cra) % 360.0, float(cdec), 10**log_radius * scale)
    try:
        box = circle_pixel_box(wcs, shape, circle)
    except NoOverlapError:
        assert not (pixel_separations(wcs, shape, circle) <= circle.radius).any()
        return
    assert_covers_tightly(wcs, shape, circle, box)
