"""What every job store implementation provides: reads, one compare-and-set write, results.

`skycut.jobs.store.JobStore` builds every named change of a job on these;
`FirestoreJobStore` and `MemoryJobStore` implement them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Any

from skycut.jobs.records import JobRecord, StoredResult
from skycut.uws.model import ExecutionPhase

__all__ = ["MAX_ATTEMPTS", "Decide", "JobStorage"]

MAX_ATTEMPTS = 20
"""Compare-and-set rounds of one change before it gives up (ServiceUnavailable)."""

Decide = Callable[[JobRecord], dict[str, Any] | None]
"""Given the job as it is, the fields to set (None: leave it alone)."""


class JobStorage(ABC):
    """The primitives a job store implements."""

    # -- primitives: reads -------------------------------------------------
    @abstractmethod
    def create(self, record: JobRecord) -> bool:
        """Store a new job; return False if a job with that id already exists."""

    @abstractmethod
    def load(self, job_id: str, *, counts: bool = True) -> JobRecord | None:
        """Return the job, whoever owns it, or None (progress counted unless ``counts=False``)."""

    @abstractmethod
    def list_for(
        self,
        *,
        owner: str | None,
        phases: Collection[ExecutionPhase] = (),
        after: datetime | None = None,
        last: int | None = None,
    ) -> list[JobRecord]:
        """Return the owner's jobs, newest first, filtered as UWS §2.2.2.1 says."""

    @abstractmethod
    def active(self) -> list[JobRecord]:
        """Return every QUEUED or EXECUTING job (the sweep's candidates)."""

    @abstractmethod
    def unannounced(self) -> list[JobRecord]:
        """Return the ended jobs whose end has not been announced on the job-events topic."""

    @abstractmethod
    def expired(self, now: datetime) -> list[JobRecord]:
        """Return the jobs whose destruction time is ``now`` or earlier, whatever their phase."""

    @abstractmethod
    def wait(
        self,
        job_id: str,
        *,
        until: Callable[[JobRecord], bool],
        timeout: float,
        counts: bool = True,
    ) -> JobRecord | None:
        """Block until the job satisfies ``until`` or ``timeout`` seconds pass; return it."""

    # -- primitives: writes ------------------------------------------------
    @abstractmethod
    def change(
        self, job_id: str, decide: Decide, *, seen: JobRecord | None = None
    ) -> JobRecord | None:
        """Apply the fields ``decide`` returns for the job as it is now, atomically.

        A compare-and-set: the write is conditional on the job not having
        changed since it was read (or since ``seen``, the caller's copy with
        its ``revision``, which saves the read); on a conflict the job is read
        and ``decide`` asked again. Returns the job after the change, or None
        if ``decide`` made none.

        Raises
        ------
        NotFoundError
            If the job does not exist.
        ServiceUnavailableError
            If the job kept changing under every attempt.

        """

    @abstractmethod
    def _set(self, job_id: str, fields: dict[str, Any]) -> None:
        """Set fields unconditionally (only for marks no race can undo)."""

    @abstractmethod
    def delete(self, job_id: str) -> list[StoredResult]:
        """Forget a job, its results and counts; return the results it had."""

    # -- primitives: results and counts ------------------------------------
    @abstractmethod
    def load_with_results(
        self, job_id: str, result_ids: Iterable[str]
    ) -> tuple[JobRecord | None, dict[str, StoredResult]]:
        """Return the job (without counts) and those of ``result_ids`` recorded, in one read."""

    @abstractmethod
    def record_and_count(
        self,
        job_id: str,
        results: list[StoredResult],
        batch_id: str,
        *,
        done: int,
        failed: int,
        expires: datetime | None = None,
    ) -> None:
        """Store a message's new results and count the message, each once."""

    @abstractmethod
    def _end_with_results(
        self,
        seen: JobRecord,
        results: list[StoredResult],
        batch_id: str,
        *,
        done: int,
        failed: int,
        end: dict[str, Any],
    ) -> JobRecord | None:
        """Store results, count them and apply ``end``, in one write conditional on ``seen``."""

    @abstractmethod
    def counted_batches(self, job_id: str, batch_ids: Iterable[str]) -> set[str]:
        """Return those of ``batch_ids`` whose results have been counted."""

    @abstractmethod
    def last_counted(self, job_id: str) -> datetime | None:
        """Return when a message of the job was last counted (None if never)."""

    @abstractmethod
    def attach_result(self, job_id: str, result: StoredResult) -> None:
        """Store a result that is not a cutout (a report, a manifest); nothing is counted."""

    @abstractmethod
    def result(self, job_id: str, result_id: str) -> StoredResult | None:
        """Return one of the job's results, if it is recorded."""

    @abstractmethod
    def results(self, job_id: str) -> list[StoredResult]:
        """Return the job's results in task order."""

    @abstractmethod
    def delete_results(self, job_id: str) -> list[StoredResult]:
        """Remove every result document of a job; return what was removed."""

    @abstractmethod
    def delete_result(self, job_id: str, result_id: str) -> None:
        """Remove one result document."""
