"""SODA {sync} end to end: API → Firestore → Pub/Sub → worker → results bucket."""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from astropy.coordinates import SkyCoord
from astropy.io import fits
from pyvo.dal.adhoc import SodaQuery

from skycut.sample.survey import read_catalogue
from tests.integration.helpers import brightest_pixel_sky, check_cutout_against_source

pytestmark = pytest.mark.integration

DEEP = "deepcoadd-i-0001.fits"


@pytest.fixture(scope="module")
def deep_id(stack):
    return f"gs://{stack.config.sources_bucket}/sample/{DEEP}"


@pytest.fixture(scope="module")
def bright_star(sample_dir):
    """A bright, unsaturated catalogued star well inside the deep image."""
    stars = read_catalogue(sample_dir / "stars.csv")
    centre = SkyCoord(150.1, 2.2, unit="deg")
    candidates = [
        s
        for s in stars
        if 17 < s.mag < 18 and SkyCoord(s.ra, s.dec, unit="deg").separation(centre).deg < 0.05
    ]
    return candidates[0]


def test_sync_get_redirects_to_a_cutout_matching_the_source(
    base_url, http, deep_id, sample_dir, bright_star
):
    pos = f"CIRCLE {bright_star.ra} {bright_star.dec} 0.002"
    response = http.get(
        f"{base_url}/sync", params={"ID": deep_id, "POS": pos}, allow_redirects=False, timeout=60
    )
    assert response.status_code == 303
    result = http.get(response.headers["Location"], timeout=60)
    assert result.status_code == 200
    check_cutout_against_source(result.content, sample_dir / DEEP)
    with fits.open(io.BytesIO(result.content)) as cut:
        assert cut[0].header["SC_ID"] == deep_id
        assert cut["IMAGE"].data.shape[0] == pytest.approx(2 * 0.002 * 3600 / 0.2, abs=3)
    ra, dec = brightest_pixel_sky(result.content)
    offset = SkyCoord(ra, dec, unit="deg").separation(
        SkyCoord(bright_star.ra, bright_star.dec, unit="deg")
    )
    assert offset.arcsec < 0.5, "the catalogued star must be at the flux peak"


