"""Cloud Function entry point: run the cutouts of one job message from Pub/Sub.

The same topic carries Cloud Scheduler's sweep requests (attribute ``sweep``),
which take over stalled jobs (:mod:`skycut.worker.sweep`).
"""

from __future__ import annotations

import base64
import logging
from functools import lru_cache

import functions_framework
from cloudevents.http import CloudEvent
from pydantic import ValidationError

from skycut.clients import Clients
from skycut.config import get_settings
from skycut.jobs.messages import SWEEP_ATTRIBUTE, JobMessage
from skycut.logs import configure_logging, log
from skycut.worker.deadletter import DEAD_LETTER_ATTRIBUTE, fail_dead_letter
from skycut.worker.factory import sweeper_for, worker_for
from skycut.worker.run import Worker
from skycut.worker.sweep import Sweeper

__all__ = ["cutout_worker"]


@lru_cache(maxsize=1)
def _clients() -> Clients:
    # Built on first event, not at import; each Google client on first use.
    configure_logging()
    return Clients(get_settings())


@lru_cache(maxsize=1)
def _worker() -> Worker:
    return worker_for(_clients())


@lru_cache(maxsize=1)
def _sweeper() -> Sweeper:
    return sweeper_for(_clients())


@functions_framework.cloud_event
def cutout_worker(event: CloudEvent) -> None:
    """Run one job message; raising makes Pub/Sub deliver it again."""
    pubsub_message = (event.data or {}).get("message", {})
    attributes = pubsub_message.get("attributes") or {}
    clients = _clients()
    try:
        raw = base64.b64decode(pubsub_message.get("data", ""), validate=True)
        if SWEEP_ATTRIBUTE in attributes:
            _sweeper().sweep()
            return
        if DEAD_LETTER_ATTRIBUTE in attributes and attributes.get("bucketId") not in (
            None,
            get_settings().drop_bucket,
        ):
            # a sources bucket's event the indexer kept failing on: no job to end;
            # `skycut index` indexes the object again
            log(logging.ERROR, "dead-lettered object event dropped", **dict(attributes))
            return
        if DEAD_LETTER_ATTRIBUTE in attributes:
            fail_dead_letter(raw, attributes, store=clients.jobs, events=clients.events)
            return
        message = JobMessage.model_validate_json(raw)
    except (ValidationError, ValueError) as e:
        # A message no delivery can fix: acknowledge it so it is not retried forever.
        log(logging.ERROR, "unreadable job message dropped", event_id=event["id"], error=str(e))
        return
    _worker().handle(message)
