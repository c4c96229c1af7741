"""The job store on Firestore: the primitives of `skycut.jobs.store.JobStore`.

Phase changes are compare-and-set writes (conditional on the document's
update time, retried after re-reading it), so two writers (an ABORT and a
worker finishing, or two deliveries of one message) can never both win.
Progress counters use atomic increments, never a read-modify-write on the
hot job document.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from skycut.errors import NotFoundError, ServiceUnavailableError
from skycut.jobs.primitives import MAX_ATTEMPTS
from skycut.jobs.progress import ProgressCounter
from skycut.jobs.records import JobRecord, StoredResult, destroyed, with_update
from skycut.jobs.store import JobStore
from skycut.uws.model import ExecutionPhase, Progress

__all__ = ["FirestoreJobStore"]

_RESULTS = "results"
_MAX_BATCH = 400  # Firestore allows 500 writes per batch


class FirestoreJobStore(JobStore):
    """Jobs as documents of a collection, results and progress in sub-collections."""

    def __init__(self, *, client: firestore.Client, collection: str) -> None:
        self._client = client
        self._jobs = client.collection(collection)
        self._progress = ProgressCounter(client=client, jobs=self._jobs)

    # -- creation and reads ------------------------------------------------
    def create(self, record: JobRecord) -> bool:
        """Store a new job; return False if a job with that id already exists."""
        try:
            self._jobs.document(record.job.job_id).create(record.to_document())
        except gexc.AlreadyExists:
            return False
        return True

    def load(self, job_id: str, *, counts: bool = True) -> JobRecord | None:
        """Return the job, whoever owns it, or None.

        Its progress includes the counted cutouts (a sum over the counter
        shards: one more query) unless ``counts`` is False.
        """
        snap = self._jobs.document(job_id).get()
        if not snap.exists:
            return None
        record = JobRecord.from_document(job_id, snap.to_dict() or {})
        record.revision = snap.update_time
        return self._with_counts(record) if counts else record

    def _with_counts(self, record: JobRecord) -> JobRecord:
        progress = record.job.progress
        if progress is not None:
            done, failed = self._progress.counts(record.job.job_id)
            record.job.progress = Progress(
                total=progress.total, done=progress.done + done, failed=progress.failed + failed
            )
        return record

    def list_for(
        self,
        *,
        owner: str | None,
        phases: Collection[ExecutionPhase] = (),
        after: datetime | None = None,
        last: int | None = None,
    ) -> list[JobRecord]:
        """Return the owner's jobs, newest first, filtered as UWS §2.2.2.1 says."""
        query: Any = self._jobs.where(filter=firestore.FieldFilter("owner", "==", owner))
        if after is not None:
            query = query.where(filter=firestore.FieldFilter("creation_time", ">", after))
        query = query.order_by("creation_time", direction=firestore.Query.DESCENDING)
        records = []
        for snap in query.stream():
            record = JobRecord.from_document(snap.id, snap.to_dict() or {})
            phase = record.job.phase
            if destroyed(record):
                continue  # Firestore's TTL deletes it within a day; it is gone already
            if phases and phase not in phases:
                continue
            if not phases and phase == ExecutionPhase.ARCHIVED:
                continue
            records.append(record)
            if last is not None and len(records) >= last:
                break
        return records

    # -- changes -----------------------------------------------------------
    def change(
        self,
        job_id: str,
        decide: Callable[[JobRecord], dict[str, Any] | None],
        *,
        seen: JobRecord | None = None,
    ) -> JobRecord | None:
        """Apply the fields ``decide`` returns for the job as it is now, atomically.

        ``decide`` sees the job as last read and returns the fields to set
        (``phase`` among them, as a string; dotted paths for nested fields)
        or None to leave it alone. The write is conditional on the document
        not having changed since that read (its update time), and on a
        conflict the job is read and ``decide`` asked again: a compare-and-set,
        so two writers can never both win, without holding a lock while
        deciding (contended transactions queue on their locks).

        ``seen``, the job as the caller last read or wrote it (with its
        ``revision``), saves the first read: the write is conditional on it
        still being current, and the job is read only if it is not.

        Returns
        -------
        JobRecord or None
            The job after the change, or None if no change was made.

        Raises
        ------
        NotFoundError
            If the job does not exist.
        ServiceUnavailableError
            If the job kept changing under every attempt.

        """
        ref = self._jobs.document(job_id)
        known = seen if seen is not None and seen.revision is not None else None
        for _ in range(MAX_ATTEMPTS):
            if known is not None:
                doc, revision = known.to_document(), known.revision
            else:
                snap = ref.get()
                if not snap.exists:
                    raise NotFoundError(f"no job {job_id!r}")
                doc, revision = snap.to_dict() or {}, snap.update_time
            update = decide(JobRecord.from_document(job_id, doc))
            if update is None and known is not None:
                known = None  # what the caller saw may be out of date: decide on the job as it is
                continue
            if update is None:
                return None
            known = None
            try:
                written = ref.update(
                    update, option=self._client.write_option(last_update_time=revision)
                )
            except (gexc.FailedPrecondition, gexc.NotFound):
                continue  # someone else changed (or deleted) it since: read it and decide again
            changed = JobRecord.from_document(job_id, with_update(doc, update))
            changed.revision = written.update_time
            return changed
        raise ServiceUnavailableError(f"job {job_id} changed under {MAX_ATTEMPTS} attempts")

    def _set(self, job_id: str, fields: dict[str, Any]) -> None:
        """Set fields of a job unconditionally."""
        self._jobs.document(job_id).update(fields)

    def delete(self, job_id: str) -> list[StoredResult]:
        """Forget a job and its result documents; return the results it had."""
        removed = self.delete_results(job_id)
        self._progress.delete(job_id)
        self._jobs.document(job_id).delete()
        return removed

    def delete_results(self, job_id: str) -> list[StoredResult]:
        """Remove every result document of a job; return what was removed."""
        removed = []
        for snap in self._jobs.document(job_id).collection(_RESULTS).stream():
            removed.append(StoredResult.from_document(snap.id, snap.to_dict() or {}))
            snap.reference.delete()
        return removed

    def delete_result(self, job_id: str, result_id: str) -> None:
        """Remove one result document."""
        self._jobs.document(job_id).collection(_RESULTS).document(result_id).delete()

    # -- results -----------------------------------------------------------
    def record_result(self, job_id: str, result: StoredResult) -> bool:
        """Store a result once; count it with :meth:`count`.

        Returns
        -------
        bool
            False if this result was already recorded (a duplicate delivery),
            which must then not be counted again.

        """
        ref = self._jobs.document(job_id)
        try:
            ref.collection(_RESULTS).document(result.result_id).create(result.to_document())
        except gexc.AlreadyExists:
            return False
        return True

    def record_results(self, job_id: str, results: list[StoredResult]) -> None:
        """Store a message's new results in one atomic write.

        If another delivery stored some of them meanwhile (the batch's
        creates then fail together), each is stored on its own instead, the
        existing ones left as they are.
        """
        for start in range(0, len(results), _MAX_BATCH):
            chunk = results[start : start + _MAX_BATCH]
            batch = self._results_batch(job_id, chunk)
            try:
                batch.commit()
            except gexc.AlreadyExists:
                for result in chunk:
                    self.record_result(job_id, result)

    def _results_batch(self, job_id: str, results: list[StoredResult]) -> Any:
        """Return a write batch creating ``results`` (it fails whole if one exists)."""
        collection = self._jobs.document(job_id).collection(_RESULTS)
        batch = self._client.batch()
        for result in results:
            batch.create(collection.document(result.result_id), result.to_document())
        return batch

    def _counted_results_batch(
        self,
        job_id: str,
        results: list[StoredResult],
        batch_id: str,
        *,
        done: int,
        failed: int,
        expires: datetime | None,
    ) -> Any:
        """Return a write batch creating ``results`` and counting their message once."""
        batch = self._results_batch(job_id, results)
        self._progress.add_to(batch, job_id, batch_id, done=done, failed=failed, expires=expires)
        return batch

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
        """Store a message's new results and count the message, in one atomic write.

        The usual case: nothing of the message was stored before. If some
        of it was (another delivery got there first, or the message is too
        big for one write), results are stored and the message counted as
        by `record_results` then `count_batch`, each result and the count
        still once.
        """
        if len(results) <= _MAX_BATCH:
            batch = self._counted_results_batch(
                job_id, results, batch_id, done=done, failed=failed, expires=expires
            )
            try:
                batch.commit()
                return
            except gexc.AlreadyExists:
                pass  # some of it exists: store what is missing one step at a time
        self.record_results(job_id, results)
        self.count_batch(job_id, batch_id, done=done, failed=failed, expires=expires)

    def count_batch(
        self,
        job_id: str,
        batch_id: str,
        *,
        done: int,
        failed: int,
        expires: datetime | None = None,
    ) -> bool:
        """Add a message's results to the job's progress, once per message (sharded)."""
        return self._progress.add_once(job_id, batch_id, done=done, failed=failed, expires=expires)

    def last_counted(self, job_id: str) -> datetime | None:
        """Return when a message of the job was last counted (None if never)."""
        return self._progress.last_counted(job_id)

    def counted_batches(self, job_id: str, batch_ids: Iterable[str]) -> set[str]:
        """Return those of ``batch_ids`` whose results have been counted."""
        return self._progress.counted(job_id, batch_ids)

    def active(self) -> list[JobRecord]:
        """Return every QUEUED or EXECUTING job (the sweep's candidates)."""
        query: Any = self._jobs.where(
            filter=firestore.FieldFilter(
                "phase", "in", [ExecutionPhase.QUEUED.value, ExecutionPhase.EXECUTING.value]
            )
        )
        return [JobRecord.from_document(s.id, s.to_dict() or {}) for s in query.stream()]

    def unannounced(self) -> list[JobRecord]:
        """Return the ended jobs whose end has not been announced on the job-events topic."""
        query: Any = self._jobs.where(filter=firestore.FieldFilter("extra.finalized", "==", False))
        return [JobRecord.from_document(s.id, s.to_dict() or {}) for s in query.stream()]

    def expired(self, now: datetime) -> list[JobRecord]:
        """Return the jobs whose destruction time is ``now`` or earlier (the sweep destroys them).

        Firestore's TTL policy on the field deletes them too, but only within a
        day or so, and it cannot reach their objects in Cloud Storage.
        """
        query: Any = self._jobs.where(filter=firestore.FieldFilter("destruction", "<=", now))
        return [JobRecord.from_document(s.id, s.to_dict() or {}) for s in query.stream()]

    def progress(self, job_id: str) -> tuple[int, int]:
        """Return the job's counted ``(done, failed)``."""
        return self._progress.counts(job_id)

    def load_with_results(
        self, job_id: str, result_ids: Iterable[str]
    ) -> tuple[JobRecord | None, dict[str, StoredResult]]:
        """Return the job (without counts) and those of ``result_ids`` recorded, in one read."""
        job_ref = self._jobs.document(job_id)
        results = job_ref.collection(_RESULTS)
        refs = [job_ref] + [results.document(rid) for rid in result_ids]
        record, found = None, {}
        for snap in self._client.get_all(refs):
            if not snap.exists:
                continue
            if snap.reference.path == job_ref.path:
                record = JobRecord.from_document(job_id, snap.to_dict() or {})
                record.revision = snap.update_time
            else:
                found[snap.id] = StoredResult.from_document(snap.id, snap.to_dict() or {})
        return record, found

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
        """Store a whole job's results, count them and end it, in one atomic write.

        The write is conditional on the job being as ``seen`` (its
        ``revision``) and on none of it being stored before; if either fails
        nothing is written and None is returned: the caller then records and
        ends the job step by step.
        """
        if seen.revision is None or len(results) > _MAX_BATCH - 3:
            return None
        job_id = seen.job.job_id
        batch = self._counted_results_batch(
            job_id, results, batch_id, done=done, failed=failed, expires=seen.job.destruction
        )
        batch.update(
            self._jobs.document(job_id),
            end,
            option=self._client.write_option(last_update_time=seen.revision),
        )
        try:
            written = batch.commit()
        except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound):
            return None
        ended = JobRecord.from_document(job_id, with_update(seen.to_document(), end))
        ended.revision = written[-1].update_time
        return ended

    def result(self, job_id: str, result_id: str) -> StoredResult | None:
        """Return one of the job's results, if it is recorded."""
        snap = self._jobs.document(job_id).collection(_RESULTS).document(result_id).get()
        if not snap.exists:
            return None
        return StoredResult.from_document(snap.id, snap.to_dict() or {})

    def attach_result(self, job_id: str, result: StoredResult) -> None:
        """Store a result that is not a cutout (e.g. a report); progress is not counted."""
        self._jobs.document(job_id).collection(_RESULTS).document(result.result_id).set(
            result.to_document()
        )

    def results(self, job_id: str) -> list[StoredResult]:
        """Return the job's results in task order."""
        snaps: Iterable[Any] = (
            self._jobs.document(job_id).collection(_RESULTS).order_by("index").stream()
        )
        return [StoredResult.from_document(s.id, s.to_dict() or {}) for s in snaps]

    # -- waiting -----------------------------------------------------------
    def wait(
        self,
        job_id: str,
        *,
        until: Callable[[JobRecord], bool],
        timeout: float,
        counts: bool = True,
    ) -> JobRecord | None:
        """Block until the job satisfies ``until`` or ``timeout`` seconds pass.

        A Firestore listener delivers each change of the job document, so no
        polling loop runs while waiting. The progress counted so far is added
        (one more query) unless ``counts`` is False.

        Returns
        -------
        JobRecord or None
            The job as last seen (or None if it disappeared).

        """
        done = threading.Event()
        latest: list[JobRecord | None] = [None]

        def on_change(snapshots: list[Any], _changes: Any, _read_time: Any) -> None:
            for snap in snapshots:
                latest[0] = (
                    JobRecord.from_document(job_id, snap.to_dict() or {}) if snap.exists else None
                )
            record = latest[0]
            if record is None or until(record):
                done.set()

        watch = self._jobs.document(job_id).on_snapshot(on_change)
        try:
            done.wait(timeout)
        finally:
            watch.unsubscribe()  # type: ignore[no-untyped-call]
        record = latest[0]
        return self._with_counts(record) if record is not None and counts else record
