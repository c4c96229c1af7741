"""The job store in memory: the same primitives as Firestore's, for tests of the state machine.

Documents are kept in the form Firestore stores (`JobRecord.to_document`),
each with a revision that every write moves on, so compare-and-set changes,
duplicate deliveries and races behave as they do on Firestore, in
microseconds and without an emulator. The contract tests
(``tests/unit/test_job_store_contract.py``) run the same cases on both.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from skycut.errors import NotFoundError, ServiceUnavailableError
from skycut.jobs.primitives import MAX_ATTEMPTS, Decide
from skycut.jobs.records import JobRecord, StoredResult, destroyed, with_update
from skycut.jobs.store import JobStore
from skycut.uws.model import ExecutionPhase, Progress

__all__ = ["MemoryJobStore"]


class MemoryJobStore(JobStore):
    """Jobs, results and counts in dictionaries, safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._revisions = itertools.count(1)
        self._docs: dict[str, tuple[dict[str, Any], int]] = {}
        self._results: dict[str, dict[str, StoredResult]] = {}
        self._receipts: dict[str, dict[str, tuple[int, int]]] = {}
        self._counted_at: dict[str, datetime] = {}

    # -- reads -------------------------------------------------------------
    def _record(self, job_id: str, *, counts: bool) -> JobRecord | None:
        with self._lock:
            held = self._docs.get(job_id)
            if held is None:
                return None
            doc, revision = held
            record = JobRecord.from_document(job_id, doc)
            record.revision = revision
            receipts = list(self._receipts.get(job_id, {}).values())
        progress = record.job.progress
        if counts and progress is not None:
            record.job.progress = Progress(
                total=progress.total,
                done=progress.done + sum(d for d, _ in receipts),
                failed=progress.failed + sum(f for _, f in receipts),
            )
        return record

    def create(self, record: JobRecord) -> bool:
        """Store a new job; return False if a job with that id already exists."""
        with self._lock:
            if record.job.job_id in self._docs:
                return False
            self._docs[record.job.job_id] = (record.to_document(), next(self._revisions))
            self._lock.notify_all()
        return True

    def load(self, job_id: str, *, counts: bool = True) -> JobRecord | None:
        """Return the job, whoever owns it, or None."""
        return self._record(job_id, counts=counts)

    def list_for(
        self,
        *,
        owner: str | None,
        phases: Collection[ExecutionPhase] = (),
        after: datetime | None = None,
        last: int | None = None,
    ) -> list[JobRecord]:
        """Return the owner's jobs, newest first, filtered as UWS §2.2.2.1 says."""
        with self._lock:
            ids = list(self._docs)
        records = [r for r in (self._record(i, counts=True) for i in ids) if r is not None]
        records.sort(key=lambda r: r.job.creation_time, reverse=True)
        chosen = []
        for record in records:
            phase = record.job.phase
            if record.job.owner != owner or destroyed(record):
                continue
            if after is not None and record.job.creation_time <= after:
                continue
            if (phases and phase not in phases) or (
                not phases and phase == ExecutionPhase.ARCHIVED
            ):
                continue
            chosen.append(record)
            if last is not None and len(chosen) >= last:
                break
        return chosen

    def _all(self) -> list[JobRecord]:
        with self._lock:
            ids = list(self._docs)
        return [r for r in (self._record(i, counts=False) for i in ids) if r is not None]

    def active(self) -> list[JobRecord]:
        """Return every QUEUED or EXECUTING job."""
        running = (ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING)
        return [r for r in self._all() if r.job.phase in running]

    def unannounced(self) -> list[JobRecord]:
        """Return the ended jobs whose end has not been announced."""
        return [r for r in self._all() if not r.announcement.finalized]

    def expired(self, now: datetime) -> list[JobRecord]:
        """Return the jobs whose destruction time is ``now`` or earlier."""
        return [
            r for r in self._all() if r.job.destruction is not None and r.job.destruction <= now
        ]

    def wait(
        self,
        job_id: str,
        *,
        until: Callable[[JobRecord], bool],
        timeout: float,
        counts: bool = True,
    ) -> JobRecord | None:
        """Block until the job satisfies ``until`` or ``timeout`` seconds pass."""
        with self._lock:
            self._lock.wait_for(
                lambda: (r := self._record(job_id, counts=False)) is None or until(r),
                timeout=timeout,
            )
        return self._record(job_id, counts=counts)

    # -- writes ------------------------------------------------------------
    def change(
        self, job_id: str, decide: Decide, *, seen: JobRecord | None = None
    ) -> JobRecord | None:
        """Apply ``decide``'s fields atomically (see `JobStore.change`)."""
        known = seen if seen is not None and seen.revision is not None else None
        for _ in range(MAX_ATTEMPTS):
            if known is not None:
                doc, revision = known.to_document(), known.revision
            else:
                with self._lock:
                    held = self._docs.get(job_id)
                    if held is None:
                        raise NotFoundError(f"no job {job_id!r}")
                    doc, revision = held
            update = decide(JobRecord.from_document(job_id, doc))
            if update is None and known is not None:
                known = None  # the caller's copy may be out of date: decide on the stored job
                continue
            known = None
            if update is None:
                return None
            with self._lock:
                held = self._docs.get(job_id)
                if held is None or held[1] != revision:
                    continue
                return self._replace(job_id, with_update(held[0], update))
        raise ServiceUnavailableError(f"job {job_id} changed under {MAX_ATTEMPTS} attempts")

    def _set(self, job_id: str, fields: dict[str, Any]) -> None:
        with self._lock:
            held = self._docs.get(job_id)
            if held is None:
                raise NotFoundError(f"no job {job_id!r}")
            self._replace(job_id, with_update(held[0], fields))

    def delete(self, job_id: str) -> list[StoredResult]:
        """Forget a job, its results and counts; return the results it had."""
        with self._lock:
            self._docs.pop(job_id, None)
            self._receipts.pop(job_id, None)
            self._counted_at.pop(job_id, None)
            removed = list(self._results.pop(job_id, {}).values())
            self._lock.notify_all()
        return removed

    # -- results and counts ------------------------------------------------
    def load_with_results(
        self, job_id: str, result_ids: Iterable[str]
    ) -> tuple[JobRecord | None, dict[str, StoredResult]]:
        """Return the job (without counts) and those of ``result_ids`` recorded."""
        with self._lock:
            stored = self._results.get(job_id, {})
            found = {rid: stored[rid] for rid in result_ids if rid in stored}
            return self._record(job_id, counts=False), found

    def _store_new(self, job_id: str, results: list[StoredResult]) -> None:
        stored = self._results.setdefault(job_id, {})
        for result in results:
            stored.setdefault(result.result_id, result)

    def _count(self, job_id: str, batch_id: str, done: int, failed: int) -> None:
        receipts = self._receipts.setdefault(job_id, {})
        if batch_id not in receipts:
            receipts[batch_id] = (done, failed)
            self._counted_at[job_id] = datetime.now(UTC)

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
        with self._lock:
            self._store_new(job_id, results)
            self._count(job_id, batch_id, done, failed)
            self._lock.notify_all()

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
        job_id = seen.job.job_id
        with self._lock:
            held = self._docs.get(job_id)
            stored = self._results.get(job_id, {})
            if (
                held is None
                or held[1] != seen.revision
                or any(r.result_id in stored for r in results)
                or batch_id in self._receipts.get(job_id, {})
            ):
                return None
            self._store_new(job_id, results)
            self._count(job_id, batch_id, done, failed)
            return self._replace(job_id, with_update(held[0], end))

    def _replace(self, job_id: str, doc: dict[str, Any]) -> JobRecord:
        """Store ``doc`` as the job's new revision (the lock held); return the job."""
        revision = next(self._revisions)
        self._docs[job_id] = (doc, revision)
        self._lock.notify_all()
        record = JobRecord.from_document(job_id, doc)
        record.revision = revision
        return record

    def counted_batches(self, job_id: str, batch_ids: Iterable[str]) -> set[str]:
        """Return those of ``batch_ids`` whose results have been counted."""
        with self._lock:
            receipts = self._receipts.get(job_id, {})
            return {b for b in batch_ids if b in receipts}

    def last_counted(self, job_id: str) -> datetime | None:
        """Return when a message of the job was last counted (None if never)."""
        with self._lock:
            return self._counted_at.get(job_id)

    def attach_result(self, job_id: str, result: StoredResult) -> None:
        """Store a result that is not a cutout; nothing is counted."""
        with self._lock:
            self._results.setdefault(job_id, {})[result.result_id] = result

    def result(self, job_id: str, result_id: str) -> StoredResult | None:
        """Return one of the job's results, if it is recorded."""
        with self._lock:
            return self._results.get(job_id, {}).get(result_id)

    def results(self, job_id: str) -> list[StoredResult]:
        """Return the job's results in task order."""
        with self._lock:
            return sorted(self._results.get(job_id, {}).values(), key=lambda r: r.index)

    def delete_results(self, job_id: str) -> list[StoredResult]:
        """Remove every result of a job; return what was removed."""
        with self._lock:
            return list(self._results.pop(job_id, {}).values())

    def delete_result(self, job_id: str, result_id: str) -> None:
        """Remove one result."""
        with self._lock:
            self._results.get(job_id, {}).pop(result_id, None)
