"""Cloud Function entry point: run the units of one mosaic stage message from Pub/Sub.

The mosaic topic carries the stages of asynchronous mosaic jobs
(:mod:`skycut.mosaic.job`): reprojection tasks, per-tile background sums,
per-tile coadds and the assembly. Raising makes Pub/Sub deliver the message again.
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
from skycut.logs import configure_logging, log
from skycut.mosaic.job.factory import worker_for
from skycut.mosaic.job.messages import MosaicMessage
from skycut.mosaic.job.runner import MosaicWorker

__all__ = ["mosaic_worker"]


@lru_cache(maxsize=1)
def _worker() -> MosaicWorker:
    # Built on first event, not at import; each Google client on first use.
    configure_logging()
    return worker_for(Clients(get_settings()))


@functions_framework.cloud_event
def mosaic_worker(event: CloudEvent) -> None:
    """Run one mosaic stage message; raising makes Pub/Sub deliver it again."""
    pubsub_message = (event.data or {}).get("message", {})
    try:
        raw = base64.b64decode(pubsub_message.get("data", ""), validate=True)
        message = MosaicMessage.model_validate_json(raw)
    except (ValidationError, ValueError) as e:
        # A message no delivery can fix: acknowledge it so it is not retried forever.
        log(logging.ERROR, "unreadable mosaic message dropped", event_id=event["id"], error=str(e))
        return
    _worker().handle(message)
