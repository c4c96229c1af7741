"""Compare-and-set phase changes that skip the read when the caller's copy is current."""

from __future__ import annotations

import pytest

from skycut.clients import Clients
from skycut.config import get_settings
from skycut.uws.model import ExecutionPhase
from tests.functions.conftest import store_job

pytestmark = pytest.mark.integration


@pytest.fixture
def clients(stack) -> Clients:
    return Clients(get_settings())


def test_a_current_copy_changes_the_job_in_one_write(clients: Clients) -> None:
    job_id = store_job(clients, [], prefix="cas")
    seen = clients.jobs.load(job_id, counts=False)
    assert seen is not None
    assert seen.revision is not None
    started = clients.jobs.transition(
        job_id, allowed_from={ExecutionPhase.QUEUED}, to=ExecutionPhase.EXECUTING, seen=seen
    )
    assert started is not None
    assert started.revision is not None
    # the written copy is current too: the next change needs no read either
    ended = clients.jobs.transition(
        job_id, allowed_from={ExecutionPhase.EXECUTING}, to=ExecutionPhase.COMPLETED, seen=started
    )
    assert ended is not None
    stored = clients.jobs.load(job_id, counts=False)
    assert stored is not None
    assert stored.job.phase == ExecutionPhase.COMPLETED


def test_an_out_of_date_copy_never_overrides_a_change_made_since(clients: Clients) -> None:
    job_id = store_job(clients, [], prefix="cas")
    seen = clients.jobs.load(job_id, counts=False)
    assert seen is not None
    # the owner aborts the job after the worker read it
    clients.jobs.transition(job_id, allowed_from={ExecutionPhase.QUEUED}, to=ExecutionPhase.ABORTED)
    started = clients.jobs.transition(
        job_id, allowed_from={ExecutionPhase.QUEUED}, to=ExecutionPhase.EXECUTING, seen=seen
    )
    assert started is None
    stored = clients.jobs.load(job_id, counts=False)
    assert stored is not None
    assert stored.job.phase == ExecutionPhase.ABORTED


def test_a_copy_that_says_no_is_checked_against_the_stored_job(clients: Clients) -> None:
    job_id = store_job(clients, [], prefix="cas")
    stale = clients.jobs.load(job_id, counts=False)
    assert stale is not None
    stale.job.phase = ExecutionPhase.PENDING  # what the caller believes is out of date
    started = clients.jobs.transition(
        job_id, allowed_from={ExecutionPhase.QUEUED}, to=ExecutionPhase.EXECUTING, seen=stale
    )
    assert started is not None
    assert started.job.phase == ExecutionPhase.EXECUTING
