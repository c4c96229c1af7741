"""Cloud Function entry point: a file finalized in the drop bucket starts a bulk job."""

from __future__ import annotations

import logging
from functools import lru_cache

import functions_framework
from cloudevents.http import CloudEvent

from skycut.bulk.drops import DropObject, owner_of
from skycut.bulk.factory import submitter_for
from skycut.bulk.submit import BulkSubmitter
from skycut.clients import Clients
from skycut.config import get_settings
from skycut.logs import configure_logging, log
from skycut.storage.events import object_event

__all__ = ["bulk_submit"]


@lru_cache(maxsize=1)
def _clients() -> Clients:
    # Built on first event, not at import; each Google client on first use.
    configure_logging()
    return Clients(get_settings())


@lru_cache(maxsize=1)
def _submitter() -> BulkSubmitter:
    return submitter_for(_clients())


def _drop_object(event: CloudEvent, drop_bucket: str) -> DropObject | None:
    changed = object_event(event["type"], event.data)
    if changed is None or changed.kind != "finalize" or changed.bucket != drop_bucket:
        return None  # other events, and other buckets' (one local topic carries them all)
    return DropObject(bucket=changed.bucket, name=changed.name, generation=str(changed.generation))


@functions_framework.cloud_event
def bulk_submit(event: CloudEvent) -> None:
    """Create the bulk job of a dropped file (repeated events create nothing new)."""
    drop = _drop_object(event, _clients().settings.drop_bucket)
    if drop is None:
        log(logging.INFO, "event ignored: not a finalize in the drop bucket", event_id=event["id"])
        return
    if owner_of(drop.name) is None:  # no job, so no client built for it
        log(
            logging.WARNING,
            "drop object ignored: not incoming/<owner>/<file>",
            bucket=drop.bucket,
            object=drop.name,
        )
        return
    _submitter().submit(drop)
