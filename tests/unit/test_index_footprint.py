"""Footprints: every pixel of the image inside the outline, and hardly anything more."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose

from skycut.errors import UsageError
from skycut.index.errors import UnindexableError
from skycut.index.footprint import DEFAULT_MARGIN, Footprint, image_footprint

SIP = {"A_ORDER": 2, "B_ORDER": 2, "A_2_0": 2e-5, "A_1_1": -1e-5, "A_0_2": 1e-5}
SIP |= {"B_2_0": -1e-5, "B_1_1": 2e-5, "B_0_2": 1.5e-5}
FOLD = {"A_ORDER": 2, "B_ORDER": 2, "A_2_0": 1e-2}  # dx'/dx = 1 + 0.02 x vanishes at x = -50


def image_header(
    crval: tuple[float, float],
    *,
    shape: tuple[int, int] = (200, 300),
    scale: float = 1e-4,
    rotation: float = 0.0,
    projection: str = "TAN",
    sip: dict[str, float] | None = None,
    flip: bool = False,
    axes: tuple[str, str] = ("RA--", "DEC-"),
) -> fits.Header:
    """A 2-D image header: ``shape`` in numpy order, ``scale`` degrees per pixel, east left."""
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    east = 1.0 if flip else -1.0
    suffix = "-SIP" if sip else ""
    header = fits.Header()
    header.update(
        NAXIS=2,
        NAXIS1=shape[1],
        NAXIS2=shape[0],
        CTYPE1=f"{axes[0]}-{projection}{suffix}",
        CTYPE2=f"{axes[1]}-{projection}{suffix}",
        CRVAL1=crval[0],
        CRVAL2=crval[1],
        CRPIX1=shape[1] / 2 + 0.5,
        CRPIX2=shape[0] / 2 + 0.5,
        CD1_1=east * scale * c,
        CD1_2=scale * s,
        CD2_1=east * scale * s * -1.0,
        CD2_2=scale * c,
    )
    if sip:
        header.update(sip)
    return header


def with_cards(header: fits.Header, **cards: float) -> fits.Header:
    """A copy of ``header`` with ``cards`` set."""
    copy = header.copy()
    copy.update(cards)
    return copy


def true_pixels(header: fits.Header, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pixel coordinates of ICRS positions by astropy alone; NaN where no pixel maps there.

    A position has a pixel only if mapping that pixel back gives the
    position again (this excludes the far side of TAN, where world-to-pixel
    still returns numbers, and SIP solutions that did not converge).
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        wcs = WCS(header).celestial
        frame = SkyCoord(ra, dec, unit="deg", frame="icrs")
        native = frame.transform_to(wcs.pixel_to_world(0, 0).frame)
        lon = native.spherical.lon.deg
        lat = native.spherical.lat.deg
        x, y = wcs.all_world2pix(lon, lat, 0, quiet=True)
        back_lon, back_lat = wcs.all_pix2world(x, y, 0)
    back = SkyCoord(back_lon, back_lat, unit="deg", frame=native.frame)
    with np.errstate(invalid="ignore"):
        good = np.asarray(native.separation(back).deg) < 1e-7
    x = np.where(good, x, np.nan)
    y = np.where(good, y, np.nan)
    return np.asarray(x), np.asarray(y)


def truly_inside(
    header: fits.Header, ra: np.ndarray, dec: np.ndarray, *, push: float = 0.0
) -> np.ndarray:
    """Brute-force truth: -0.5 <= x < nx - 0.5 and the same for y (borders pushed out by push)."""
    x, y = true_pixels(header, ra, dec)
    lo, hx, hy = -0.5 - push, header["NAXIS1"] - 0.5 + push, header["NAXIS2"] - 0.5 + push
    with np.errstate(invalid="ignore"):
        return np.asarray((x >= lo) & (x < hx) & (y >= lo) & (y < hy))


def sky(header: fits.Header, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ICRS positions (degrees) of pixels."""
    wcs = WCS(header).celestial
    coords = wcs.pixel_to_world(x, y).icrs
    return np.asarray(coords.ra.deg), np.asarray(coords.dec.deg)


