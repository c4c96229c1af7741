"""Turning a file dropped in the drop bucket into one bulk job.

Safe to run again for the same event: the job id is derived from the
object's bucket, name and generation, and a job whose messages were not all
published (the previous delivery died) is published again — its results are
recorded once each, so repeats change nothing.

Rows without ``id`` are matched to the images covering them by the index
once, when the job is created; the matches are kept beside the job's
results (:mod:`skycut.bulk.found`) before the job exists, so publishing it
again (or the sweep) makes exactly the same cutouts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from skycut.bulk.dropfiles import DropFiles
from skycut.bulk.drops import DropObject, bulk_job_id, owner_of
from skycut.bulk.found import FoundRecorder, found_object_name
from skycut.bulk.report import WriteResult, attach_errors_report
from skycut.bulk.rows import ParsedRows
from skycut.errors import ServiceUnavailableError, SkycutError
from skycut.jobs.events import JobEvents
from skycut.jobs.queue import JobQueue
from skycut.jobs.records import Announcement, BulkState, JobRecord, error_summary
from skycut.jobs.service_state import ServiceStatus, draining_message
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.sia.covering import CoveringImages
from skycut.uws.model import ErrorSummary, ExecutionPhase, Job, JobParameter, Progress

__all__ = ["BulkSubmitter"]


class BulkSubmitter:
    """Creates and fans out bulk jobs.

    Parameters
    ----------
    store
        The job store.
    events
        Where the end of a job refused at once is announced.
    queue
        Where a job's cutouts are published.
    quote
        The expected end of a job of so many cutouts (None if unknown).
    drops
        Reads the dropped files.
    write_result
        Writes an object to the results bucket (the errors report).
    results_bucket
        The bucket ``write_result`` writes to.
    drop_bucket
        The bucket whose files are bulk requests; other buckets' are ignored.
    destruction_days
        How long a bulk job and its results are kept.
    covering
        Finds the images covering the rows without ``id``.
    status
        The operators' drain switch: a file dropped while the service is
        drained gets a job ended at once in ERROR, its rows unread.

    """

    def __init__(
        self,
        *,
        store: JobStore,
        events: JobEvents,
        queue: JobQueue,
        quote: Callable[[int], datetime | None],
        drops: DropFiles,
        write_result: WriteResult,
        results_bucket: str,
        drop_bucket: str,
        destruction_days: float,
        covering: CoveringImages,
        status: Callable[[], ServiceStatus],
    ) -> None:
        self._store = store
        self._events = events
        self._queue = queue
        self._quote = quote
        self._drops = drops
        self._write_result = write_result
        self._results_bucket = results_bucket
        self._drop_bucket = drop_bucket
        self._destruction_days = destruction_days
        self._covering = covering
        self._status = status

    def submit(self, drop: DropObject) -> str | None:
        """Create (or finish publishing) the bulk job of ``drop``.

        Returns
        -------
        str or None
            The job id, or None if the object is not a bulk request.

        """
        owner = owner_of(drop.name)
        if drop.bucket != self._drop_bucket or owner is None:
            log(
                logging.WARNING,
                "drop object ignored: not incoming/<owner>/<file>",
                bucket=drop.bucket,
                object=drop.name,
            )
            return None
        job_id = bulk_job_id(drop)
        existing = self._store.load(job_id)
        if existing is not None:
            self._resume(existing, drop)
            return job_id
        now = datetime.now(UTC)
        job = Job(
            job_id=job_id,
            owner=owner,
            phase=ExecutionPhase.QUEUED,
            creation_time=now,
            run_id=drop.name.rsplit("/", 1)[-1][:64],
            execution_duration=0,  # bulk jobs run as long as their rows need
            destruction=now + timedelta(days=self._destruction_days),
            parameters=[JobParameter("SOURCE", f"gs://{drop.bucket}/{drop.name}")],
        )
        status = self._status()
        if not status.available:
            # Redelivering the event until the drain ends would dead-letter it within
            # the hour, and a drain may last longer: the owner sees this job instead.
            return self._refuse(job, _drained(status))
        recorder = FoundRecorder(self._covering)
        try:
            options, rows = self._drops.read(drop, find=recorder)
        except SkycutError as e:
            if e.error_type == "transient":
                raise  # the index or storage is unreachable: the event is delivered again
            return self._refuse(job, e)
        job.parameters += [JobParameter(k.upper(), v) for k, v in sorted(options.items())]
        # every cutout counts, and every refused row as failed already, as in the manifest
        job.progress = Progress(total=rows.outcomes, failed=len(rows.bad))
        job.quote = self._quote(len(rows.tasks))
        if not rows.tasks:
            job.phase = ExecutionPhase.ERROR
            job.end_time = now
            uncovered = all(bad.status == "no_image" for bad in rows.bad)
            job.error = ErrorSummary(
                message="UsageError: the file has a header and no rows; nothing to cut"
                if not rows.total_rows
                else f"UsageError: no indexed image covers any of the {rows.total_rows} "
                "rows; see the errors result"
                if uncovered and rows.bad
                else f"UsageError: none of the {rows.total_rows} rows can run; "
                "see the errors result"
            )
        record = JobRecord(
            job=job,
            kind="bulk",
            bulk=BulkState(published=False, options=options, drop_generation=drop.generation),
            announcement=Announcement() if rows.tasks else Announcement.due(now),
        )
        if recorder.asked:
            # before the job exists, so every later reading of the file finds the same images
            self._write_result(
                found_object_name(job_id),
                recorder.to_bytes(),
                content_type="application/x-ndjson",
                expires=job.destruction,
            )
        if rows.bad:
            # before the job exists, so a job always has its report (the manifest reads
            # it when the job ends); a repeated delivery writes the same report again
            attach_errors_report(
                self._store,
                self._write_result,
                results_bucket=self._results_bucket,
                job_id=job_id,
                bad=rows.bad,
                expires=job.destruction,
            )
        if not self._store.create(record):
            return job_id  # a concurrent delivery created it first
        if rows.tasks:
            self._publish(job_id, rows)
        else:
            self._events.announce_soon(record)
        return job_id

    def _refuse(self, job: Job, error: SkycutError) -> str:
        job.phase = ExecutionPhase.ERROR
        job.end_time = datetime.now(UTC)
        job.error = error_summary(error)
        record = JobRecord(job=job, kind="bulk", announcement=Announcement.due(job.end_time))
        if self._store.create(record):
            self._events.announce_soon(record)
        log(logging.INFO, "bulk file refused", job_id=job.job_id, error=job.error.message)
        return job.job_id

    def _publish(self, job_id: str, rows: ParsedRows) -> None:
        count = self._queue.publish(job_id, rows.tasks)
        self._store.mark_published(job_id)
        log(
            logging.INFO,
            "bulk job submitted",
            job_id=job_id,
            tasks=len(rows.tasks),
            bad_rows=len(rows.bad),
            messages=count,
        )

    def _resume(self, existing: JobRecord, drop: DropObject) -> None:
        job_id = existing.job.job_id
        if existing.bulk.published or existing.job.phase not in (
            ExecutionPhase.QUEUED,
            ExecutionPhase.EXECUTING,
        ):
            log(logging.INFO, "duplicate drop event; nothing to do", job_id=job_id)
            return
        # The delivery that created the job died before publishing all of it.
        _, rows = self._drops.read(drop, find=self._drops.kept_matches(job_id))
        self._publish(job_id, rows)
        log(logging.WARNING, "bulk job publication resumed", job_id=job_id)


def _drained(status: ServiceStatus) -> ServiceUnavailableError:
    """Return the error of a file dropped while operators drain the service."""
    when = "once the service is back"
    if status.back_at is not None:
        back = status.back_at.astimezone(UTC).isoformat(timespec="minutes")
        when += f" (expected at {back.replace('+00:00', 'Z')})"
    return ServiceUnavailableError(
        f"{draining_message(status)}; the file was not read: drop it again {when}"
    )
