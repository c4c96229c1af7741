"""The job-events topic: one message whenever a job ends, however it ends.

Subscribers (notifications, pipelines that dropped a file and wait for it)
get the job id, owner, kind, final phase, counts and, for a completed bulk
job, the manifest URL. Every path that ends a job publishes here: the worker
completing it, ABORT, the execution duration running out, a dead-lettered
message, a refused drop file, a stalled job given up by the sweep.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from skycut.jobs.records import FINALIZE_LEASE, Announcement, JobRecord
from skycut.logs import log
from skycut.uws.model import Progress

__all__ = [
    "FINALIZE_LEASE",
    "announce_end",
    "announce_soon",
    "ending_fields",
    "job_url_of",
]

def ending_fields(now: datetime) -> dict[str, Any]:
    """Return the fields every transition to a final phase sets beside the phase.

    They say the end is not announced yet, and until when its writer holds
    the right to announce it; after that the sweep, or a worker that meets
    the job (`skycut.worker.finalize.Finalizer.resume`), announces it instead.
    """
    due = Announcement.due(now)
    return {"extra.finalized": due.finalized, "extra.finalizing_until": due.finalizing_until}


def job_url_of(settings: Any, job_id: str) -> str | None:
    """Return the job's public URL, if the service knows its own base URL."""
    base = settings.public_base_url
    return f"{base.rstrip('/')}/async/{job_id}" if base else None


def announce_end(
    clients: Any,
    record: JobRecord,
    *,
    progress: Progress | None = None,
    manifest_url: str | None = None,
) -> None:
    """Publish the job's end and mark it ``extra.finalized``.

    ``progress`` defaults to the job's counted progress, read now.
    Publishing is retried by the caller's own retry (a raised error); the
    mark lets a later delivery see that the event went out.
    """
    job = record.job
    if progress is None:
        counted = clients.jobs.load(job.job_id)
        progress = (counted or record).job.progress or Progress(total=0)
    settings = clients.settings
    event = {
        "job_id": job.job_id,
        "owner": job.owner,
        "kind": record.kind,
        "phase": job.phase.value,
        "run_id": job.run_id,
        "total": progress.total,
        "done": progress.done,
        "failed": progress.failed,
        "manifest_url": manifest_url,
        "job_url": job_url_of(settings, job.job_id),
        "error": job.error.message if job.error is not None else None,
        "time": datetime.now(UTC).isoformat(),
    }
    topic = f"projects/{settings.project_id}/topics/{settings.job_events_topic}"
    future = clients.publisher.publish(
        topic, json.dumps(event).encode(), job_id=job.job_id, phase=job.phase.value
    )
    future.result(timeout=60)
    clients.jobs.mark_announced(job.job_id)
    log(logging.INFO, "job event published", job_id=job.job_id, phase=job.phase.value)


def announce_soon(clients: Any, record: JobRecord) -> None:
    """Announce an ending now if possible; if not, leave it to the finalize lease.

    For the paths that must not fail because the events topic is unreachable
    (ABORT, a dead letter, a refused file): the job stays unannounced
    (``extra.finalized`` false) and a worker that meets it after
    ``FINALIZE_LEASE`` announces it.
    """
    try:
        announce_end(clients, record)
    except Exception as e:
        log(
            logging.WARNING,
            "job event not published yet; a worker will retry after the lease",
            job_id=record.job.job_id,
            error=repr(e),
        )
