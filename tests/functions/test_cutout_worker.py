"""The cutout_worker function receiving Pub/Sub pushes as functions-framework delivers them."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from skycut.clients import Clients
from skycut.config import get_settings
from skycut.jobs.messages import CutoutTask, JobMessage
from skycut.uws.model import ExecutionPhase, Progress
from skycut.worker.factory import worker_for
from tests.functions.conftest import push_envelope, store_job, work_of
from tests.integration.helpers import check_cutout_against_source

TOPIC_PATH = "/projects/skycut-local/topics/skycut-cutout-jobs"


@pytest.fixture
def worker(make_client):
    return make_client("cutout_worker", "cloudevent")


def test_unreadable_message_is_acknowledged_not_retried(worker):
    response = worker.post(TOPIC_PATH, json=push_envelope("pubsub_push_envelope", data=b"not json"))
    assert response.status_code == 200


@pytest.fixture
def job_events(stack):
    """Read the job-events topic through a fresh pull subscription."""
    cfg = stack.config
    subscriber = pubsub_v1.SubscriberClient()
    name = subscriber.subscription_path(cfg.project_id, f"test-events-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(
        name=name, topic=f"projects/{cfg.project_id}/topics/{cfg.job_events_topic}"
    )

    def of_job(job_id: str, *, settle: float = 3.0) -> list[dict]:
        found: list[dict] = []
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            response = subscriber.pull(subscription=name, max_messages=100, timeout=2)
            if response.received_messages:
                subscriber.acknowledge(
                    subscription=name, ack_ids=[m.ack_id for m in response.received_messages]
                )
            found += [json.loads(m.message.data) for m in response.received_messages]
        return [e for e in found if e["job_id"] == job_id]

    yield of_job
    subscriber.delete_subscription(subscription=name)
    subscriber.close()


@pytest.mark.integration
def test_job_message_delivered_three_times_gives_one_result_set_and_one_event(
    worker, stack, job_events
):
    clients = Clients(get_settings())
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    tasks = [
        CutoutTask(index=0, work=work_of([("ID", source_id), ("CIRCLE", "150.05 2.24 0.001")])),
        CutoutTask(index=1, work=work_of([("ID", source_id), ("CIRCLE", "10 10 0.001")])),
    ]
    job_id = store_job(clients, tasks, prefix="fn-worker")
    body = JobMessage(job_id=job_id, tasks=tasks).model_dump_json().encode()
    for _ in range(3):
        response = worker.post(
            TOPIC_PATH, json=push_envelope("pubsub_push_envelope", data=body, job_id=job_id)
        )
        assert response.status_code == 200
    record = clients.jobs.load(job_id)
    assert record.job.phase == ExecutionPhase.COMPLETED
    assert record.job.progress == Progress(total=2, done=2, failed=0)
    statuses = [r.status for r in clients.jobs.results(job_id)]
    assert statuses == ["ok", "no_overlap"]
    events = job_events(job_id)
    assert len(events) == 1
    assert events[0]["phase"] == "COMPLETED"


@pytest.mark.integration
def test_a_message_of_the_old_form_still_runs_each_cutout(worker, stack):
    """A message written before works (job_params + combination), in flight during a deploy."""
    clients = Clients(get_settings())
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    circles = ["150.05 2.24 0.001", "10 10 0.001"]
    tasks = [
        CutoutTask(index=i, work=work_of([("ID", source_id), ("CIRCLE", c)]))
        for i, c in enumerate(circles)
    ]
    job_id = store_job(clients, tasks, prefix="fn-old-form")
    old = {
        "job_id": job_id,
        "job_params": [["ID", source_id], *(["CIRCLE", c] for c in circles)],
        "tasks": [
            {"index": i, "source_id": source_id, "params": [], "combination": i, "label": None}
            for i in range(2)
        ],
    }
    body = json.dumps(old).encode()
    response = worker.post(
        TOPIC_PATH, json=push_envelope("pubsub_push_envelope", data=body, job_id=job_id)
    )
    assert response.status_code == 200
    assert clients.jobs.load(job_id).job.phase == ExecutionPhase.COMPLETED
    assert [(r.status, r.query) for r in clients.jobs.results(job_id)] == [
        ("ok", "CIRCLE=150.05 2.24 0.001"),
        ("no_overlap", "CIRCLE=10.0 10.0 0.001"),
    ]


def test_unreadable_base64_is_acknowledged(worker):
    envelope = push_envelope("pubsub_push_envelope")
    envelope["message"]["data"] = "%%% not base64 %%%"
    assert worker.post(TOPIC_PATH, json=envelope).status_code == 200


@pytest.mark.integration
def test_dead_lettered_job_message_puts_the_job_in_error(worker, stack, job_events):
    clients = Clients(get_settings())
    task = CutoutTask(
        index=0, work=work_of([("ID", "gs://skycut-sources/x.fits"), ("CIRCLE", "1 1 0.1")])
    )
    job_id = store_job(clients, [task], prefix="fn-dead", phase=ExecutionPhase.EXECUTING)
    body = JobMessage(job_id=job_id, tasks=[task]).model_dump_json().encode()
    envelope = push_envelope(
        "pubsub_push_envelope",
        data=body,
        job_id=job_id,
        CloudPubSubDeadLetterSourceSubscription="skycut-cutout-jobs-push",
        CloudPubSubDeadLetterSourceDeliveryCount="10",
    )
    assert (
        worker.post("/projects/skycut-local/topics/skycut-dead-letters", json=envelope).status_code
        == 200
    )
    record = clients.jobs.load(job_id)
    assert record.job.phase == ExecutionPhase.ERROR
    assert record.job.error.error_type == "transient"
    assert record.job.error.message.startswith("ServiceUnavailable: ")
    assert "10 delivery attempts" in record.job.error.message
    assert [e["phase"] for e in job_events(job_id)] == ["ERROR"], "its end is announced"


@pytest.mark.integration
def test_dead_lettered_drop_notification_becomes_a_failed_bulk_job(worker, stack):
    from skycut.bulk.drops import DropObject, bulk_job_id

    generation = f"{datetime.now(UTC).timestamp():.0f}"
    envelope = push_envelope(
        "storage_notification_envelope",
        bucketId="skycut-drop",
        objectId="incoming/carol/rows.csv",
        objectGeneration=generation,
        CloudPubSubDeadLetterSourceSubscription="skycut-drop-events-push",
    )
    assert (
        worker.post("/projects/skycut-local/topics/skycut-dead-letters", json=envelope).status_code
        == 200
    )
    job_id = bulk_job_id(DropObject("skycut-drop", "incoming/carol/rows.csv", generation))
    record = Clients(get_settings()).jobs.load(job_id)
    assert record.job.owner == "carol"
    assert record.job.phase == ExecutionPhase.ERROR


@pytest.mark.integration
def test_stamps_of_one_image_in_a_message_are_read_together(stack, sample_dir):
    clients = Clients(get_settings())
    image = "calexp-r-0001.fits"
    source_id = f"gs://{stack.config.sources_bucket}/sample/{image}"
    tasks = [
        CutoutTask(
            index=i,
            work=work_of(
                [("ID", source_id), ("CIRCLE", f"{150.03 + i / 500} {2.23 + i / 700} 0.0015")]
            ),
        )
        for i in range(10)
    ] + [CutoutTask(index=10, work=work_of([("ID", source_id), ("CIRCLE", "10 10 0.001")]))]
    job_id = store_job(clients, tasks, prefix="fn-group")
    worker = worker_for(clients)
    worker.handle(JobMessage(job_id=job_id, tasks=tasks))
    results = clients.jobs.results(job_id)
    assert [r.status for r in results] == ["ok"] * 10 + ["no_overlap"]
    for result in results[:10]:
        check_cutout_against_source(clients.results.read(result.object_name), sample_dir / image)
    # one header read and one plan for the ten stamps, instead of one read each
    assert sum(r.requests for r in results) < 10
    assert sum(r.bytes_read for r in results) > 0
