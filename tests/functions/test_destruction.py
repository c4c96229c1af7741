"""A job's DESTRUCTION time, set through the soda_api function (over the real emulators)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from skycut.clients import Clients
from skycut.config import get_settings
from skycut.uws.model import FINAL_PHASES, ExecutionPhase
from skycut.uws.xml import format_time
from skycut.worker.factory import sweeper_for

pytestmark = pytest.mark.integration

BASE = "/api/image/soda"


@pytest.fixture
def api(make_client, stack):
    return make_client("soda_api", "http")


def pending_job(api, stack) -> str:
    """Create a PENDING cutout job; return its path."""
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    response = api.post(f"{BASE}/async", data={"ID": source_id, "CIRCLE": "150.05 2.24 0.001"})
    assert response.status_code == 303
    return f"{BASE}/async/{response.headers['Location'].rsplit('/', 1)[1]}"


@pytest.mark.parametrize("past", ["2020-01-01T00:00:00Z", "0001-01-01T00:00:00Z"])
def test_a_destruction_in_the_past_is_refused_and_the_job_kept(api, stack, past):
    job = pending_job(api, stack)
    kept = api.get(f"{job}/destruction").get_data(as_text=True)
    response = api.post(f"{job}/destruction", data={"DESTRUCTION": past})
    assert response.status_code == 400
    message = response.get_data(as_text=True)
    assert message.startswith(f"UsageError: DESTRUCTION {past} is in the past")
    assert api.get(job).status_code == 200, "a typo does not destroy the job"
    assert api.get(f"{job}/destruction").get_data(as_text=True) == kept


def test_a_destruction_brought_forward_removes_the_results_once_it_passes(api, stack):
    clients = Clients(get_settings())
    job = pending_job(api, stack)
    job_id = job.rsplit("/", 1)[1]
    assert api.post(f"{job}/phase", data={"PHASE": "RUN"}).status_code == 303
    ended = clients.jobs.wait(job_id, until=lambda r: r.job.phase in FINAL_PHASES, timeout=60)
    assert ended is not None
    assert ended.job.phase == ExecutionPhase.COMPLETED
    (result,) = clients.jobs.results(job_id)
    cutout = clients.storage.bucket(result.bucket).get_blob(result.object_name)
    # its lifecycle rule's Custom-Time, which Cloud Storage will not move earlier
    assert cutout.custom_time == ended.job.destruction

    soon = datetime.now(UTC) + timedelta(seconds=2)
    moved = api.post(f"{job}/destruction", data={"DESTRUCTION": format_time(soon)})
    assert moved.status_code == 303
    # the next sweep after that time (every few minutes in production)
    sweeper_for(clients).sweep(now=soon + timedelta(seconds=1))
    assert not cutout.exists(), "the cutout cannot be downloaded after the job's destruction"
    assert clients.jobs.load(job_id) is None
    assert clients.jobs.results(job_id) == []
    assert api.get(job).status_code == 404
