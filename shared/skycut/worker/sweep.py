"""Taking over jobs that stopped moving: a lease on QUEUED and EXECUTING.

Pub/Sub redelivers a message until a worker acknowledges it, so a crash
mid-message costs only time. A job can still stall if its messages are lost
outright (published to a topic whose subscription was being recreated,
retention exceeded during an outage, an operator purging a backlog). Every
counted message refreshes the job's activity (the progress shards' update
time); a job with no activity for ``job_lease_seconds`` has its lease taken
over by one sweep (a compare-and-set on the previous take-over time), which
publishes again exactly the batches that have not been counted. Batches are
the same as the first time, so counting stays exactly once whatever mix of
old and new deliveries arrives. After ``max_job_recoveries`` take-overs with
still no progress the job ends in ERROR with counts of what did and did not run.

The sweep also announces ended jobs whose job-events message was never
published (their writer died or the topic was down), once their finalize
lease is over (`skycut.jobs.events`), and destroys the jobs past their
destruction time as DELETE does: their objects and documents. The results
bucket's lifecycle rule (on each object's Custom-Time, the destruction time
it was written with) and Firestore's TTL do it too, but only within a day,
and cannot follow a destruction brought forward (Cloud Storage refuses to
move a Custom-Time earlier).

Cloud Scheduler asks for a sweep every few minutes by publishing a message
with the ``sweep`` attribute to the job topic; the local stack does the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from skycut.errors import ServiceUnavailableError, SkycutError
from skycut.jobs.completion import JobCompletion
from skycut.jobs.events import JobEvents
from skycut.jobs.messages import CutoutTask, batch_id
from skycut.jobs.queue import JobQueue
from skycut.jobs.records import JobRecord, error_summary
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.uws.model import ErrorSummary, ExecutionPhase
from skycut.worker.finalize import Finalizer

__all__ = ["Sweeper"]

_ACTIVE = (ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING)


@dataclass(kw_only=True)
class Sweeper:
    """Finds stalled jobs and publishes their uncounted batches again.

    Parameters
    ----------
    store
        The job store.
    events
        Where the end of a job given up on is announced.
    queue
        Where uncounted batches are published again.
    completion
        Ends a job whose every batch was counted but whose end was lost.
    finalizer
        Announces ended jobs whose announcement was lost.
    bulk_tasks
        Reads a bulk job's tasks again from its drop file (raises `SkycutError`
        if it cannot).
    lease_seconds
        How long a job may show no activity before it is taken over.
    max_recoveries
        Take-overs of a job that still makes no progress before it ends in ERROR.
    destroy
        Destroys a job past its destruction time, whatever its phase
        (`skycut.jobs.lifecycle.JobLifecycle.destroy`).
    mosaic_recover
        Publishes again the uncounted units of a mosaic job's stage
        (`skycut.mosaic.job.recovery.MosaicRecovery.recover`); returns the messages sent.

    """

    store: JobStore
    events: JobEvents
    queue: JobQueue
    completion: JobCompletion
    finalizer: Finalizer
    bulk_tasks: Callable[[JobRecord], list[CutoutTask]]
    lease_seconds: float
    max_recoveries: int
    destroy: Callable[[JobRecord], None]
    mosaic_recover: Callable[[JobRecord], int] = field(default=lambda record: 0)

    def sweep(self, now: datetime | None = None) -> list[str]:
        """Destroy expired jobs, take over every stalled one; return the ids of those acted on.

        Ended jobs whose announcement was lost (the events topic was down, or
        their writer died) are announced too, once their finalize lease is over.
        """
        now = now or datetime.now(UTC)
        for ended in self.store.unannounced():
            try:
                self.finalizer.resume(ended, now=now)
            except Exception as e:  # the next sweep tries again
                log(logging.WARNING, "announcement failed", job_id=ended.job.job_id, error=repr(e))
        acted = self._destroy_expired(now)
        for record in self.store.active():
            try:
                if self._recover_if_stalled(record, now):
                    acted.append(record.job.job_id)
            except Exception as e:  # one job's trouble must not stop the sweep of others
                log(
                    logging.ERROR,
                    "sweep of a job failed",
                    job_id=record.job.job_id,
                    error=repr(e),
                    exc_info=True,
                )
        return acted

    def _destroy_expired(self, now: datetime) -> list[str]:
        destroyed = []
        for record in self.store.expired(now):
            job_id = record.job.job_id
            try:
                self.destroy(record)
            except Exception as e:  # the next sweep tries again
                log(logging.WARNING, "destruction failed", job_id=job_id, error=repr(e))
                continue
            log(logging.INFO, "job destroyed at its destruction time", job_id=job_id)
            destroyed.append(job_id)
        return destroyed

    def last_activity(self, record: JobRecord) -> datetime:
        """Return when the job last showed life: created, started, counted or taken over."""
        times = [
            record.job.creation_time,
            record.job.start_time,
            record.recovery.recovered_at,
            self.store.last_counted(record.job.job_id),
        ]
        return max(t for t in times if isinstance(t, datetime))

    def _recover_if_stalled(self, record: JobRecord, now: datetime) -> bool:
        if now - self.last_activity(record) < timedelta(seconds=self.lease_seconds):
            return False
        job_id = record.job.job_id
        taken = self.store.take_over(
            job_id,
            last_taken=record.recovery.recovered_at,
            now=now,
            max_recoveries=self.max_recoveries,
            give_up=self._give_up,
        )
        if taken is None:
            return False
        if taken.job.phase == ExecutionPhase.ERROR:
            log(logging.ERROR, "stalled job ended in ERROR", job_id=job_id)
            self.events.announce_soon(taken)
            return True
        published = self._publish_uncounted(taken)
        log(
            logging.WARNING,
            "stalled job taken over",
            job_id=job_id,
            phase=taken.job.phase.value,
            recoveries=taken.recovery.recoveries,
            messages=published,
        )
        return True

    def _give_up(self, record: JobRecord, recoveries: int) -> ErrorSummary:
        progress = record.job.progress
        done, failed, total = (
            (progress.done, progress.failed, progress.total) if progress else (0, 0, 0)
        )
        stalled = self.lease_seconds
        return error_summary(
            ServiceUnavailableError(
                f"the job made no progress for {stalled:g} s after "
                f"{recoveries} republications of its work; {done} cutouts succeeded, "
                f"{failed} failed and {total - done - failed} never ran"
            )
        )

    def _publish_uncounted(self, record: JobRecord) -> int:
        job_id = record.job.job_id
        if record.kind == "mosaic":  # its stages have their own topic
            return self.mosaic_recover(record)
        tasks = self._tasks(record)
        if tasks is None:
            return 0  # its tasks cannot be read again; the job has ended in ERROR
        batch_ids = [batch_id(b) for b in self.queue.batches(tasks)]
        counted = self.store.counted_batches(job_id, batch_ids)
        if len(counted) == len(batch_ids):
            # everything ran and was counted; only the ending was lost
            self.completion.finish_if_complete(job_id)
            return 0
        published = self.queue.publish(job_id, tasks, skip=counted)
        if record.kind == "bulk":
            self.store.mark_published(job_id)
        return published

    def _tasks(self, record: JobRecord) -> list[CutoutTask] | None:
        if record.kind == "bulk":
            try:
                return self.bulk_tasks(record)
            except SkycutError as e:
                ended = self.store.fail(record.job.job_id, error_summary(e))
                if ended is not None:
                    self.events.announce_soon(ended)
                return None
        return record.tasks  # each with its work, as the API made it
