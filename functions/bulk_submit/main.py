"""Cloud Function entry point: a file finalized in the drop bucket starts a bulk job."""

from __future__ import annotations

import logging
from functools import lru_cache

import functions_framework
from cloudevents.http import CloudEvent

from skycut.bulk.drops import DropObject
from skycut.bulk.submit import BulkSubmitter
from skycut.clients import Clients
from skycut.config import get_settings
from skycut.logs import configure_logging, log

__all__ = ["bulk_submit"]


@lru_cache(maxsize=1)
def _submitter() -> BulkSubmitter:
    configure_logging()
    return BulkSubmitter(clients=Clients(get_settings()))


def _drop_object(event: CloudEvent) -> DropObject | None:
    data = event.data or {}
    if "message" in data:  # a Cloud Storage notification delivered through Pub/Sub
        attributes = data["message"].get("attributes", {})
        if attributes.get("eventType") != "OBJECT_FINALIZE":
            return None
        return DropObject(
            bucket=attributes["bucketId"],
            name=attributes["objectId"],
            generation=str(attributes.get("objectGeneration", "0")),
        )
    if "bucket" in data and "name" in data:  # an Eventarc storage.object.v1.finalized event
        return DropObject(
            bucket=data["bucket"], name=data["name"], generation=str(data.get("generation", "0"))
        )
    return None


@functions_framework.cloud_event
def bulk_submit(event: CloudEvent) -> None:
    """Create the bulk job of a dropped file (repeated events create nothing new)."""
    drop = _drop_object(event)
    submitter = _submitter()
    if drop is None:
        log(logging.INFO, "event ignored: not an object finalize", event_id=event["id"])
        return
    submitter.submit(drop)
