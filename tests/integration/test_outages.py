"""Back ends unavailable for a while: jobs wait them out and finish, nothing lost or doubled.

Storage and Pub/Sub emulators are really stopped and started again (the
storage emulator keeps its files; the Pub/Sub emulator loses its topics and
every message it held, worse than any real outage). The Firestore emulator
keeps jobs only in memory, so it is paused (SIGSTOP) instead of restarted:
calls to it hang, as they do when the database is unreachable.
"""

from __future__ import annotations

import csv
import io
import time

import pytest

from skycut.clients import Clients
from skycut.config import get_settings
from tests.integration.helpers import check_cutout_against_source
from tests.integration.test_bulk import drop, progress_of, results_of, wait_for_job
from tests.integration.uws_client import create_job, phase_of, valid_xml, wait_until

pytestmark = pytest.mark.integration

IMAGE = "deepcoadd-i-0001.fits"


FINAL = {"COMPLETED", "ERROR", "ABORTED"}


def final_phases(http, job_urls, *, seconds):
    """Each job's phase once it has ended (or when ``seconds`` run out)."""
    return {url: phase_of(wait_until(http, url, FINAL, seconds=seconds)) for url in job_urls}


def stamp_rows(stack, count):
    source = f"gs://{stack.config.sources_bucket}/sample/{IMAGE}"
    return "id,ra,dec,radius,label\n" + "".join(
        f"{source},{150.1 + (i % 20) / 2e3},{2.2 + (i // 20) / 2e3},0.0008,row{i}\n"
        for i in range(count)
    )


def wait_until_running(http, job_url, *, done_at_least=1, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = http.get(job_url, timeout=30)
        if response.status_code == 200:
            doc = valid_xml(response)
            if phase_of(doc) == "EXECUTING" and progress_of(doc)[1] >= done_at_least:
                return doc
        time.sleep(0.1)
    pytest.fail(f"{job_url} did not start within {seconds} s")


def check_bulk_outcome(http, doc, rows, sample_dir):
    """Every row ran once: counted once, and listed in the manifest as ok or with its error."""
    assert phase_of(doc) == "COMPLETED"
    total, done, failed = progress_of(doc)
    assert total == rows
    assert done + failed == rows
    manifest = list(
        csv.DictReader(io.StringIO(http.get(results_of(doc)["manifest-csv"], timeout=30).text))
    )
    assert sorted(m["label"] for m in manifest) == sorted(f"row{i}" for i in range(rows))
    failures = [m for m in manifest if m["status"] != "ok"]
    assert len(failures) == failed
    assert all(m["error"] for m in failures), "a failed row says why"
    check_cutout_against_source(
        http.get(next(m["url"] for m in manifest if m["status"] == "ok"), timeout=30).content,
        sample_dir / IMAGE,
    )
    return failures


def test_jobs_wait_out_a_storage_outage(base_url, http, stack, sample_dir):
    source = f"gs://{stack.config.sources_bucket}/sample/{IMAGE}"
    storage = stack.process("storage")
    storage.stop()
    try:
        jobs = [
            create_job(
                http,
                base_url,
                {"ID": source, "CIRCLE": f"150.1 {2.2 + i / 1e3} 0.003", "PHASE": "RUN"},
            )
            for i in range(5)
        ]
        time.sleep(8)
        # each job's phase now, not a WAIT for it to change (which blocks while the jobs wait)
        stuck = {phase_of(valid_xml(http.get(url, timeout=30))) for url in jobs}
        assert stuck <= {"QUEUED", "EXECUTING"}, "no job gives up during the outage"
    finally:
        stack.restart_emulator("storage")
    assert set(final_phases(http, jobs, seconds=180).values()) == {"COMPLETED"}
    for job_url in jobs:
        results = results_of(valid_xml(http.get(job_url, timeout=30)))
        assert len(results) == 1
        check_cutout_against_source(
            http.get(next(iter(results.values())), timeout=30).content, sample_dir / IMAGE
        )


def test_jobs_wait_out_an_unresponsive_firestore(base_url, http, stack):
    source = f"gs://{stack.config.sources_bucket}/sample/{IMAGE}"
    jobs = [
        create_job(
            http, base_url, {"ID": source, "CIRCLE": f"150.11 {2.2 + i / 1e3} 0.01", "PHASE": "RUN"}
        )
        for i in range(8)
    ]
    firestore = stack.process("firestore")
    firestore.pause()
    try:
        time.sleep(10)
    finally:
        firestore.resume()
    assert set(final_phases(http, jobs, seconds=180).values()) == {"COMPLETED"}
    for job_url in jobs:
        assert len(results_of(valid_xml(http.get(job_url, timeout=30)))) == 1


def test_a_bulk_job_survives_a_pubsub_restart_that_loses_its_messages(
    base_url, http, stack, sample_dir
):
    rows = 300
    job_id = drop(stack, "outage-pubsub.csv", stamp_rows(stack, rows))
    job_url = f"{base_url}/async/{job_id}"
    wait_until_running(http, job_url)
    stack.restart_emulator("pubsub", down_for=2)
    done_at_restart = progress_of(valid_xml(http.get(job_url, timeout=30)))[1]
    assert done_at_restart < rows, "the restart came too late to lose anything"
    doc = wait_for_job(http, job_url, seconds=240)
    failures = check_bulk_outcome(http, doc, rows, sample_dir)
    assert failures == [], "lost messages are published again, not failed"
    record = Clients(get_settings()).jobs.load(job_id)
    assert record is not None
    assert record.recovery.recoveries >= 1, "the sweep took over"


def test_a_bulk_job_survives_a_storage_restart(base_url, http, stack, sample_dir):
    rows = 300
    job_url = f"{base_url}/async/{drop(stack, 'outage-storage.csv', stamp_rows(stack, rows))}"
    wait_until_running(http, job_url)
    stack.restart_emulator("storage", down_for=5)
    doc = wait_for_job(http, job_url, seconds=240)
    check_bulk_outcome(http, doc, rows, sample_dir)
