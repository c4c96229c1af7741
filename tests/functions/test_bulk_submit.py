"""The bulk_submit function receiving Cloud Storage notifications through Pub/Sub."""

from __future__ import annotations

import pytest
from google.cloud import storage

from skycut.bulk.drops import DropObject, bulk_job_id
from skycut.clients import Clients
from skycut.config import get_settings
from skycut.uws.model import ExecutionPhase
from tests.functions.conftest import push_envelope

TOPIC_PATH = "/projects/skycut-local/topics/skycut-drop-events"


def test_objects_outside_incoming_are_ignored(make_client):
    client = make_client("bulk_submit", "cloudevent")
    envelope = push_envelope(
        "storage_notification_envelope",
        bucketId="skycut-drop",
        objectId="README.txt",
        objectGeneration="1",
    )
    assert client.post(TOPIC_PATH, json=envelope).status_code == 200


@pytest.mark.integration
def test_drop_notification_creates_one_job_however_often_delivered(make_client, stack, monkeypatch):
    # a drop bucket of its own, without fake-gcs-server events, so only this test submits
    monkeypatch.setenv("SKYCUT_DROP_BUCKET", "fn-test-drop")
    settings = get_settings()
    gcs = storage.Client()
    bucket = gcs.bucket("fn-test-drop")
    if not bucket.exists():
        gcs.create_bucket("fn-test-drop")
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    blob = bucket.blob("incoming/ada/two.csv")
    blob.upload_from_string(
        f"id,ra,dec,radius\n{source_id},150.05,2.24,0.001\n{source_id},150.051,2.24,0.001\n"
    )
    client = make_client("bulk_submit", "cloudevent")
    envelope = push_envelope(
        "storage_notification_envelope",
        bucketId="fn-test-drop",
        objectId=blob.name,
        objectGeneration=str(blob.generation),
    )
    for _ in range(3):
        assert client.post(TOPIC_PATH, json=envelope).status_code == 200
    job_id = bulk_job_id(DropObject("fn-test-drop", blob.name, str(blob.generation)))
    jobs = Clients(settings).jobs
    record = jobs.wait(job_id, until=lambda r: r.job.phase == ExecutionPhase.COMPLETED, timeout=30)
    assert record is not None
    assert record.job.phase == ExecutionPhase.COMPLETED
    assert record.job.owner == "ada"
    assert record.job.progress.total == 2
    assert record.job.progress.done == 2
    ids = [r.result_id for r in jobs.results(job_id)]
    assert sorted(ids) == ["cutout-000000", "cutout-000001", "manifest-csv", "manifest-votable"]
