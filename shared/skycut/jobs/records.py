"""How jobs and results are laid out as Firestore documents.

A job is one document in the jobs collection; each of its results is a
document in the job's ``results`` sub-collection, so a bulk job with a
million cutouts never outgrows Firestore's 1 MiB document limit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from skycut.errors import SkycutError
from skycut.jobs.messages import CutoutTask, FoundImage, upgrade_tasks
from skycut.jobs.mosaic_state import MosaicState
from skycut.logs import log
from skycut.uws.model import ErrorSummary, ExecutionPhase, Job, JobParameter, Progress

__all__ = [
    "FINALIZE_LEASE",
    "MAX_TASKS_BYTES",
    "OUTPUTS_LEASE",
    "Announcement",
    "BulkState",
    "JobKind",
    "JobRecord",
    "Recovery",
    "ResultStatus",
    "StoredResult",
    "destroyed",
    "error_document",
    "error_summary",
    "job_objects_prefix",
    "result_id_for",
    "task_document",
    "task_from_document",
    "tasks_from_documents",
    "tasks_stored_bytes",
    "with_update",
]

MAX_TASKS_BYTES = 900_000
"""Most bytes a job's tasks and parameters may take in its document (Firestore's limit: 1 MiB)."""

FINALIZE_LEASE = timedelta(minutes=10)
"""How long the writer that ended a job has to announce it before a worker may do it."""

OUTPUTS_LEASE = timedelta(minutes=10)
"""How long the worker writing a complete bulk job's outputs has before another may."""

JobKind = Literal["soda", "sync", "bulk", "mosaic"]
"""What made a job: an async SODA request, a SODA sync request (not in the job list
while the request waits for it), a bulk file or a mosaic request."""
ResultStatus = Literal["ok", "no_overlap", "error"]


def task_document(task: CutoutTask) -> dict[str, Any]:
    """Return a task as Firestore stores it (its work as numbers; defaults left out)."""
    return task.model_dump(mode="json", exclude_defaults=True)


def task_from_document(doc: dict[str, Any]) -> CutoutTask:
    """Rebuild a task from :func:`task_document`'s form."""
    return CutoutTask.model_validate(doc)


def tasks_from_documents(
    docs: list[dict[str, Any]], *, job_params: list[dict[str, Any]], job_id: str
) -> list[CutoutTask]:
    """Rebuild a job's tasks, those stored before works by parsing ``job_params`` once.

    A job whose old tasks cannot be read again (nothing the service wrote)
    gets none: the sweep then publishes nothing and ends it in ERROR once
    its recoveries are spent, instead of every read of the job failing.
    """
    try:
        upgraded = upgrade_tasks(docs, job_params)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        log(logging.ERROR, "job tasks of the old form not readable", job_id=job_id, error=str(e))
        return []
    return [task_from_document(t) for t in upgraded]


def tasks_stored_bytes(
    tasks: Sequence[CutoutTask], parameters: Sequence[tuple[str, str]] = ()
) -> int:
    """Return the bytes Firestore counts for a job document's tasks and parameters.

    Its storage-size rules: a string is its UTF-8 bytes plus one, a number
    eight, a map the sizes of its keys and values. Compare with `MAX_TASKS_BYTES`.
    """
    docs = [task_document(t) for t in tasks]
    params = [{"name": name, "value": value} for name, value in parameters]
    return _stored_bytes(docs) + _stored_bytes(params)


def _stored_bytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode()) + 1
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float):
        return 8
    if isinstance(value, Mapping):
        return sum(_stored_bytes(str(k)) + _stored_bytes(v) for k, v in value.items())
    return sum(_stored_bytes(v) for v in value)


@dataclass(frozen=True, slots=True)
class Announcement:
    """Whether a job's end went out on the job-events topic, and who may send it.

    Attributes
    ----------
    finalized
        The end has been announced (true of jobs that have not ended, too).
    finalizing_until
        Until when the writer that ended the job holds the right to announce it.

    """

    finalized: bool = True
    finalizing_until: datetime | None = None

    @classmethod
    def due(cls, ended: datetime) -> Announcement:
        """Return the state of a job that ended at ``ended``: its writer announces it."""
        return cls(finalized=False, finalizing_until=ended + FINALIZE_LEASE)


@dataclass(frozen=True, slots=True)
class Recovery:
    """The sweep's take-overs of a stalled job: the last one, and how many."""

    recovered_at: datetime | None = None
    recoveries: int = 0


