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

from skycut.jobs.records import JobRecord
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.uws.model import Progress

__all__ = ["JobEvents"]


class JobEvents:
    """Announces jobs' ends on the job-events topic and marks them announced.

    Parameters
    ----------
    store
        The job store (the job's counts; the announced mark).
    publisher
        A Pub/Sub publisher client.
    topic_path
        ``projects/<project>/topics/<job events topic>``.
    public_base_url
        The service's base URL as clients see it, for job URLs; None if unknown.

    """

    def __init__(
        self, *, store: JobStore, publisher: Any, topic_path: str, public_base_url: str | None
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._topic = topic_path
        self._base = public_base_url.rstrip("/") if public_base_url else None

    def job_url(self, job_id: str, *, kind: str = "soda") -> str | None:
        """Return the job's public URL, if the service knows its own base URL."""
        tree = "mosaic" if kind == "mosaic" else "async"  # mosaic jobs have their own tree
        return f"{self._base}/{tree}/{job_id}" if self._base else None

    def announce(
        self,
        record: JobRecord,
        *,
        progress: Progress | None = None,
        manifest_url: str | None = None,
    ) -> None:
        """Publish the job's end and mark it announced.

        ``progress`` defaults to the job's counted progress, read now.
        Publishing is retried by the caller's own retry (a raised error); the
        mark lets a later delivery see that the event went out.
        """
        job = record.job
        if progress is None:
            counted = self._store.load(job.job_id)
            progress = (counted or record).job.progress or Progress(total=0)
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
            "job_url": self.job_url(job.job_id, kind=record.kind),
            "error": job.error.message if job.error is not None else None,
            "time": datetime.now(UTC).isoformat(),
        }
        future = self._publisher.publish(
            self._topic, json.dumps(event).encode(), job_id=job.job_id, phase=job.phase.value
        )
        future.result(timeout=60)
        self._store.mark_announced(job.job_id)
        log(logging.INFO, "job event published", job_id=job.job_id, phase=job.phase.value)

    def announce_soon(self, record: JobRecord) -> None:
        """Announce an ending now if possible; if not, leave it to the announcement lease.

        For the paths that must not fail because the events topic is
        unreachable (ABORT, a dead letter, a refused file): the job stays
        unannounced and a worker or the sweep that meets it after
        `skycut.jobs.records.FINALIZE_LEASE` announces it.
        """
        try:
            self.announce(record)
        except Exception as e:
            log(
                logging.WARNING,
                "job event not published yet; a worker will retry after the lease",
                job_id=record.job.job_id,
                error=repr(e),
            )
