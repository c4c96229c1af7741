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

from skycut.clients import Clients
from skycut.config import get_settings

pytestmark = pytest.mark.integration

BASE = "/api/image/soda"
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