@dataclass(frozen=True, slots=True)
class BulkState:
    """What a bulk job keeps of its drop file.

    Attributes
    ----------
    published
        Every message of the job has been published.
    options
        The job-wide options (package, defaults of columns).
    drop_generation
        The generation of the drop file the job was made from.
    outputs_until
        Until when the worker that found the job complete holds the right to
        write its manifests and packages and end it (others leave it alone).

    """

    published: bool = True
    options: dict[str, str] = field(default_factory=dict)
    drop_generation: str = ""
    outputs_until: datetime | None = None


@dataclass(slots=True)
class JobRecord:
    """A job as stored: its UWS view plus what the worker needs to run it."""

    job: Job
    kind: JobKind = "soda"
    tasks: list[CutoutTask] = field(default_factory=list)
    response_format: str = "application/fits"
    announcement: Announcement = field(default_factory=Announcement)
    recovery: Recovery = field(default_factory=Recovery)
    bulk: BulkState = field(default_factory=BulkState)
    mosaic: MosaicState | None = None
    # the stored document's update time when this was read or written (not stored):
    # a compare-and-set change conditions on it instead of reading the job again
    revision: Any = field(default=None, compare=False)

    def to_document(self) -> dict[str, Any]:
        """Return the Firestore document of this job."""
        job = self.job
        return {
            "owner": job.owner,
            "phase": job.phase.value,
            "run_id": job.run_id,
            "creation_time": job.creation_time,
            "start_time": job.start_time,
            "end_time": job.end_time,
            "execution_duration": job.execution_duration,
            "destruction": job.destruction,
            "quote": job.quote,
            "parameters": [{"name": p.name, "value": p.value} for p in job.parameters],
            "error": None if job.error is None else error_document(job.error),
            "progress": (
                None
                if job.progress is None
                else {
                    "total": job.progress.total,
                    "done": job.progress.done,
                    "failed": job.progress.failed,
                }
            ),
            "kind": self.kind,
            "tasks": [task_document(t) for t in self.tasks],
            "response_format": self.response_format,
            # the state beside the UWS view, under one map (``extra.*`` in queries)
            "extra": {
                "finalized": self.announcement.finalized,
                "finalizing_until": self.announcement.finalizing_until,
                "recovered_at": self.recovery.recovered_at,
                "recoveries": self.recovery.recoveries,
                "published": self.bulk.published,
                "options": self.bulk.options,
                "drop_generation": self.bulk.drop_generation,
                "outputs_until": self.bulk.outputs_until,
            },
            "mosaic": None if self.mosaic is None else self.mosaic.to_document(),
        }

    @classmethod
    def from_document(cls, job_id: str, doc: dict[str, Any]) -> JobRecord:
        """Rebuild a record from its Firestore document."""
        error = doc.get("error")
        progress = doc.get("progress")
        extra = doc.get("extra") or {}
        job = Job(
            job_id=job_id,
            owner=doc.get("owner"),
            phase=ExecutionPhase(doc["phase"]),
            creation_time=doc["creation_time"],
            run_id=doc.get("run_id"),
            start_time=doc.get("start_time"),
            end_time=doc.get("end_time"),
            execution_duration=int(doc.get("execution_duration") or 0),
            destruction=doc.get("destruction"),
            quote=doc.get("quote"),
            parameters=[JobParameter(p["name"], p["value"]) for p in doc.get("parameters", [])],
            error=(
                None
                if not error
                else ErrorSummary(
                    message=error["message"],
                    error_type=error["type"],
                    label=error.get("label"),
                    status=error.get("status"),
                )
            ),
            progress=(
                None
                if not progress
                else Progress(
                    total=int(progress["total"]),
                    done=int(progress.get("done", 0)),
                    failed=int(progress.get("failed", 0)),
                )
            ),
        )
        return cls(
            job=job,
            kind=doc.get("kind", "soda"),
            tasks=tasks_from_documents(
                doc.get("tasks", []), job_params=doc.get("parameters", []), job_id=job_id
            ),
            response_format=doc.get("response_format", "application/fits"),
            announcement=Announcement(
                finalized=bool(extra.get("finalized", True)),
                finalizing_until=extra.get("finalizing_until"),
            ),
            recovery=Recovery(
                recovered_at=extra.get("recovered_at"),
                recoveries=int(extra.get("recoveries") or 0),
            ),
            bulk=BulkState(
                published=bool(extra.get("published", True)),
                options=dict(extra.get("options") or {}),
                drop_generation=str(extra.get("drop_generation") or ""),
                outputs_until=extra.get("outputs_until"),
            ),
            mosaic=None if not doc.get("mosaic") else MosaicState.from_document(doc["mosaic"]),
        )


