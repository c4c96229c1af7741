"""The operators' drain switch (``skycut-service/status``) as the functions read it.

Each test drains a service collection of its own (SKYCUT_SERVICE_COLLECTION),
so the stack the other tests use keeps taking work.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree

from skycut.bulk.drops import DropObject, bulk_job_id
from skycut.clients import Clients
from skycut.config import get_settings
from skycut.uws.model import FINAL_PHASES, ExecutionPhase
from tests.functions.conftest import push_envelope

pytestmark = pytest.mark.integration

BASE = "/api/image/soda"
DROP_TOPIC_PATH = "/projects/skycut-local/topics/skycut-drop-events"
VOSI = {"v": "http://www.ivoa.net/xml/VOSIAvailability/v1.0"}


@pytest.fixture
def status_doc(stack, monkeypatch) -> Iterator[Any]:
    """The status document of a service collection only this test reads."""
    collection = f"fn-test-service-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SKYCUT_SERVICE_COLLECTION", collection)
    doc = Clients(get_settings()).firestore.collection(collection).document("status")
    yield doc
    doc.delete()


@pytest.fixture
def api(make_client, status_doc):
    return make_client("soda_api", "http")


def availability(api) -> etree._Element:
    response = api.get(f"{BASE}/availability")
    assert response.status_code == 200, response.data
    return etree.fromstring(response.data)


def test_availability_reads_back_at_written_as_an_iso_string(api, status_doc):
    status_doc.set({"available": False, "note": "maintenance", "back_at": "2026-12-01T16:00:00Z"})
    doc = availability(api)
    assert doc.findtext("v:available", namespaces=VOSI) == "false"
    assert doc.findtext("v:note", namespaces=VOSI) == "maintenance"
    assert doc.findtext("v:backAt", namespaces=VOSI).startswith("2026-12-01T16:00:00")


@pytest.mark.parametrize("back_at", ["after lunch", 42, ["2026-12-01"]])
def test_availability_ignores_a_back_at_that_is_no_time(api, status_doc, back_at):
    status_doc.set({"available": False, "note": "maintenance", "back_at": back_at})
    doc = availability(api)
    assert doc.findtext("v:available", namespaces=VOSI) == "false"
    assert doc.findtext("v:note", namespaces=VOSI) == "maintenance"
    assert doc.find("v:backAt", namespaces=VOSI) is None


@pytest.mark.parametrize(
    ("available", "shown"),
    [("false", "false"), (" False ", "false"), ("no", "false"), ("true", "true"), (0, "false"),
     ("maintenance", "false")],
)  # fmt: skip
def test_availability_reads_the_switch_written_as_a_word(api, status_doc, available, shown):
    status_doc.set({"available": available, "note": "maintenance"})
    doc = availability(api)
    assert doc.findtext("v:available", namespaces=VOSI) == shown


def test_mosaic_sync_is_refused_while_drained(api, status_doc, stack):
    status_doc.set({"available": False, "note": "maintenance"})
    response = api.get(
        f"{BASE}/mosaic/sync",
        query_string={"POS": "RANGE 150.07 150.12 2.2 2.25", "PIXSCALE": "0.0002"},
    )
    assert response.status_code == 503
    message = response.get_data(as_text=True)
    assert message.startswith("ServiceUnavailable: the service is not accepting new jobs")
    assert "maintenance" in message


def test_a_file_dropped_while_drained_ends_in_error_saying_to_drop_it_again(
    make_client, status_doc, stack, monkeypatch
):
    # a drop bucket of its own, without fake-gcs-server events, so only this test submits
    monkeypatch.setenv("SKYCUT_DROP_BUCKET", "fn-test-drop")
    get_settings.cache_clear()  # read with the drop bucket, by the test and the function
    clients = Clients(get_settings())
    if not clients.storage.bucket("fn-test-drop").exists():
        clients.storage.create_bucket("fn-test-drop")
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    blob = clients.storage.bucket("fn-test-drop").blob(f"incoming/ada/{uuid.uuid4().hex}.csv")

    def drop() -> str:
        blob.upload_from_string(f"id,ra,dec,radius\n{source_id},150.05,2.24,0.001\n")
        envelope = push_envelope(
            "storage_notification_envelope",
            bucketId="fn-test-drop",
            objectId=blob.name,
            objectGeneration=str(blob.generation),
        )
        # a new instance each time: one reads the switch again only every few seconds
        bulk = make_client("bulk_submit", "cloudevent")
        assert bulk.post(DROP_TOPIC_PATH, json=envelope).status_code == 200
        return bulk_job_id(DropObject("fn-test-drop", blob.name, str(blob.generation)))

    status_doc.set({"available": False, "note": "maintenance", "back_at": "2026-12-01T16:00:00Z"})
    refused = clients.jobs.load(drop())
    assert refused is not None, "the owner sees a job for the file"
    assert refused.job.owner == "ada"
    assert refused.job.phase == ExecutionPhase.ERROR
    assert refused.job.error.message == (
        "ServiceUnavailable: the service is not accepting new jobs: maintenance; the file "
        "was not read: drop it again once the service is back (expected at 2026-12-01T16:00Z)"
    )
    assert refused.job.progress is None, "nothing was read or run"

    status_doc.set({"available": True})
    again = drop()
    ran = clients.jobs.wait(again, until=lambda r: r.job.phase in FINAL_PHASES, timeout=30)
    assert ran is not None
    assert ran.job.phase == ExecutionPhase.COMPLETED, "dropped again, the file runs"
