"""SIA 2.0 on the local stack: pyvo finds the service and the images, then DataLink and SODA."""

from __future__ import annotations

import io
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyvo
import requests
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.votable import parse_single_table
from astropy.wcs import WCS
from google.cloud import storage

from tests.unit.test_index_footprint import image_header

pytestmark = pytest.mark.integration


def covering(sample_dir: Path, ids: dict[str, str], ra: float, dec: float) -> set[str]:
    """The sample images with a pixel at (ra, dec), by each file's own WCS (not the index)."""
    found = set()
    for name, image_id in ids.items():
        if not name.endswith(".fits"):
            continue
        with fits.open(sample_dir / name) as hdul:
            hdu = hdul["IMAGE"] if "IMAGE" in hdul else hdul[0]
            header = hdu.header
            if "ZNAXIS1" in header:
                nx, ny = header["ZNAXIS1"], header["ZNAXIS2"]
            else:
                nx, ny = header["NAXIS1"], header["NAXIS2"]
            wcs = WCS(hdu.header)
            with warnings.catch_warnings(), np.errstate(invalid="ignore"):
                warnings.simplefilter("ignore")  # no pixel for positions far off the image
                x, y = wcs.all_world2pix([[ra, dec]], 0, quiet=True)[0]
                back = wcs.all_pix2world([[x, y]], 0)[0]
        there = SkyCoord(*back, unit="deg").separation(SkyCoord(ra, dec, unit="deg")).deg < 1e-7
        if there and -0.5 <= x <= nx - 0.5 and -0.5 <= y <= ny - 0.5:
            found.add(image_id)
    return found


# pyvo 1.9 warns on any ParamHTTP interface with two queryType elements or with params,
# which VODataService 1.2 allows and SODA's capabilities have (the document validates)
@pytest.mark.filterwarnings("ignore::pyvo.io.vosi.exceptions.W17")
@pytest.mark.filterwarnings("ignore::pyvo.utils.xml.exceptions.UnknownElementWarning")
def test_pyvo_finds_the_images_covering_a_position(stack: Any, base_url: str) -> None:
    assert stack.sample is not None
    ra, dec = stack.sample.example_position
    expected = covering(stack.config.sample_dir, stack.sample.ids, ra, dec)
    assert len(expected) >= 2
    service = pyvo.dal.SIA2Service(base_url)  # finds {query} through VOSI capabilities
    results = service.search(
        pos=(ra * pyvo.dal.sia2.u.deg, dec * pyvo.dal.sia2.u.deg, 1e-5 * pyvo.dal.sia2.u.deg)
    )
    got = {str(r["obs_publisher_did"]) for r in results}
    assert got == expected
    record = next(iter(results))
    assert record.s_region is not None
    assert abs(float(record["s_ra"]) - ra) < 1.0
    # the row leads to DataLink, and through its service descriptor to a SODA cutout
    links = record.getdatalink()
    cutout = links.get_first_proc()
    response = cutout.processed(circle=(ra, dec, 0.001))
    with fits.open(io.BytesIO(response.read())) as hdul:
        image = next(h for h in hdul if h.data is not None and h.data.ndim == 2)
        centre = WCS(image.header).all_world2pix([[ra, dec]], 0)[0]
        ny, nx = image.data.shape
        assert 0 <= centre[0] < nx
        assert 0 <= centre[1] < ny


def test_band_and_time_narrow_the_answer(stack: Any, base_url: str, http: requests.Session) -> None:
    ra, dec = stack.sample.example_position
    url = f"{base_url}/sia/query"
    everything = parse_single_table(
        io.BytesIO(http.get(url, params={"POS": f"CIRCLE {ra} {dec} 0.0001"}).content)
    ).to_table()
    r_band = parse_single_table(
        io.BytesIO(
            http.get(
                url, params={"POS": f"CIRCLE {ra} {dec} 0.0001", "BAND": "6e-7 6.5e-7"}
            ).content
        )
    ).to_table()
    assert 0 < len(r_band) < len(everything)
    assert all(
        lo <= 6.5e-7 and hi >= 6e-7
        for lo, hi in zip(r_band["em_min"], r_band["em_max"], strict=True)
    )
    t0 = float(np.min(everything["t_min"]))
    early = parse_single_table(
        io.BytesIO(
            http.get(
                url,
                params={"POS": f"CIRCLE {ra} {dec} 0.0001", "TIME": f"{t0 - 0.001} {t0 + 0.001}"},
            ).content
        )
    ).to_table()
    assert 0 < len(early) < len(everything)


def test_bad_parameters_get_a_dali_error(base_url: str, http: requests.Session) -> None:
    response = http.get(f"{base_url}/sia/query", params={"POS": "CIRCLE 10 95 1"})
    assert response.status_code == 400
    assert "QUERY_STATUS" in response.text
    assert 'value="ERROR"' in response.text
    assert "95" in response.text
    response = http.get(f"{base_url}/sia/query", params={"MAXREC": ["1", "2"]})
    assert response.status_code == 400


def test_maxrec_overflow_is_reported(stack: Any, base_url: str, http: requests.Session) -> None:
    response = http.get(f"{base_url}/sia/query", params={"COLLECTION": "calexp", "MAXREC": "1"})
    assert response.status_code == 200
    assert 'name="QUERY_STATUS" value="OVERFLOW"' in response.text
    assert len(parse_single_table(io.BytesIO(response.content)).to_table()) == 1


def test_an_upload_appears_in_sia_and_a_deletion_removes_it(
    stack: Any, base_url: str, http: requests.Session
) -> None:
    bucket = storage.Client().bucket(stack.config.sources_bucket)
    name = f"tests/sia-{uuid.uuid4().hex[:8]}.fits"
    ra, dec = 201.5, -43.0
    out = io.BytesIO()
    fits.PrimaryHDU(
        np.zeros((40, 40), np.float32), image_header((ra, dec), shape=(40, 40))
    ).writeto(out)
    blob = bucket.blob(name)
    started = time.monotonic()
    blob.upload_from_string(out.getvalue())
    image_id = f"gs://{bucket.name}/{name}"

    def ids() -> set[str]:
        table = parse_single_table(
            io.BytesIO(
                http.get(
                    f"{base_url}/sia/query", params={"POS": f"CIRCLE {ra} {dec} 0.001"}
                ).content
            )
        ).to_table()
        return {str(v) for v in table["obs_publisher_did"]}

    while image_id not in ids():
        assert time.monotonic() - started < 20, "not searchable within 20 s"
        time.sleep(0.1)
    blob.delete()
    started = time.monotonic()
    while image_id in ids():
        assert time.monotonic() - started < 20, "still found 20 s after its deletion"
        time.sleep(0.1)
