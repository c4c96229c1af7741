"""Bulk jobs through the UWS API: a BULK upload's redirect, PHASE=RUN in every phase."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from skycut.clients import Clients
from skycut.config import get_settings
from skycut.jobs.records import Announcement, BulkState, JobRecord
from skycut.uws.model import ExecutionPhase, Job, JobParameter, Progress
from tests.integration.test_bulk import progress_of, wait_for_job
from tests.integration.uws_client import phase_of, valid_xml

pytestmark = pytest.mark.integration


def test_bulk_upload_redirects_to_a_job_that_is_there(base_url, http, stack):
    image = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    rows = "id,circle,label\n" + "".join(
        f"{image},150.05 {2.24 + i / 1e4} 0.0008,s{i}\n" for i in range(19)
    )
    rows += "gs://not-allowed/x.fits,150.05 2.24 0.0008,refused\n"
    posted = http.post(
        f"{base_url}/async",
        files={"BULK": ("stamps.csv", rows.encode(), "text/csv")},
        allow_redirects=False,
        timeout=60,
    )
    assert posted.status_code == 303
    job_url = posted.headers["Location"]
    first = http.get(job_url, timeout=30)
    assert first.status_code == 200, first.text  # at once, not after the drop event
    assert progress_of(valid_xml(first))[0] == 20, "every row of the file"
    done = wait_for_job(http, job_url)
    assert phase_of(done) == "COMPLETED"
    assert progress_of(done) == (20, 19, 1)


def _bulk_job(phase: ExecutionPhase) -> str:
    """Store a bulk job of the development user in ``phase`` (its file never published)."""
    settings = get_settings()
    now = datetime.now(UTC)
    job_id = f"bulk-phase-{uuid.uuid4().hex[:12]}"
    final = phase in (ExecutionPhase.COMPLETED, ExecutionPhase.ERROR, ExecutionPhase.ABORTED)
    Clients(settings).jobs.create(
        JobRecord(
            job=Job(
                job_id=job_id,
                owner=settings.dev_identity,
                phase=phase,
                creation_time=now,
                end_time=now if final else None,
                destruction=now + timedelta(days=1),
                parameters=[
                    JobParameter("SOURCE", f"gs://{settings.drop_bucket}/incoming/dev/x.csv")
                ],
                progress=Progress(total=3, done=3 if final else 0),
            ),
            kind="bulk",
            bulk=BulkState(published=True),
            announcement=Announcement(finalized=True),
        )
    )
    return job_id


@pytest.mark.parametrize("phase", [ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING])
def test_phase_run_on_a_running_bulk_job_changes_nothing(base_url, http, stack, phase):
    job_url = f"{base_url}/async/{_bulk_job(phase)}"
    run = http.post(f"{job_url}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=30)
    assert run.status_code == 303, run.text
    assert run.headers["Location"] == job_url
    assert http.get(f"{job_url}/phase", timeout=30).text == phase.value


@pytest.mark.parametrize(
    "phase", [ExecutionPhase.COMPLETED, ExecutionPhase.ERROR, ExecutionPhase.ABORTED]
)
def test_phase_run_on_an_ended_bulk_job_is_the_phase_error(base_url, http, stack, phase):
    job_url = f"{base_url}/async/{_bulk_job(phase)}"
    run = http.post(f"{job_url}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=30)
    assert run.status_code == 403
    assert run.text.startswith(f"UsageError: job {job_url.rsplit('/', 1)[1]} is {phase.value}")
    assert "only PENDING jobs can run" in run.text
    assert http.get(f"{job_url}/phase", timeout=30).text == phase.value