def border_pixels(nx: int, ny: int, push: float, count: int, rng: np.random.Generator):
    """Random points on the image's border pushed out by ``push`` pixels, and its corners."""
    lo, hx, hy = -0.5 - push, nx - 0.5 + push, ny - 0.5 + push
    t = rng.uniform(0.0, 1.0, count)
    side = rng.integers(0, 4, count)
    x = np.choose(side, [lo + t * (hx - lo), hx, lo + t * (hx - lo), lo])
    y = np.choose(side, [lo, lo + t * (hy - lo), hy, lo + t * (hy - lo)])
    return np.concatenate([x, [lo, hx, hx, lo]]), np.concatenate([y, [lo, lo, hy, hy]])


CASES = {
    "sip": image_header((10.0, 20.0), sip=SIP, rotation=30.0),
    "ra0": image_header((0.005, -3.0), shape=(400, 500), scale=2e-4, rotation=12.0),
    "north-pole-inside": image_header((120.0, 89.995), shape=(300, 300), rotation=20.0, sip=SIP),
    "south-pole-inside": image_header((300.0, -89.99), shape=(400, 300), scale=2e-4),
    "pole-on-edge": image_header((45.0, 89.99), shape=(200, 200), scale=1e-4),
    "tiny": image_header((200.0, -45.0), shape=(2, 3), scale=5.6e-5, rotation=33.0),
    "one-pixel": image_header((359.99999, 10.0), shape=(1, 1), scale=1e-5),
    "huge-zea": image_header((30.0, 10.0), shape=(300, 300), scale=0.5, projection="ZEA"),
    "huge-tan": image_header((0.0, 60.0), shape=(500, 400), scale=0.2, rotation=45.0),
    "allsky-ish-ait": image_header((180.0, 0.0), shape=(200, 400), scale=0.5, projection="AIT"),
    "car-across-ra0": image_header((0.0, 0.0), shape=(200, 300), scale=0.2, projection="CAR"),
    "rotated-90": image_header((150.0, 2.0), rotation=90.0, sip=SIP),
    "rotated-137-flipped": image_header((150.0, 2.0), rotation=137.0, flip=True),
    "strip": image_header((80.0, -30.0), shape=(4, 3000), scale=3e-4, rotation=70.0),
    "galactic": image_header((0.0, 0.0), shape=(300, 300), scale=1e-3, axes=("GLON", "GLAT")),
}


@pytest.fixture(params=sorted(CASES), ids=str)
def case(request: pytest.FixtureRequest) -> tuple[fits.Header, Footprint]:
    header = CASES[request.param]
    return header, image_footprint(header, source=request.param)


def test_every_pixel_is_inside(case: tuple[fits.Header, Footprint]) -> None:
    header, footprint = case
    rng = np.random.default_rng(7)
    nx, ny = footprint.naxis1, footprint.naxis2
    # The image's very border (pixel edges) and random points within it.
    bx, by = border_pixels(nx, ny, 0.0, 2000, rng)
    ix, iy = rng.uniform(-0.5, nx - 0.5, 500), rng.uniform(-0.5, ny - 0.5, 500)
    ra, dec = sky(header, np.concatenate([bx, ix]), np.concatenate([by, iy]))
    assert footprint.contains(ra, dec).all()


def test_outline_hugs_the_border(case: tuple[fits.Header, Footprint]) -> None:
    header, footprint = case
    rng = np.random.default_rng(8)
    # 0.01 pixel beyond the border is beyond margin + tolerance (0.006 pixel).
    x, y = border_pixels(footprint.naxis1, footprint.naxis2, 2.5 * DEFAULT_MARGIN, 2000, rng)
    ra, dec = sky(header, x, y)
    known = np.isfinite(ra) & np.isfinite(dec)
    assert known.sum() > 1000
    assert not footprint.contains(ra[known], dec[known]).any()


def test_cap_holds_the_outline(case: tuple[fits.Header, Footprint]) -> None:
    header, footprint = case
    rng = np.random.default_rng(9)
    x, y = border_pixels(footprint.naxis1, footprint.naxis2, 0.0, 2000, rng)
    ra, dec = sky(header, x, y)
    centre = SkyCoord(*footprint.centre, unit="deg")
    assert centre.separation(SkyCoord(ra, dec, unit="deg")).deg.max() <= footprint.radius
    assert footprint.contains(*footprint.inner)


