"""SODA {async}: UWS 1.1 jobs through the real pipeline, documents valid against the XSDs."""

from __future__ import annotations

import io

import pytest
from astropy.io import fits
from lxml import etree

from skycut.clients import Clients
from skycut.config import get_settings
from skycut.xsd import load_schema
from tests.integration.helpers import check_cutout_against_source

pytestmark = pytest.mark.integration

NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0", "xlink": "http://www.w3.org/1999/xlink"}
DEEP = "deepcoadd-i-0001.fits"


def valid_uws(response):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/xml")
    doc = etree.fromstring(response.content)
    schema = load_schema("uws")
    assert schema.validate(doc), schema.error_log
    return doc


def test_async_job_runs_to_completion_with_one_result_per_combination(
    base_url, http, stack, sample_dir
):
    deep_id = f"gs://{stack.config.sources_bucket}/sample/{DEEP}"
    created = http.post(
        f"{base_url}/async",
        allow_redirects=False,
        timeout=30,
        data=[
            ("ID", deep_id),
            ("POS", "CIRCLE 150.1 2.2 0.001"),
            ("CIRCLE", "150.11 2.21 0.001"),
            ("CIRCLE", "10 10 0.001"),
            ("RUNID", "integration-1"),
        ],
    )
    assert created.status_code == 303
    job_url = created.headers["Location"]
    assert job_url.startswith(f"{base_url}/async/")

    pending = valid_uws(http.get(job_url, timeout=30))
    assert pending.findtext("uws:phase", namespaces=NS) == "PENDING"
    assert pending.findtext("uws:runId", namespaces=NS) == "integration-1"
    assert http.get(f"{job_url}/phase", timeout=30).text == "PENDING"

    run = http.post(f"{job_url}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=30)
    assert run.status_code == 303
    assert run.headers["Location"] == job_url

    job = valid_uws(http.get(job_url, params={"WAIT": 30}, timeout=60))
    for _ in range(3):
        if job.findtext("uws:phase", namespaces=NS) == "COMPLETED":
            break
        job = valid_uws(http.get(job_url, params={"WAIT": 30}, timeout=60))
    assert job.findtext("uws:phase", namespaces=NS) == "COMPLETED"
    results = job.findall("uws:results/uws:result", namespaces=NS)
    assert len(results) == 3
    hrefs = [r.get(f"{{{NS['xlink']}}}href") for r in results]
    bodies = [http.get(h, timeout=30) for h in hrefs]
    assert all(b.status_code == 200 for b in bodies)
    fits_bodies = [b for b in bodies if b.content[:9] == b"SIMPLE  ="]
    text_bodies = [b for b in bodies if b.content[:9] != b"SIMPLE  ="]
    assert len(fits_bodies) == 2
    for body in fits_bodies:
        check_cutout_against_source(body.content, sample_dir / DEEP)
    assert len(text_bodies) == 1
    assert text_bodies[0].text.startswith("UsageError: no overlap")

    valid_uws(http.get(f"{job_url}/results", timeout=30))
    unknown = http.get(f"{job_url}/results/cutout-999999", allow_redirects=False, timeout=30)
    assert unknown.status_code == 404
    assert unknown.text.startswith("NotFound: ")
    valid_uws(http.get(f"{job_url}/parameters", timeout=30))
    listing = valid_uws(http.get(f"{base_url}/async", timeout=30))
    ids = [ref.get("id") for ref in listing.findall("uws:jobref", namespaces=NS)]
    assert job_url.rsplit("/", 1)[1] in ids


def test_each_result_names_its_own_circle_from_request_to_fits(base_url, http, stack):
    """Each CIRCLE of a job is followed, unparsed, to its result's query and SC_STENC card."""
    deep_id = f"gs://{stack.config.sources_bucket}/sample/{DEEP}"
    circles = ["150.1 2.2 0.001", "150.11 2.21 0.0015"]
    created = http.post(
        f"{base_url}/async",
        allow_redirects=False,
        timeout=30,
        data=[("ID", deep_id), *(("CIRCLE", c) for c in circles), ("PHASE", "RUN")],
    )
    assert created.status_code == 303
    job_url = created.headers["Location"]
    for _ in range(4):
        job = valid_uws(http.get(job_url, params={"WAIT": 30}, timeout=60))
        if job.findtext("uws:phase", namespaces=NS) in ("COMPLETED", "ERROR"):
            break
    assert job.findtext("uws:phase", namespaces=NS) == "COMPLETED"
    hrefs = {
        r.get("id"): r.get(f"{{{NS['xlink']}}}href")
        for r in job.findall("uws:results/uws:result", namespaces=NS)
    }
    stored = Clients(get_settings()).jobs.results(job_url.rsplit("/", 1)[1])
    assert [r.query for r in stored] == [f"CIRCLE={c}" for c in circles]
    for result, circle in zip(stored, circles, strict=True):
        body = http.get(hrefs[result.result_id], timeout=30).content
        with fits.open(io.BytesIO(body)) as cutout:
            assert cutout[0].header["SC_STENC"] == f"CIRCLE {circle}"


def test_run_at_creation_and_failed_job_reports_error(base_url, http, stack):
    missing = f"gs://{stack.config.sources_bucket}/sample/missing.fits"
    created = http.post(
        f"{base_url}/async",
        allow_redirects=False,
        timeout=30,
        data={"ID": missing, "CIRCLE": "1 1 0.1", "PHASE": "RUN"},
    )
    assert created.status_code == 303
    job_url = created.headers["Location"]
    job = valid_uws(http.get(job_url, params={"WAIT": 30, "PHASE": "QUEUED"}, timeout=60))
    if job.findtext("uws:phase", namespaces=NS) != "ERROR":
        job = valid_uws(http.get(job_url, params={"WAIT": 30}, timeout=60))
    assert job.findtext("uws:phase", namespaces=NS) == "ERROR"
    summary = job.find("uws:errorSummary", namespaces=NS)
    assert summary.get("type") == "fatal"
    assert summary.findtext("uws:message", namespaces=NS).startswith("UsageError: ")
    error = http.get(f"{job_url}/error", timeout=30)
    assert error.status_code == 200
    votable = etree.fromstring(error.content)
    assert load_schema("votable").validate(votable)


def test_bad_parameters_are_refused_before_a_job_exists(base_url, http):
    response = http.post(
        f"{base_url}/async", data={"ID": "gs://elsewhere/a.fits"}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 400
    assert response.text.startswith("UsageError: ")


def test_unknown_job_is_404(base_url, http):
    response = http.get(f"{base_url}/async/no-such-job", timeout=30)
    assert response.status_code == 404
    assert response.text.startswith("NotFound: ")


def test_delete_forgets_the_job(base_url, http, stack):
    deep_id = f"gs://{stack.config.sources_bucket}/sample/{DEEP}"
    job_url = http.post(
        f"{base_url}/async", data={"ID": deep_id}, allow_redirects=False, timeout=30
    ).headers["Location"]
    deleted = http.delete(job_url, allow_redirects=False, timeout=30)
    assert deleted.status_code == 303
    assert deleted.headers["Location"] == f"{base_url}/async"
    assert http.get(job_url, timeout=30).status_code == 404
