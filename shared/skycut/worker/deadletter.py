"""Messages Pub/Sub gave up on: their jobs end in ERROR instead of waiting forever.

Pub/Sub forwards a message to the dead-letter topic after its maximum
delivery attempts, adding ``CloudPubSubDeadLetter*`` attributes. Whatever it
was (a job message or a drop-bucket notification), its job must say it failed.
This path never raises: a failure here would be retried for days.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError

from skycut.bulk.drops import DropObject, bulk_job_id, owner_of
from skycut.jobs.events import JobEvents
from skycut.jobs.messages import JobMessage
from skycut.jobs.records import Announcement, JobRecord
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.uws.model import ErrorSummary, ExecutionPhase, Job

__all__ = ["DEAD_LETTER_ATTRIBUTE", "fail_dead_letter"]

DEAD_LETTER_ATTRIBUTE = "CloudPubSubDeadLetterSourceSubscription"
_ATTEMPTS_ATTRIBUTE = "CloudPubSubDeadLetterSourceDeliveryCount"


def _message(attributes: Mapping[str, str]) -> str:
    attempts = attributes.get(_ATTEMPTS_ATTRIBUTE, "several")
    return (
        f"ServiceUnavailable: the job's work failed {attempts} delivery attempts "
        "(a back end stayed unavailable or the worker kept failing); it was not completed"
    )


class _AnyJobMessage(BaseModel):
    """What every job topic's message carries: its job (cutout batches and mosaic stages)."""

    job_id: str


def _job_of(data: bytes) -> str:
    try:
        return JobMessage.model_validate_json(data).job_id
    except ValidationError:
        return _AnyJobMessage.model_validate_json(data).job_id  # a mosaic stage's message


def fail_dead_letter(
    data: bytes, attributes: Mapping[str, str], *, store: JobStore, events: JobEvents
) -> None:
    """Put the job behind a dead-lettered message into ERROR and announce its end.

    Parameters
    ----------
    data
        The message's data.
    attributes
        The message's attributes, Pub/Sub's dead-letter ones among them.
    store
        The job store.
    events
        Where the job's end is announced.

    """
    try:
        if attributes.get("eventType") == "OBJECT_FINALIZE":
            _fail_drop(store, events, attributes)
        else:
            job_id = _job_of(data)
            _fail_job(store, events, job_id, attributes)
    except (ValidationError, ValueError, KeyError) as e:
        log(logging.ERROR, "dead letter not understood; dropped", error=str(e))
    except Exception as e:
        log(logging.ERROR, "dead letter could not be recorded", error=repr(e), exc_info=True)


def _fail_job(
    store: JobStore, events: JobEvents, job_id: str, attributes: Mapping[str, str]
) -> None:
    changed = store.fail(
        job_id, ErrorSummary(message=_message(attributes), error_type="transient", status=503)
    )
    if changed is not None:
        events.announce_soon(changed)
    log(logging.WARNING, "dead-lettered job message", job_id=job_id, changed=changed is not None)


def _fail_drop(store: JobStore, events: JobEvents, attributes: Mapping[str, str]) -> None:
    drop = DropObject(
        bucket=attributes["bucketId"],
        name=attributes["objectId"],
        generation=str(attributes.get("objectGeneration", "0")),
    )
    owner = owner_of(drop.name)
    if owner is None:
        return
    now = datetime.now(UTC)
    job_id = bulk_job_id(drop)
    job = Job(
        job_id=job_id,
        owner=owner,
        phase=ExecutionPhase.ERROR,
        creation_time=now,
        end_time=now,
        error=ErrorSummary(message=_message(attributes), error_type="transient"),
    )
    record = JobRecord(job=job, kind="bulk", announcement=Announcement.due(now))
    if store.create(record):
        events.announce_soon(record)
    else:
        _fail_job(store, events, job_id, attributes)
    log(logging.WARNING, "dead-lettered drop notification", job_id=job_id)