def test_vertices_run_counter_clockwise(case: tuple[fits.Header, Footprint]) -> None:
    """Inside is on the left of each edge (DALI's counter-clockwise, seen from outside)."""
    _, footprint = case
    lon, lat = np.radians(np.array(footprint.vertices).T)
    v = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
    w = np.roll(v, -1, axis=0)
    mid = (v + w) / np.linalg.norm(v + w, axis=1, keepdims=True)
    left = np.cross(v, w)
    left /= np.linalg.norm(left, axis=1, keepdims=True)
    nudge = 1e-4 * np.minimum(1.0, np.arccos(np.clip(np.sum(v * w, axis=1), -1, 1)))[:, None]
    probe = mid + nudge * left
    probe_lat = np.degrees(np.arcsin(probe[:, 2] / np.linalg.norm(probe, axis=1)))
    probe_lon = np.degrees(np.arctan2(probe[:, 1], probe[:, 0]))
    assert footprint.contains(probe_lon, probe_lat).mean() > 0.95


def test_size_and_scale() -> None:
    header = image_header((10.0, 20.0), shape=(200, 300), scale=2e-4)
    footprint = image_footprint(header)
    assert (footprint.naxis1, footprint.naxis2) == (300, 200)
    assert_allclose(footprint.pixel_scale, 2e-4, rtol=1e-6)
    # Half the diagonal, within the few per cent the cap is allowed above the smallest.
    half_diagonal = 0.5 * math.hypot(300, 200) * 2e-4
    assert half_diagonal <= footprint.radius <= 1.05 * half_diagonal


def test_plain_tan_is_its_four_corners() -> None:
    header = image_header((210.0, -60.0), shape=(4000, 4000), scale=5e-5, rotation=10.0)
    footprint = image_footprint(header)
    assert len(footprint.vertices) == 4


def test_cube_is_outlined_on_its_celestial_axes() -> None:
    header = image_header((10.0, 20.0), shape=(50, 60))
    header.update(NAXIS=3, NAXIS3=5, CTYPE3="WAVE", CRVAL3=5e-7, CDELT3=1e-9, CRPIX3=1.0)
    cube = image_footprint(header)
    del header["NAXIS3"], header["CTYPE3"], header["CRVAL3"], header["CDELT3"], header["CRPIX3"]
    header["NAXIS"] = 2
    assert cube == image_footprint(header)


def test_round_trip_through_plain_values() -> None:
    footprint = image_footprint(CASES["north-pole-inside"])
    again = Footprint.from_dict(footprint.to_dict())
    assert again == footprint
    packed = footprint.to_dict()["vertices"]
    assert isinstance(packed, bytes)
    assert len(packed) == 16 * len(footprint.vertices)
    flat = [c for vertex in footprint.vertices for c in vertex]  # the form stored before
    assert Footprint.from_dict({**footprint.to_dict(), "vertices": flat}) == footprint
    ra, dec = np.linspace(0, 359, 50), np.linspace(89.9, 90.0, 50)
    assert (again.contains(ra, dec) == footprint.contains(ra, dec)).all()


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (fits.Header({"NAXIS": 2, "NAXIS1": 10, "NAXIS2": 10}), "no celestial WCS"),
        (
            image_header((10.0, 20.0), axes=("LINX", "LINY"), projection="   "),
            "no celestial WCS",
        ),
        # The corners of an all-sky Aitoff rectangle lie off the sky.
        (image_header((0.0, 0.0), shape=(180, 360), scale=1.0, projection="AIT"), "no sky"),
        # 400° of longitude: wcslib's CAR stops at 180° from its reference.
        (image_header((0.0, 0.0), shape=(10, 400), scale=1.0, projection="CAR"), "no sky"),
        (with_cards(image_header((10.0, 20.0)), CD1_1=1e-4, CD2_1=1e-4, CD1_2=1e-4), "singular"),
        (image_header((0.0, 0.0), shape=(300, 300), scale=1e-3, sip=FOLD), "folds"),
        (image_header((10.0, 20.0), shape=(0, 10)), "no pixels"),
    ],
    ids=["no-wcs", "linear", "aitoff-corners", "car-too-wide", "singular", "fold", "empty"],
)
def test_refuses_what_has_no_outline(header: fits.Header, match: str) -> None:
    with pytest.raises(UnindexableError, match=match) as info:
        image_footprint(header)
    assert isinstance(info.value, UsageError)
