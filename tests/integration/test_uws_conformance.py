"""UWS 1.1 behaviour of {async} beyond the happy path (UWS §2.1-2.2, checklist §E)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import storage

from skycut.uws.xml import format_time, parse_time
from tests.integration.uws_client import NS, create_job, phase_of, valid_xml, wait_until

pytestmark = pytest.mark.integration

DEEP = "deepcoadd-i-0001.fits"


@pytest.fixture(scope="module")
def deep_id(stack):
    return f"gs://{stack.config.sources_bucket}/sample/{DEEP}"


def big_job(deep_id, count):
    """Parameters of a job of ``count`` large cutouts (each reads tens of MB)."""
    circles = [("CIRCLE", f"150.1 {2.2 + 0.001 * i:.3f} 0.06") for i in range(count)]
    return [("ID", deep_id), *circles]


def test_job_list_filters_last_phase_after(base_url, http, deep_id):
    before = datetime.now(UTC)
    time.sleep(0.01)
    urls = [
        create_job(http, base_url, {"ID": deep_id, "CIRCLE": "150.1 2.2 0.001"}) for _ in range(3)
    ]
    ids = [u.rsplit("/", 1)[1] for u in urls]

    def listed(**params):
        doc = valid_xml(http.get(f"{base_url}/async", params=params, timeout=30))
        return [ref.get("id") for ref in doc.findall("uws:jobref", namespaces=NS)]

    assert listed(LAST=1) == [ids[-1]], "LAST gives the newest first"
    assert listed(LAST=2) == [ids[2], ids[1]]
    after = listed(AFTER=format_time(before))
    assert after == list(reversed(ids))
    assert set(ids) <= set(listed(PHASE="PENDING"))
    assert not set(ids) & set(listed(PHASE="COMPLETED"))
    assert set(ids) <= set(listed(PHASE=["COMPLETED", "PENDING"]))
    for bad in ({"LAST": "0"}, {"LAST": "x"}, {"AFTER": "yesterday"}, {"PHASE": "DONE"}):
        response = http.get(f"{base_url}/async", params=bad, timeout=30)
        assert response.status_code == 400
        assert response.text.startswith("UsageError: ")


def test_execution_duration_and_destruction_are_settable_within_limits(
    base_url, http, deep_id, stack
):
    job_url = create_job(http, base_url, {"ID": deep_id, "CIRCLE": "150.1 2.2 0.001"})
    assert http.get(f"{job_url}/executionduration", timeout=30).text == "3600"
    response = http.post(
        f"{job_url}/executionduration",
        data={"EXECUTIONDURATION": "120"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303
    assert response.headers["Location"] == job_url
    assert http.get(f"{job_url}/executionduration", timeout=30).text == "120"
    http.post(f"{job_url}/executionduration", data={"EXECUTIONDURATION": "999999"}, timeout=30)
    assert http.get(f"{job_url}/executionduration", timeout=30).text == "3600", "capped"
    bad = http.post(
        f"{job_url}/executionduration",
        data={"EXECUTIONDURATION": "-5"},
        allow_redirects=False,
        timeout=30,
    )
    assert bad.status_code == 400

    created = parse_time(
        valid_xml(http.get(job_url, timeout=30)).findtext("uws:creationTime", namespaces=NS)
    )
    sooner = datetime.now(UTC) + timedelta(hours=1)
    response = http.post(
        f"{job_url}/destruction",
        data={"DESTRUCTION": format_time(sooner)},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303
    assert parse_time(http.get(f"{job_url}/destruction", timeout=30).text) == pytest.approx(
        sooner, abs=timedelta(milliseconds=1)
    )
    later = datetime.now(UTC) + timedelta(days=365)
    http.post(f"{job_url}/destruction", data={"DESTRUCTION": format_time(later)}, timeout=30)
    kept = parse_time(http.get(f"{job_url}/destruction", timeout=30).text)
    assert kept == pytest.approx(created + timedelta(days=7), abs=timedelta(milliseconds=1))

    past = datetime.now(UTC) - timedelta(seconds=1)
    refused = http.post(
        f"{job_url}/destruction", data={"DESTRUCTION": format_time(past)}, timeout=30
    )
    assert refused.status_code == 400, "a time in the past is refused, not obeyed"
    assert http.get(job_url, timeout=30).status_code == 200


def test_illegal_phase_changes_are_refused(base_url, http, deep_id):
    job_url = create_job(
        http, base_url, {"ID": deep_id, "CIRCLE": "150.1 2.2 0.001", "PHASE": "RUN"}
    )
    wait_until(http, job_url, {"COMPLETED"})
    for data in ({"PHASE": "RUN"}, {"PHASE": "ABORT"}):
        response = http.post(f"{job_url}/phase", data=data, allow_redirects=False, timeout=30)
        assert response.status_code == 403, data
        assert response.text.startswith("UsageError: ")
    response = http.post(
        f"{job_url}/phase", data={"PHASE": "SUSPEND"}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 400
    for path, data in (
        ("parameters", {"CIRCLE": "1 1 1"}),
        ("executionduration", {"EXECUTIONDURATION": "10"}),
    ):
        response = http.post(f"{job_url}/{path}", data=data, allow_redirects=False, timeout=30)
        assert response.status_code == 403, path
    response = http.post(job_url, data={"CIRCLE": "1 1 1"}, allow_redirects=False, timeout=30)
    assert response.status_code == 400, "DALI: no parameters POSTed to the job itself"


def test_wait_blocks_until_the_phase_changes_or_the_time_is_up(base_url, http, deep_id):
    pending = create_job(http, base_url, {"ID": deep_id, "CIRCLE": "150.1 2.2 0.001"})
    t0 = time.monotonic()
    doc = valid_xml(http.get(pending, params={"WAIT": 2}, timeout=30))
    waited = time.monotonic() - t0
    assert phase_of(doc) == "PENDING"
    assert 1.8 <= waited < 5, waited
    t0 = time.monotonic()
    valid_xml(http.get(pending, params={"WAIT": 10, "PHASE": "QUEUED"}, timeout=30))
    assert time.monotonic() - t0 < 1.5, "a PHASE other than the current one returns at once"

    http.post(f"{pending}/phase", data={"PHASE": "RUN"}, timeout=30)
    done = wait_until(http, pending, {"COMPLETED"})
    assert phase_of(done) == "COMPLETED"
    t0 = time.monotonic()
    valid_xml(http.get(pending, params={"WAIT": 10}, timeout=30))
    assert time.monotonic() - t0 < 1.5, "a finished job never blocks"


def test_abort_stops_a_running_job_and_keeps_no_results(base_url, http, deep_id, stack):
    job_url = create_job(http, base_url, [*big_job(deep_id, 60), ("PHASE", "RUN")])
    running = wait_until(http, job_url, {"EXECUTING", "COMPLETED"})
    assert phase_of(running) == "EXECUTING", "the job must still be running to be aborted"
    response = http.post(
        f"{job_url}/phase", data={"PHASE": "ABORT"}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 303
    aborted = valid_xml(http.get(job_url, timeout=30))
    assert phase_of(aborted) == "ABORTED"
    time.sleep(3)  # let the worker notice (it checks at least once a second) and clean up
    job = valid_xml(http.get(job_url, timeout=30))
    assert phase_of(job) == "ABORTED"
    assert job.findall("uws:results/uws:result", namespaces=NS) == []
    job_id = job_url.rsplit("/", 1)[1]
    # a cut in flight when the abort lands is written, then undone by its worker: wait for that
    deadline = time.monotonic() + 15
    while True:
        objects = list(
            storage.Client().list_blobs(stack.config.results_bucket, prefix=f"jobs/{job_id}/")
        )
        if not objects or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert objects == [], "aborted jobs keep no partial results"


def test_execution_duration_is_enforced(base_url, http, deep_id):
    job_url = create_job(http, base_url, big_job(deep_id, 60))
    http.post(f"{job_url}/executionduration", data={"EXECUTIONDURATION": "1"}, timeout=30)
    http.post(f"{job_url}/phase", data={"PHASE": "RUN"}, timeout=30)
    job = wait_until(http, job_url, {"ABORTED", "COMPLETED", "ERROR"})
    assert phase_of(job) == "ABORTED"
    message = job.findtext("uws:errorSummary/uws:message", namespaces=NS)
    assert "execution duration" in message


def test_quote_comes_from_measured_throughput(base_url, http, deep_id):
    # earlier jobs in this session have measured the cutout rate
    done = create_job(http, base_url, {"ID": deep_id, "CIRCLE": "150.1 2.2 0.001", "PHASE": "RUN"})
    wait_until(http, done, {"COMPLETED"})
    job_url = create_job(http, base_url, {"ID": deep_id, "CIRCLE": "150.1 2.2 0.001"})
    quote = http.get(f"{job_url}/quote", timeout=30).text
    assert quote, "a rate has been measured, so there is a quote"
    assert parse_time(quote) > datetime.now(UTC) - timedelta(seconds=5)
    doc = valid_xml(http.get(job_url, timeout=30))
    assert doc.findtext("uws:quote", namespaces=NS) == quote


def test_drained_service_reports_unavailable_and_refuses_new_jobs(base_url, http, deep_id, stack):
    from skycut.clients import Clients
    from skycut.config import get_settings
    from skycut.jobs.service_state import ServiceStatus

    state = Clients(get_settings()).service_state
    back = datetime.now(UTC) + timedelta(minutes=30)
    state.set_status(ServiceStatus(available=False, note="upgrading", back_at=back))
    try:
        doc = valid_xml(http.get(f"{base_url}/availability", timeout=30), "availability")
        ns = {"v": "http://www.ivoa.net/xml/VOSIAvailability/v1.0"}
        assert doc.findtext("v:available", namespaces=ns) == "false"
        assert doc.findtext("v:note", namespaces=ns) == "upgrading"
        assert parse_time(doc.findtext("v:backAt", namespaces=ns)) == pytest.approx(
            back, abs=timedelta(milliseconds=1)
        )
        # the API re-reads the switch for new jobs every few seconds
        response = sync_until(http, base_url, deep_id, lambda r: r.status_code == 503)
        assert response.status_code == 503
        assert response.text.startswith("ServiceUnavailable: ")
    finally:
        state.set_status(ServiceStatus())
    doc = valid_xml(http.get(f"{base_url}/availability", timeout=30), "availability")
    assert doc.findtext("{http://www.ivoa.net/xml/VOSIAvailability/v1.0}available") == "true"
    back_up = sync_until(http, base_url, deep_id, lambda r: r.status_code != 503)
    assert back_up.status_code == 204, "new jobs are taken again"


def sync_until(http, base_url, deep_id, done, *, seconds=15):
    deadline = time.monotonic() + seconds
    while True:
        response = http.get(
            f"{base_url}/sync", params={"ID": deep_id, "CIRCLE": "1 1 1"}, timeout=30
        )
        if done(response) or time.monotonic() > deadline:
            return response
        time.sleep(1)
