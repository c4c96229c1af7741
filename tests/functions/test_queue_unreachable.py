"""A job whose messages cannot be published ends like any other job: in ERROR, announced."""

from __future__ import annotations

import uuid

import pytest

from skycut.api.service import SodaService, parse_job_parameters
from skycut.clients import Clients
from skycut.config import get_settings
from skycut.errors import ServiceUnavailableError
from skycut.sia.factory import covering_for
from skycut.uws.model import ExecutionPhase

pytestmark = pytest.mark.integration


def test_an_unreachable_queue_ends_the_job_with_its_end_time_and_announces_it(stack):
    settings = get_settings().model_copy(
        update={"job_topic": f"skycut-no-such-topic-{uuid.uuid4().hex[:8]}"}
    )
    clients = Clients(settings)
    service = SodaService(
        settings=settings,
        store=clients.jobs,
        queue=clients.queue,
        events=clients.events,
        service_state=clients.service_state,
        covering=covering_for(clients),
    )
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    owner = f"queue-{uuid.uuid4().hex[:8]}"
    pairs = [("ID", source), ("CIRCLE", "150.05 2.2 0.001")]
    request = parse_job_parameters(pairs, settings=settings, complete=True)
    with pytest.raises(ServiceUnavailableError, match="queue could not be reached"):
        service.create_job(request, pairs, owner=owner, run=True)
    (record,) = clients.jobs.list_for(owner=owner)
    assert record.job.phase == ExecutionPhase.ERROR
    assert record.job.end_time is not None
    assert record.job.error is not None
    assert record.job.error.status == 503
    assert record.announcement.finalized is True, "its end went out on the job-events topic"
