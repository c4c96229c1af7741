"""Turning a file dropped in the drop bucket into one bulk job."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from skycut.bulk.rows import BadRow, parse_csv_rows
from skycut.clients import Clients
from skycut.errors import SkycutError
from skycut.jobs.records import JobRecord, StoredResult
from skycut.logs import log
from skycut.uws.model import ErrorSummary, ExecutionPhase, Job, JobParameter, Progress

__all__ = ["BulkSubmitter", "DropObject", "bulk_job_id"]

_INCOMING = "incoming/"


@dataclass(frozen=True, slots=True)
class DropObject:
    """A finalized object in the drop bucket."""

    bucket: str
    name: str
    generation: str


def bulk_job_id(drop: DropObject) -> str:
    """Return the job id of a drop file: the same file version, the same job."""
    key = f"{drop.bucket}/{drop.name}#{drop.generation}".encode()
    return "bulk-" + hashlib.sha256(key).hexdigest()[:27]


def owner_of(name: str) -> str | None:
    """Return the owner named by ``incoming/<owner>/...``, or None."""
    if not name.startswith(_INCOMING):
        return None
    owner, sep, rest = name[len(_INCOMING) :].partition("/")
    return owner if owner and sep and rest else None


class BulkSubmitter:
    """Creates and fans out bulk jobs; safe to call again for the same event."""

    def __init__(self, *, clients: Clients) -> None:
        self._clients = clients

    def submit(self, drop: DropObject) -> str | None:
        """Create (or resume publishing) the bulk job of ``drop``.

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
        store = self._clients.jobs
        existing = store.load(job_id)
        if existing is not None:
            if existing.job.phase == ExecutionPhase.QUEUED and existing.tasks:
                # A previous delivery stored the job but may not have published
                # all of it; results are idempotent, so publishing again is safe.
                self._clients.queue.publish(job_id, existing.tasks)
            log(logging.INFO, "duplicate drop event", job_id=job_id)
            return job_id
        now = datetime.now(UTC)
        job = Job(
            job_id=job_id,
            owner=owner,
            phase=ExecutionPhase.QUEUED,
            creation_time=now,
            run_id=drop.name.rsplit("/", 1)[-1][:64],
            destruction=now + timedelta(days=settings.destruction_days),
            parameters=[JobParameter("SOURCE", f"gs://{drop.bucket}/{drop.name}")],
        )
        data = self._clients.storage.bucket(drop.bucket).blob(drop.name).download_as_bytes()
        try:
            rows = parse_csv_rows(
                data, allowed_buckets=settings.source_buckets, max_rows=settings.max_bulk_rows
            )
        except SkycutError as e:
            job.phase = ExecutionPhase.ERROR
            job.end_time = now
            job.error = ErrorSummary(message=e.to_text())
            store.create(JobRecord(job=job, kind="bulk"))
            log(logging.INFO, "bulk file refused", job_id=job_id, error=e.to_text())
            return job_id
        job.progress = Progress(total=len(rows.tasks))
        if not rows.tasks:
            job.phase = ExecutionPhase.ERROR
            job.end_time = now
            job.error = ErrorSummary(message="UsageError: the drop file has no valid rows")
        record = JobRecord(job=job, kind="bulk", tasks=rows.tasks)
        if not store.create(record):
            return job_id
        if rows.bad:
            self._attach_errors(job_id, rows.bad)
        if rows.tasks:
            count = self._clients.queue.publish(job_id, rows.tasks)
            log(
                logging.INFO,
                "bulk job submitted",
                job_id=job_id,
                tasks=len(rows.tasks),
                bad_rows=len(rows.bad),
                messages=count,
            )
        return job_id

    def _attach_errors(self, job_id: str, bad: list[BadRow]) -> None:
        """Publish the rows that cannot run as a CSV result named ``errors``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["line", "row", "reason"])
        for row in bad:
            writer.writerow([row.line, row.row, row.reason])
        data = buffer.getvalue().encode()
        results = self._clients.results
        name = f"jobs/{job_id}/errors.csv"
        size = results.write(name, data, content_type="text/csv")
        self._clients.jobs.attach_result(
            job_id,
            StoredResult(
                result_id="errors",
                index=-1,
                status="error",
                bucket=results.bucket_name,
                object_name=name,
                mime_type="text/csv",
                size=size,
                message=f"{len(bad)} row(s) could not be used",
                created=datetime.now(UTC),
            ),
        )
