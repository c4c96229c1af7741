"""Cloud Function entry point: keep the image index in step with the sources buckets.

Triggered by the sources buckets' object events (a Cloud Storage
notification through Pub/Sub, or Eventarc): a new or replaced object is
described from its headers, a deleted one removed (:mod:`skycut.index.indexer`).
"""

from __future__ import annotations

import logging
from functools import lru_cache

import functions_framework
from cloudevents.http import CloudEvent

from skycut.clients import Clients
from skycut.config import get_settings
from skycut.index.factory import image_index_for, indexer_for
from skycut.index.indexer import Indexer
from skycut.logs import configure_logging, log
from skycut.storage.events import object_event

__all__ = ["image_index"]


@lru_cache(maxsize=1)
def _indexer() -> Indexer:
    clients = Clients(get_settings())
    return indexer_for(clients, index=image_index_for(clients))


@functions_framework.cloud_event
def image_index(event: CloudEvent) -> None:
    """Apply one object event to the index; raising makes it be delivered again."""
    configure_logging()
    changed = object_event(event["type"], event.data)
    if changed is None:  # decided before any client is built
        log(logging.INFO, "event ignored: not an object event", event_id=event["id"])
        return
    outcome = _indexer().handle(changed)
    log(
        logging.INFO,
        "object event applied",
        outcome=outcome,
        kind=changed.kind,
        source=f"gs://{changed.bucket}/{changed.name}",
        generation=changed.generation,
    )
