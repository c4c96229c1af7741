"""Real VO clients against the running service: pyvo's UWS, TAP job list and DataLink."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from astropy.io import fits
from pyvo.dal.adhoc import DatalinkResults, SodaQuery
from pyvo.dal.tap import AsyncTAPJob, TAPService

from tests.integration.helpers import check_cutout_against_source
from tests.integration.uws_client import create_job

pytestmark = pytest.mark.integration

IMAGE = "calexp-g-0003.fits"


@pytest.fixture(scope="module")
def image_id(stack):
    return f"gs://{stack.config.sources_bucket}/sample/{IMAGE}"


def test_asynctapjob_drives_a_soda_job(base_url, http, image_id, sample_dir):
    job = AsyncTAPJob(create_job(http, base_url, {"ID": image_id, "CIRCLE": "150.1 2.15 0.001"}))
    assert job.phase == "PENDING"
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "COMPLETED"
    uris = list(job.result_uris)
    assert len(uris) == 1
    data = http.get(uris[0], timeout=30).content
    check_cutout_against_source(data, sample_dir / IMAGE)
    job_url = job.url
    job.delete()
    assert http.get(job_url, timeout=30).status_code == 404


def test_asynctapjob_drives_a_mosaic_job(base_url, http, stack):
    ids = [f"gs://{stack.config.sources_bucket}/sample/calexp-r-000{k}.fits" for k in (1, 2)]
    created = http.post(
        f"{base_url}/mosaic",
        data={"ID": ids, "CRVAL": "150.095 2.225", "WIDTH": "120", "HEIGHT": "90",
              "PIXSCALE": "0.0003", "DETAIL": "coverage"},
        allow_redirects=False, timeout=60,
    )  # fmt: skip
    assert created.status_code == 303, created.text
    job = AsyncTAPJob(created.headers["Location"])
    assert job.phase == "PENDING"
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=120)
    assert job.phase == "COMPLETED"
    uris = list(job.result_uris)
    assert len(uris) == 2  # the mosaic first, then its preview
    with fits.open(io.BytesIO(http.get(uris[0], timeout=30).content)) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "COVERAGE", "PROVENANCE"]
        assert hdul[0].data.shape == (90, 120)
        assert list(hdul["PROVENANCE"].data["ID"]) == ids
    job_url = job.url
    job.delete()
    assert http.get(job_url, timeout=30).status_code == 404


def test_asynctapjob_abort(base_url, http, image_id):
    job = AsyncTAPJob(create_job(http, base_url, {"ID": image_id, "CIRCLE": "150.1 2.15 0.001"}))
    job.abort()
    assert job.phase == "ABORTED"


def test_tapservice_job_list_filters(base_url, http, image_id):
    since = datetime.now(UTC) - timedelta(seconds=1)
    url = create_job(http, base_url, {"ID": image_id, "CIRCLE": "150.1 2.15 0.001"})
    service = TAPService(base_url)
    newest = service.get_job_list(last=1)
    assert [j.jobid for j in newest] == [url.rsplit("/", 1)[1]]
    pending = service.get_job_list(phases=["PENDING"], after=since)
    assert url.rsplit("/", 1)[1] in {j.jobid for j in pending}
    assert all(j.phase == "PENDING" for j in pending)


def test_datalink_descriptor_drives_a_soda_cutout(base_url, image_id, sample_dir):
    links = DatalinkResults.from_result_url(f"{base_url}/links?ID={image_id}")
    this = next(links.bysemantics("#this", include_narrower=False))
    assert this.content_type == "application/fits"
    cutout_row = next(links.bysemantics("#cutout", include_narrower=False))
    service = links.get_adhocservice_by_id(cutout_row.service_def)
    query = SodaQuery.from_resource(cutout_row, service)
    query.circle = (150.1, 2.15, 0.001)
    data = query.execute_stream().read()
    check_cutout_against_source(data, sample_dir / IMAGE)
    with fits.open(io.BytesIO(data)) as cut:
        assert cut[0].header["SC_ID"] == image_id


def test_datalink_reports_bad_ids_in_the_table(base_url, stack):
    missing = f"gs://{stack.config.sources_bucket}/sample/none.fits"
    links = DatalinkResults.from_result_url(
        f"{base_url}/links?ID={missing}&ID=gs://elsewhere/x.fits"
    )
    messages = [row.error_message for row in links]
    assert messages[0].startswith("NotFoundFault: ")
    assert messages[1].startswith("UsageFault: ")
