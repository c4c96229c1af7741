"""Turning a file dropped in the drop bucket into one bulk job.

Safe to run again for the same event: the job id is derived from the
object's bucket, name and generation, and a job whose messages were not all
published (the previous delivery died) is published again — its results are
recorded once each, so repeats change nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from skycut.bulk.drops import DropObject, bulk_job_id, job_options, owner_of
from skycut.bulk.formats import detect_format, read_rows
from skycut.bulk.report import attach_errors_report
from skycut.bulk.rows import ParsedRows, tasks_from_rows
from skycut.clients import Clients
from skycut.errors import SkycutError, UsageError
from skycut.jobs.messages import CutoutTask
from skycut.jobs.records import Announcement, BulkState, JobRecord
from skycut.logs import log
from skycut.uws.model import ErrorSummary, ExecutionPhase, Job, JobParameter, Progress

__all__ = ["BulkSubmitter"]

class BulkSubmitter:
    """Creates and fans out bulk jobs."""

    def __init__(self, *, clients: Clients) -> None:
        self._clients = clients

    def submit(self, drop: DropObject) -> str | None:
        """Create (or finish publishing) the bulk job of ``drop``.

        Returns
        -------
        str or None
            The job id, or None if the object is not a bulk request.

        """
        settings = self._clients.settings
        owner = owner_of(drop.name)
        if drop.bucket != settings.drop_bucket or owner is None:
            log(
                logging.WARNING,
                "drop object ignored: not incoming/<owner>/<file>",
                bucket=drop.bucket,
                object=drop.name,
            )
            return None
        job_id = bulk_job_id(drop)
        existing = self._clients.jobs.load(job_id)
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
            destruction=now + timedelta(days=settings.destruction_days),
            parameters=[JobParameter("SOURCE", f"gs://{drop.bucket}/{drop.name}")],
        )
        try:
            options, rows = self._read(drop)
        except SkycutError as e:
            return self._refuse(job, e.to_text())
        job.parameters += [JobParameter(k.upper(), v) for k, v in sorted(options.items())]
        # every row of the file counts, the refused ones as failed already, as in the manifest
        job.progress = Progress(total=rows.total_rows, failed=len(rows.bad))
        job.quote = self._clients.service_state.quote(len(rows.tasks))
        if not rows.tasks:
            job.phase = ExecutionPhase.ERROR
            job.end_time = now
            job.error = ErrorSummary(
                message=f"UsageError: none of the {rows.total_rows} rows can run; "
                "see the errors result"
            )
        record = JobRecord(
            job=job,
            kind="bulk",
            bulk=BulkState(published=False, options=options, drop_generation=drop.generation),
            announcement=Announcement() if rows.tasks else Announcement.due(now),
        )
        if rows.bad:
            # before the job exists, so a job always has its report (the manifest reads
            # it when the job ends); a repeated delivery writes the same report again
            attach_errors_report(self._clients, job_id, rows.bad, expires=job.destruction)
        if not self._clients.jobs.create(record):
            return job_id  # a concurrent delivery created it first
        if rows.tasks:
            self._publish(job_id, rows)
        else:
            self._clients.events.announce_soon(record)
        return job_id

    def tasks_of(self, record: JobRecord) -> list[CutoutTask]:
        """Return the tasks of a bulk job, read again from its drop file.

        Raises
        ------
        UsageError
            If the file is gone or was replaced by another version since.

        """
        source = next(p.value for p in record.job.parameters if p.name == "SOURCE")
        bucket, _, name = source.removeprefix("gs://").partition("/")
        generation = record.bulk.drop_generation
        _, rows = self._read(DropObject(bucket=bucket, name=name, generation=generation))
        return rows.tasks

    def _read(self, drop: DropObject) -> tuple[dict[str, str], ParsedRows]:
        settings = self._clients.settings
        blob = self._clients.storage.bucket(drop.bucket).get_blob(drop.name)
        if blob is None:
            raise UsageError(f"the drop file gs://{drop.bucket}/{drop.name} no longer exists")
        if drop.generation not in ("", "0") and str(blob.generation) != drop.generation:
            raise UsageError(
                f"the drop file gs://{drop.bucket}/{drop.name} was replaced (generation "
                f"{blob.generation}, the job's is {drop.generation})"
            )
        if blob.size is not None and int(blob.size) > settings.max_bulk_bytes:
            raise UsageError(
                f"the drop file has {int(blob.size)} bytes, over the limit of "
                f"{settings.max_bulk_bytes}; split it"
            )
        options = job_options(blob.metadata)
        data: bytes = blob.download_as_bytes()
        fmt = detect_format(drop.name, data, blob.content_type)
        rows = tasks_from_rows(
            read_rows(data, fmt, max_rows=settings.max_bulk_rows),
            allowed_buckets=settings.source_buckets,
            options=options,
        )
        return options, rows

    def _refuse(self, job: Job, message: str) -> str:
        job.phase = ExecutionPhase.ERROR
        job.end_time = datetime.now(UTC)
        job.error = ErrorSummary(message=message)
        record = JobRecord(job=job, kind="bulk", announcement=Announcement.due(job.end_time))
        if self._clients.jobs.create(record):
            self._clients.events.announce_soon(record)
        log(logging.INFO, "bulk file refused", job_id=job.job_id, error=message)
        return job.job_id

    def _publish(self, job_id: str, rows: ParsedRows) -> None:
        count = self._clients.queue.publish(job_id, rows.tasks)
        self._clients.jobs.mark_published(job_id)
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
        _, rows = self._read(drop)
        self._publish(job_id, rows)
        log(logging.WARNING, "bulk job publication resumed", job_id=job_id)
