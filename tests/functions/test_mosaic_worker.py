"""The mosaic_worker function receiving Pub/Sub pushes as functions-framework delivers them."""

from __future__ import annotations

from typing import Any

import pytest

from skycut.clients import Clients
from skycut.config import get_settings
from skycut.mosaic.job.messages import MosaicMessage
from skycut.uws.model import ExecutionPhase
from tests.functions.conftest import push_envelope, store_job

TOPIC_PATH = "/projects/skycut-local/topics/skycut-mosaic-jobs"


@pytest.fixture
def worker(make_client: Any) -> Any:
    return make_client("mosaic_worker", "cloudevent")


@pytest.mark.parametrize("data", [b"not json", b'{"job_id": "x", "stage": "later", "units": [0]}'])
def test_an_unreadable_message_is_acknowledged_not_retried(worker: Any, data: bytes) -> None:
    response = worker.post(TOPIC_PATH, json=push_envelope("pubsub_push_envelope", data=data))
    assert response.status_code == 200


@pytest.mark.integration
def test_a_message_of_a_job_that_is_gone_is_acknowledged(worker: Any, stack: Any) -> None:
    body = MosaicMessage(job_id="no-such-job", stage="reproject", units=[0]).model_dump_json()
    envelope = push_envelope("pubsub_push_envelope", data=body.encode(), job_id="no-such-job")
    assert worker.post(TOPIC_PATH, json=envelope).status_code == 200


@pytest.mark.integration
def test_a_dead_lettered_mosaic_message_puts_its_job_in_error(make_client: Any, stack: Any) -> None:
    clients = Clients(get_settings())
    job_id = store_job(clients, [], prefix="fn-mosaic-dead", phase=ExecutionPhase.EXECUTING)
    body = MosaicMessage(job_id=job_id, stage="assemble", units=[0, 1]).model_dump_json().encode()
    envelope = push_envelope(
        "pubsub_push_envelope",
        data=body,
        job_id=job_id,
        CloudPubSubDeadLetterSourceSubscription="skycut-mosaic-jobs-push",
        CloudPubSubDeadLetterSourceDeliveryCount="10",
    )
    cutout_worker = make_client("cutout_worker", "cloudevent")  # the dead letters' reader
    response = cutout_worker.post(
        "/projects/skycut-local/topics/skycut-dead-letters", json=envelope
    )
    assert response.status_code == 200
    record = clients.jobs.load(job_id)
    assert record is not None
    assert record.job.phase == ExecutionPhase.ERROR
    assert record.job.error is not None
    assert "10 delivery attempts" in record.job.error.message