def test_sync_post_with_lower_case_names(base_url, http, deep_id, sample_dir):
    response = http.post(
        f"{base_url}/sync",
        data={"id": deep_id, "circle": "150.1 2.2 0.001"},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 303
    check_cutout_against_source(
        http.get(response.headers["Location"], timeout=60).content, sample_dir / DEEP
    )


def test_pyvo_soda_query_gets_the_cutout(base_url, deep_id, sample_dir):
    query = SodaQuery(f"{base_url}/sync", circle=(150.1, 2.2, 0.001))
    query["ID"] = deep_id
    data = query.execute_stream().read()
    check_cutout_against_source(data, sample_dir / DEEP)


def test_every_sample_image_can_be_cut_through_the_pipeline(base_url, http, stack, sample_dir):
    for image in stack.sample.manifest.images:
        ra, dec = image.crval
        source_id = f"gs://{stack.config.sources_bucket}/sample/{image.name}"
        response = http.get(
            f"{base_url}/sync",
            params={"ID": source_id, "POS": f"CIRCLE {ra} {dec} 0.003"},
            timeout=60,
        )
        assert response.status_code == 200, (image.name, response.text)
        check_cutout_against_source(response.content, sample_dir / image.name)


def test_cutout_across_ra_zero(base_url, http, stack, sample_dir):
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-i-0004.fits"
    response = http.get(
        f"{base_url}/sync", params={"ID": source_id, "POS": "CIRCLE 0.0 -30.0 0.01"}, timeout=60
    )
    assert response.status_code == 200, response.text
    with fits.open(io.BytesIO(response.content)) as cut:
        from astropy.wcs import WCS

        header = cut["IMAGE"].header
        ny, nx = cut["IMAGE"].data.shape
        ras = WCS(header).all_pix2world([0, nx - 1], [ny // 2, ny // 2], 0)[0]
    assert np.any(ras > 359.9), "the cutout straddles RA=0"
    assert np.any(ras < 0.1), "the cutout straddles RA=0"
    check_cutout_against_source(response.content, sample_dir / "calexp-i-0004.fits")


@pytest.mark.parametrize(
    ("params", "status", "label", "text"),
    [
        ({"POS": "CIRCLE 150.1 2.2 0.01"}, 400, "UsageError", "ID is required"),
        ({"ID": "{id}", "POS": "CIRCLE 150.1 2.2"}, 400, "UsageError", "needs 3 numbers"),
        ({"ID": "{id}", "POS": "CIRCLE 150.1 2.2 -1"}, 400, "UsageError", "radius"),
        (
            {"ID": "gs://elsewhere/a.fits", "CIRCLE": "1 1 1"},
            400,
            "UsageError",
            "outside the allowed buckets",
        ),
        (
            {"ID": "{id}", "CIRCLE": ["150.1 2.2 0.01", "150.1 2.21 0.01"]},
            400,
            "MultiValuedParamNotSupported",
            "one stencil",
        ),
    ],
)
def test_bad_requests_get_400_and_a_label(base_url, http, deep_id, params, status, label, text):
    params = {
        k: (v.replace("{id}", deep_id) if isinstance(v, str) else v) for k, v in params.items()
    }
    response = http.get(f"{base_url}/sync", params=params, allow_redirects=False, timeout=60)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.startswith(f"{label}: ")
    assert text in response.text


def test_missing_source_is_a_usage_error(base_url, http, stack):
    source_id = f"gs://{stack.config.sources_bucket}/sample/no-such-file.fits"
    response = http.get(
        f"{base_url}/sync", params={"ID": source_id, "CIRCLE": "1 1 0.1"}, timeout=60
    )
    assert response.status_code == 400
    assert response.text.startswith("UsageError: ")
    assert "does not exist" in response.text


def test_no_overlap_answers_204_with_no_body(base_url, http, deep_id):
    response = http.get(
        f"{base_url}/sync",
        params={"ID": deep_id, "CIRCLE": "10 10 0.01"},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 204
    assert response.content == b""


def test_requests_library_follows_to_fits(base_url, deep_id):
    response = requests.get(
        f"{base_url}/sync", params={"ID": deep_id, "CIRCLE": "150.1 2.2 0.001"}, timeout=60
    )
    assert response.status_code == 200
    assert response.content[:9] == b"SIMPLE  ="


@pytest.mark.parametrize(
    "stencil",
    [
        {"POS": "POLYGON 150.099 2.199 150.101 2.199 150.101 2.201 150.099 2.201"},
        {"POLYGON": "150.099 2.201 150.101 2.201 150.101 2.199 150.099 2.199"},  # clockwise
        {"POS": "RANGE 150.099 150.101 2.199 2.201"},
        {"POS": "CIRCLE 150.1 2.2 0.001"},
    ],
)
def test_every_stencil_through_the_pipeline(base_url, http, deep_id, sample_dir, stencil):
    response = http.get(f"{base_url}/sync", params={"ID": deep_id, **stencil}, timeout=60)
    assert response.status_code == 200, response.text
    check_cutout_against_source(response.content, sample_dir / DEEP)
    with fits.open(io.BytesIO(response.content)) as cut:
        ny, nx = cut["IMAGE"].data.shape
    # 0.002 deg at 0.2"/px is 36 px across, plus at most a pixel each side
    assert 36 <= nx <= 39
    assert 36 <= ny <= 39


def test_detail_brings_mask_and_variance(base_url, http, deep_id):
    response = http.get(
        f"{base_url}/sync",
        params={"ID": deep_id, "CIRCLE": "150.1 2.2 0.001", "DETAIL": "image,mask,variance"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    with fits.open(io.BytesIO(response.content)) as cut:
        assert [h.name for h in cut] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
        assert cut["MASK"].data.shape == cut["IMAGE"].data.shape


@pytest.mark.parametrize(("fmt", "magic"), [("image/png", b"\x89PNG"), ("image/jpeg", b"\xff\xd8")])
def test_previews_come_with_their_content_type(base_url, http, deep_id, fmt, magic):
    response = http.get(
        f"{base_url}/sync",
        params={"ID": deep_id, "CIRCLE": "150.1 2.2 0.001", "RESPONSEFORMAT": fmt},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(fmt)
    assert response.content.startswith(magic)
