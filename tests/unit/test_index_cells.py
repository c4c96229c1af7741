"""Cell lookup plus exact test finds exactly the images under a position or region."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from skycut.cutout.stencil import Circle, Polygon, Range
from skycut.index.cells import (
    MAX_IDS,
    ORDERS,
    footprint_cells,
    point_ids,
    query_cells,
)
from skycut.index.footprint import DEFAULT_MARGIN, Footprint, image_footprint
from skycut.index.match import contains, covers, overlaps
from tests.unit.test_index_footprint import CASES, SIP, image_header, sky, truly_inside


def generated_images() -> dict[str, fits.Header]:
    """The footprint tests' images and random ones: 15 fixed + 12 random = 27."""
    rng = np.random.default_rng(2026)
    images = dict(CASES)
    for k in range(12):
        dec = math.degrees(math.asin(rng.uniform(-1, 1)))
        if k % 4 == 0:
            dec = math.copysign(90.0 - rng.uniform(0.0, 0.05), dec)  # near a pole
        ra = rng.uniform(-0.05, 0.05) % 360 if k % 4 == 1 else rng.uniform(0, 360)  # near RA=0
        n = int(rng.integers(2, 600))
        images[f"random-{k}"] = image_header(
            (ra, dec),
            shape=(n, int(rng.integers(2, 600))),
            scale=10 ** rng.uniform(-5, -2),
            rotation=rng.uniform(0, 360),
            sip=SIP if k % 2 else None,
            flip=bool(k % 3 == 0),
        )
    return images


IMAGES = generated_images()


@pytest.fixture(scope="module")
def indexed() -> list[tuple[str, fits.Header, Footprint, set[int]]]:
    rows = []
    for name, header in IMAGES.items():
        footprint = image_footprint(header, source=name)
        rows.append((name, header, footprint, set(footprint_cells(footprint).index_ids())))
    return rows


def test_index_lists_stay_short(indexed: list[tuple[str, fits.Header, Footprint, set[int]]]):
    for name, _, _, ids in indexed:
        assert 1 <= len(ids) <= MAX_IDS, name


