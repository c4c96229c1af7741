"""The sweep: stalled jobs are taken over, published again, or ended (over the real emulators).

The sweep is called with a clock moved past the lease instead of waiting for
it; the end-to-end version (a message really lost, the stack's own ticker)
is in tests/integration/test_faults.py.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.api_core import exceptions as gexc

from skycut.clients import Clients
from skycut.config import Settings, get_settings
from skycut.jobs.messages import CutoutTask, batch_id
from skycut.jobs.records import JobRecord
from skycut.uws.model import ExecutionPhase, Progress
from skycut.worker.factory import sweeper_for, worker_for
from tests.functions.conftest import store_job, work_of

pytestmark = pytest.mark.integration


def queued_job(clients: Clients, source_id: str, *, count: int) -> tuple[str, list[CutoutTask]]:
    """Store a QUEUED job of ``count`` cutouts whose messages were never published."""
    tasks = [
        CutoutTask(
            index=i, work=work_of([("ID", source_id), ("CIRCLE", f"150.05 {2.2 + i / 1e3} 0.001")])
        )
        for i in range(count)
    ]
    job_id = store_job(clients, tasks, prefix="sweep")
    return job_id, tasks


def wait_for_end(clients: Clients, job_id: str, timeout: float = 60) -> JobRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = clients.jobs.load(job_id)
        assert record is not None
        if record.job.phase in (ExecutionPhase.COMPLETED, ExecutionPhase.ERROR):
            return record
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not end within {timeout} s")


@pytest.fixture
def source_id(stack) -> str:
    return f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"


@pytest.fixture
def later() -> datetime:
    """A moment past every lease of a job created now."""
    return datetime.now(UTC) + timedelta(seconds=get_settings().job_lease_seconds + 1)


def test_a_job_with_no_activity_within_its_lease_is_left_alone(stack, source_id):
    clients = Clients(get_settings())
    job_id, _ = queued_job(clients, source_id, count=1)
    assert job_id not in sweeper_for(clients).sweep()
    assert clients.jobs.load(job_id).job.phase == ExecutionPhase.QUEUED


def test_a_job_whose_messages_were_lost_is_published_again_and_completes(
    stack, source_id, later
):
    clients = Clients(get_settings())
    job_id, _ = queued_job(clients, source_id, count=3)
    sweeper = sweeper_for(clients)
    assert job_id in sweeper.sweep(now=later)
    record = wait_for_end(clients, job_id)
    assert record.job.phase == ExecutionPhase.COMPLETED
    assert record.job.progress == Progress(total=3, done=3, failed=0)
    assert len(clients.jobs.results(job_id)) == 3
    assert record.recovery.recoveries == 1
    # a second sweep at the same moment finds it ended: nothing more is published
    assert job_id not in sweeper.sweep(now=later)


def test_only_uncounted_batches_are_published_again(stack, source_id, later):
    settings = get_settings().model_copy(update={"tasks_per_message": 2})
    clients = Clients(settings)
    job_id, tasks = queued_job(clients, source_id, count=5)
    worker = worker_for(clients)
    first, *rest = clients.queue.batches(tasks)
    # the first message ran and was counted before the others were lost
    from skycut.jobs.messages import JobMessage

    worker.handle(JobMessage(job_id=job_id, tasks=first))
    counted = clients.jobs.counted_batches(job_id, [batch_id(b) for b in [first, *rest]])
    assert counted == {batch_id(first)}
    stale = later + timedelta(seconds=settings.job_lease_seconds)
    assert job_id in sweeper_for(clients).sweep(now=stale)
    record = wait_for_end(clients, job_id)
    assert record.job.progress == Progress(total=5, done=5, failed=0), "counted once each"


def test_a_job_counted_in_full_but_never_ended_is_ended(stack, source_id, later):
    clients = Clients(get_settings())
    job_id, tasks = queued_job(clients, source_id, count=1)
    # the worker counted the last message and died before the completion transaction
    clients.jobs.start(clients.jobs.load(job_id))
    clients.jobs.count_batch(job_id, batch_id(tasks), done=1, failed=0)
    stale = later + timedelta(seconds=5)
    assert job_id in sweeper_for(clients).sweep(now=stale)
    assert clients.jobs.load(job_id).job.phase == ExecutionPhase.COMPLETED


def test_a_job_that_never_progresses_ends_in_error_after_its_recoveries(stack, source_id):
    base = get_settings()
    nowhere = f"skycut-nowhere-{uuid.uuid4().hex[:8]}"
    publisher = Clients(base).publisher
    with contextlib.suppress(gexc.AlreadyExists):  # a topic without subscriptions drops messages
        publisher.create_topic(name=f"projects/{base.project_id}/topics/{nowhere}")
    settings: Settings = base.model_copy(update={"job_topic": nowhere, "max_job_recoveries": 2})
    clients = Clients(settings)
    job_id, _ = queued_job(clients, source_id, count=2)
    sweeper = sweeper_for(clients)
    lease = timedelta(seconds=settings.job_lease_seconds + 1)
    now = datetime.now(UTC)
    for round_ in range(1, 4):
        now += lease
        assert job_id in sweeper.sweep(now=now)
        record = clients.jobs.load(job_id)
        if round_ <= 2:
            assert record.job.phase == ExecutionPhase.QUEUED
            assert record.recovery.recoveries == round_
    assert record.job.phase == ExecutionPhase.ERROR
    message = record.job.error.message
    assert message.startswith("ServiceUnavailable: ")
    assert "after 2 republications" in message
    assert "0 cutouts succeeded, 0 failed and 2 never ran" in message
    assert record.announcement.finalized is True, "its end was announced on the job-events topic"


def test_an_ended_job_whose_event_was_lost_is_announced_by_the_sweep(stack, source_id):
    clients = Clients(get_settings())
    job_id, _ = queued_job(clients, source_id, count=1)
    ended_at = datetime.now(UTC) - timedelta(hours=1)
    # it ended (say ABORT) and its writer died before publishing the event
    clients.jobs.abort(job_id, now=ended_at)
    sweeper_for(clients).sweep()
    record = clients.jobs.load(job_id)
    assert record.announcement.finalized is True
    assert record.job.phase == ExecutionPhase.ABORTED
