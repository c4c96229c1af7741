"""Region lookups over an index agree with every image's own WCS, at RA = 0 and near the poles."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from skycut.cutout.stencil import Circle
from skycut.index.footprint import image_footprint
from skycut.index.memory_index import MemoryImageIndex
from skycut.index.metadata import image_metadata
from skycut.index.record import ImageRecord, ObjectStamp
from skycut.index.search import containing, overlapping
from skycut.soda.ids import SourceRef
from tests.unit.test_index_footprint import SIP, image_header

SHAPE = (300, 400)


def headers(rng: np.random.Generator) -> list:
    """Images at random places, many straddling RA = 0 or near a pole, some with SIP."""
    out = []
    centres = [(rng.uniform(-1.0, 1.0) % 360, rng.uniform(-3, 3)) for _ in range(40)]
    centres += [(rng.uniform(0, 360), rng.uniform(87.5, 89.9)) for _ in range(30)]
    centres += [(rng.uniform(0, 360), rng.uniform(-89.9, -87.5)) for _ in range(30)]
    for k, (ra, dec) in enumerate(centres):
        out.append(
            image_header(
                (ra, dec),
                shape=SHAPE,
                scale=float(rng.uniform(1e-3, 5e-3)),
                rotation=float(rng.uniform(0, 360)),
                sip=SIP if k % 3 == 0 else None,
            )
        )
    return out


def record(header, k: int) -> ImageRecord:
    source = SourceRef("b", f"img-{k}.fits")
    return ImageRecord(
        source=source,
        stamp=ObjectStamp(1),
        indexed_at=datetime.now(UTC),
        hdu=0,
        extname=None,
        size=1,
        footprint=image_footprint(header, source=source.uri),
        metadata=image_metadata(header, uri=source.uri),
    )


def on_image(header, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """The brute-force answer: which positions land on a pixel of the image?"""
    wcs = WCS(header)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")  # positions with no pixel (beyond the projection)
        x, y = wcs.all_world2pix(ra, dec, 0, quiet=True)
        back_ra, back_dec = wcs.all_pix2world(x, y, 0)
    # an inverse that converged to the pixel of some other position does not count
    same = (
        SkyCoord(back_ra, back_dec, unit="deg").separation(SkyCoord(ra, dec, unit="deg")).deg < 1e-7
    )
    ny, nx = SHAPE
    inside = (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)
    return np.asarray(np.isfinite(x) & np.isfinite(y) & same & inside)


@pytest.fixture(scope="module")
def survey() -> tuple[MemoryImageIndex, list]:
    rng = np.random.default_rng(7)
    hs = headers(rng)
    index = MemoryImageIndex()
    for k, h in enumerate(hs):
        index.put(record(h, k))
    return index, hs


def test_points_find_exactly_the_images_under_them(survey) -> None:
    index, hs = survey
    rng = np.random.default_rng(11)
    # positions on and around the images: each image's own pixels plus random sky
    points = []
    for h in hs[::3]:
        w = WCS(h)
        px = rng.uniform([-30, -30], [SHAPE[1] + 30, SHAPE[0] + 30], size=(4, 2))
        points += [tuple(p) for p in w.all_pix2world(px, 0)]
    points += [(rng.uniform(0, 360), rng.uniform(-90, 90)) for _ in range(100)]
    ras, decs = np.array(points).T
    ras %= 360.0
    truth = np.array([on_image(h, ras, decs) for h in hs])
    found_any = 0
    for j, (ra, dec) in enumerate(zip(ras, decs, strict=True)):
        got = {r.source.name for r in containing(index, float(ra), float(dec))}
        tiny = Circle(ra=float(ra), dec=float(dec), radius=1e-9)
        assert {r.source.name for r in overlapping(index, tiny)} == got
        expected = {f"img-{k}.fits" for k in np.flatnonzero(truth[:, j])}
        assert got == expected, (ra, dec)
        found_any += bool(expected)
    assert found_any > 30  # the test looked where images are


def test_circles_find_images_near_them(survey) -> None:
    index, _ = survey
    # a circle around a pole meets every image near it
    near_pole = {r.source.name for r in overlapping(index, Circle(ra=0.0, dec=90.0, radius=3.0))}
    assert near_pole == {f"img-{k}.fits" for k in range(40, 70)}
    around_zero = {r.source.name for r in overlapping(index, Circle(0.0, 0.0, 5.0))}
    assert around_zero == {f"img-{k}.fits" for k in range(40)}