def positions(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform on the sphere, around every image, across RA = 0 and within 1° of both poles."""
    ra = [rng.uniform(0, 360, 600)]
    dec = [np.degrees(np.arcsin(rng.uniform(-1, 1, 600)))]
    for header in IMAGES.values():
        nx, ny = header["NAXIS1"], header["NAXIS2"]
        x = rng.uniform(-0.3 * nx - 1, 1.3 * nx + 1, 40)
        y = rng.uniform(-0.3 * ny - 1, 1.3 * ny + 1, 40)
        near_ra, near_dec = sky(header, x, y)
        ok = np.isfinite(near_ra) & np.isfinite(near_dec)
        ra.append(near_ra[ok])
        dec.append(near_dec[ok])
    ra.append(rng.uniform(-0.5, 0.5, 150) % 360)
    dec.append(rng.uniform(-60, 60, 150))
    for pole in (90.0, -90.0):
        ra.append(rng.uniform(0, 360, 150))
        dec.append(pole - math.copysign(1.0, pole) * rng.uniform(0, 1, 150))
    return np.concatenate(ra) % 360.0, np.concatenate(dec)


def test_points_found_exactly(indexed: list[tuple[str, fits.Header, Footprint, set[int]]]):
    """No false negative and no false positive against each image's own WCS.

    The outline lies up to margin + tolerance (0.006 pixel) outside the
    image by design, so a position closer than that to a border may be
    found; any farther out is a false positive.
    """
    rng = np.random.default_rng(13)
    ra, dec = positions(rng)
    assert ra.size >= 1000
    lookups = point_ids(ra, dec)
    assert lookups.shape == (ra.size, len(ORDERS))
    found_somewhere = in_band = 0
    for name, header, footprint, ids in indexed:
        truth = truly_inside(header, ra, dec)
        band = truly_inside(header, ra, dec, push=2.5 * DEFAULT_MARGIN) & ~truth
        candidate = np.array([not ids.isdisjoint(row.tolist()) for row in lookups])
        assert not (truth & ~candidate).any(), f"{name}: the cell lookup missed a position"
        found = candidate & contains(footprint, ra, dec)
        false_negatives = truth & ~found
        false_positives = found & ~truth & ~band
        assert not false_negatives.any(), f"{name}: {false_negatives.sum()} false negatives"
        assert not false_positives.any(), f"{name}: {false_positives.sum()} false positives"
        if footprint.radius < 10.0:  # the lookup narrows the sky to a few cells around it
            assert candidate.sum() <= 0.3 * ra.size, name
        found_somewhere += int(truth.sum())
        in_band += int(band.sum())
    assert found_somewhere >= 400  # the test is about images, not empty sky
    assert in_band <= 10  # positions within 0.01 pixel of a border are rare (4 here)


def image_points(header: fits.Header, rng: np.random.Generator, count: int):
    nx, ny = header["NAXIS1"], header["NAXIS2"]
    x = rng.uniform(-0.5, nx - 0.5, count)
    y = rng.uniform(-0.5, ny - 0.5, count)
    return sky(header, x, y)


def random_regions(rng: np.random.Generator, around: tuple[float, float], size: float):
    """A circle, a quadrilateral and a range near ``around``, about ``size`` degrees wide."""
    centre = SkyCoord(*around, unit="deg").directional_offset_by(
        rng.uniform(0, 360) * u.deg, rng.uniform(0, 2 * size) * u.deg
    )
    ra, dec = float(centre.ra.deg), float(centre.dec.deg)
    yield Circle(ra, dec, size * rng.uniform(0.05, 1.0))
    angles = np.array([45.0, 135.0, 225.0, 315.0]) + rng.uniform(0, 90)
    corners = centre.directional_offset_by(angles * u.deg, size * rng.uniform(0.05, 1.0) * u.deg)
    yield Polygon(tuple(zip(corners.ra.deg.tolist(), corners.dec.deg.tolist(), strict=True)))
    half = size * rng.uniform(0.05, 1.0)
    lat1, lat2 = max(dec - half, -90.0), min(dec + half, 90.0)
    width = 2 * half / max(math.cos(math.radians(dec)), 1e-3)
    if width >= 360.0:
        yield Range(0.0, 360.0, lat1, lat2)
    else:
        yield Range((ra - width / 2) % 360.0, (ra + width / 2) % 360.0, lat1, lat2)


def test_regions_never_miss_an_image(indexed: list[tuple[str, fits.Header, Footprint, set[int]]]):
    """Every image holding a point of a region is a candidate and overlaps it."""
    rng = np.random.default_rng(21)
    checked = 0
    for name, header, footprint, ids in indexed:
        for size in (footprint.radius * 0.2, footprint.radius * 3.0):
            for region in random_regions(rng, footprint.inner, min(size, 30.0)):
                cover = query_cells(region)
                lookup = cover.query_ids()
                assert len(lookup) <= MAX_IDS
                ra, dec = image_points(header, rng, 400)
                shared = bool(region.contains(ra, dec).any())
                if shared:
                    checked += 1
                    assert not ids.isdisjoint(lookup), f"{name}: lookup missed {region}"
                    assert overlaps(footprint, region), f"{name}: {region}"
                if covers(footprint, region):
                    assert overlaps(footprint, region)
    assert checked >= 60


def test_lookup_of_a_point_and_of_a_tiny_circle_agree() -> None:
    header = image_header((10.0, 20.0), shape=(100, 100), scale=1e-3)
    footprint = image_footprint(header)
    ids = set(footprint_cells(footprint).index_ids())
    circle = Circle(10.0, 20.0, 1e-6)
    assert not ids.isdisjoint(query_cells(circle).query_ids())
    assert not ids.isdisjoint(point_ids(10.0, 20.0)[0].tolist())


@pytest.mark.parametrize(
    ("region", "overlap", "cover"),
    [
        (Circle(10.0, 20.0, 0.01), True, True),  # small, in the middle
        (Circle(10.0, 20.0, 1.0), True, False),  # holds the whole image
        # The image spans ±0.05° on the sky, RA 9.9468 to 10.0532; (10.2, 20) is 0.188° east.
        (Circle(10.2, 20.0, 0.15), True, False),  # over its east edge
        (Circle(10.2, 20.0, 0.12), False, False),  # short of it
        (Circle(190.0, -20.0, 179.97), True, False),  # all but 0.03° around the image's centre
        (Circle(190.0, -20.0, 179.9), False, False),  # all but 0.1° around it
        (Circle(190.0, -20.0, 170.0), False, False),
        (Polygon(((9.99, 19.99), (10.01, 19.99), (10.01, 20.01), (9.99, 20.01))), True, True),
        (Polygon(((9.0, 19.0), (11.0, 19.0), (11.0, 21.0), (9.0, 21.0))), True, False),
        (Polygon(((10.04, 19.9), (10.2, 19.9), (10.2, 20.1), (10.04, 20.1))), True, False),
        (Polygon(((10.06, 19.9), (10.2, 19.9), (10.2, 20.1), (10.06, 20.1))), False, False),
        # Crossing each other like a plus sign: no vertex of either inside the other.
        (Polygon(((9.9, 19.99), (10.1, 19.99), (10.1, 20.01), (9.9, 20.01))), True, False),
        (Range(9.99, 10.01, 19.99, 20.01), True, True),
        (Range(0.0, 360.0, 19.0, 21.0), True, False),  # a band round the sky
        (Range(9.9, 10.1, 20.02, 20.03), True, False),  # a strip across, no corner inside
        (Range(10.06, 10.2, -90.0, 90.0), False, False),  # a lune beside it
        (Range(350.0, 9.9, -90.0, 90.0), False, False),  # wrapping RA = 0, ends short of it
        (Range(350.0, 9.96, -90.0, 90.0), True, False),
        (Range(0.0, 360.0, 20.06, 90.0), False, False),  # the cap north of it
    ],
)
def test_exact_overlap_and_cover(region: Circle | Polygon | Range, overlap: bool, cover: bool):
    # 100 x 100 pixels of 0.001°: about ±0.05° around (10, 20), ±0.053° in RA.
    footprint = image_footprint(image_header((10.0, 20.0), shape=(100, 100), scale=1e-3))
    assert overlaps(footprint, region) is overlap
    assert covers(footprint, region) is cover
    ids = set(footprint_cells(footprint).index_ids())
    if overlap:
        assert not ids.isdisjoint(query_cells(region).query_ids())


def test_huge_footprints_are_filed_coarsely() -> None:
    footprint = image_footprint(CASES["huge-zea"])
    cover = footprint_cells(footprint)
    assert cover.order == 0
    assert len(cover.index_ids()) == 12  # more than a hemisphere: every base cell
    whole_sky = query_cells(Circle(0.0, 0.0, 180.0))
    assert whole_sky.order == 0
    assert len(whole_sky.query_ids()) == 24


def test_small_footprints_are_filed_deep() -> None:
    tiny = footprint_cells(image_footprint(CASES["tiny"]))
    wide = footprint_cells(image_footprint(CASES["huge-tan"]))
    assert tiny.order >= 18
    assert wide.order <= 4
    assert tiny.order > wide.order