def job_objects_prefix(job_id: str) -> str:
    """Return the folder of the results bucket holding every object of a job.

    Results, reports, manifests, packages and intermediates are all named
    under it, so destroying a job deletes the folder (`JobLifecycle.destroy`).
    """
    return f"jobs/{job_id}/"


def result_id_for(index: int) -> str:
    """Return the UWS result id of a job's ``index``-th cutout."""
    return f"cutout-{index:06d}"


@dataclass(frozen=True, slots=True)
class StoredResult:
    """One result of a job: a cutout in the results bucket, or why there is none."""

    result_id: str
    index: int
    status: ResultStatus
    bucket: str
    object_name: str
    mime_type: str
    size: int
    message: str | None = None
    label: str | None = None
    requests: int = 0
    bytes_read: int = 0
    created: datetime | None = None
    expires: datetime | None = None
    source_id: str | None = None
    query: str | None = None
    row: int | None = None
    source_generation: int | None = None
    error_label: str | None = None
    error_status: int | None = None
    found: FoundImage | None = None

    @property
    def line(self) -> int:
        """The bulk row the result comes from; its cutout's number in a job without rows."""
        return self.row if self.row is not None else self.index

    @property
    def error(self) -> ErrorSummary | None:
        """The result's error as a job keeps it (None if it has none)."""
        if self.status != "error":
            return None
        return ErrorSummary(
            message=self.message or "Error: the cutout failed",
            label=self.error_label,
            status=self.error_status,
        )

    def to_document(self) -> dict[str, Any]:
        """Return the Firestore document of this result."""
        return {
            "index": self.index,
            "status": self.status,
            "bucket": self.bucket,
            "object": self.object_name,
            "mime_type": self.mime_type,
            "size": self.size,
            "message": self.message,
            "label": self.label,
            "requests": self.requests,
            "bytes_read": self.bytes_read,
            "created": self.created,
            # Firestore's TTL policy on this field removes the document with its job.
            "destruction": self.expires,
            "source_id": self.source_id,
            "query": self.query,
            "row": self.row,
            "source_generation": self.source_generation,
            "error_label": self.error_label,
            "error_status": self.error_status,
            "found": None if self.found is None else self.found.model_dump(mode="json"),
        }

    @classmethod
    def from_document(cls, result_id: str, doc: dict[str, Any]) -> StoredResult:
        """Rebuild a result from its Firestore document."""
        return cls(
            result_id=result_id,
            index=int(doc["index"]),
            status=doc["status"],
            bucket=doc["bucket"],
            object_name=doc["object"],
            mime_type=doc["mime_type"],
            size=int(doc["size"]),
            message=doc.get("message"),
            label=doc.get("label"),
            requests=int(doc.get("requests", 0)),
            bytes_read=int(doc.get("bytes_read", 0)),
            created=doc.get("created"),
            expires=doc.get("destruction"),
            source_id=doc.get("source_id"),
            query=doc.get("query"),
            row=doc.get("row"),
            source_generation=doc.get("source_generation"),
            error_label=doc.get("error_label"),
            error_status=doc.get("error_status"),
            found=None if not doc.get("found") else FoundImage.model_validate(doc["found"]),
        )


def with_update(doc: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Return a job document with an update's fields set (dotted paths reach into maps)."""
    out = dict(doc)
    for path, value in update.items():
        *parents, leaf = path.split(".")
        target = out
        for name in parents:
            child = dict(target.get(name) or {})
            target[name] = child
            target = child
        target[leaf] = value
    return out


def destroyed(record: JobRecord) -> bool:
    """Return whether the job is past its destruction time (as good as gone)."""
    destruction = record.job.destruction
    return destruction is not None and destruction <= datetime.now(UTC)


def error_summary(error: SkycutError) -> ErrorSummary:
    """Return how a job keeps ``error``: its text, label, HTTP status and kind."""
    return ErrorSummary(
        message=error.to_text(),
        error_type=error.error_type,
        label=error.label,
        status=error.status_code,
    )


def error_document(error: ErrorSummary) -> dict[str, Any]:
    """Return a job's error as its document stores it: text, kind, label and HTTP status."""
    return {
        "message": error.message,
        "type": error.error_type,
        "label": error.label,
        "status": error.status,
    }
