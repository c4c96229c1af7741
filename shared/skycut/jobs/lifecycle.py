"""User-driven changes to a job's life: abort, delete, execution duration, destruction.

UWS lets the service override requested values (UWS §2.2.3.4-5); skycut
keeps them within its configured maxima and says so in the job document.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from skycut.errors import ConflictError, UsageError
from skycut.jobs.events import JobEvents
from skycut.jobs.records import JobRecord, job_objects_prefix
from skycut.jobs.store import ABORTABLE, JobStore

if TYPE_CHECKING:  # its module loads the storage client library
    from skycut.storage.gcs import ResultWriter

__all__ = ["JobLifecycle"]


class JobLifecycle:
    """Abort, delete and re-time jobs on behalf of their owners."""

    def __init__(
        self,
        *,
        store: JobStore,
        results: ResultWriter,
        events: JobEvents,
        execution_duration_seconds: int,
        destruction_days: float,
    ) -> None:
        self._store = store
        self._results = results
        self._events = events
        self._max_duration = execution_duration_seconds
        self._max_days = destruction_days

    def abort(self, job_id: str, *, owner: str) -> JobRecord:
        """Abort a job that has not finished and discard its partial results.

        Raises
        ------
        ConflictError
            If the job has already ended.

        """
        record = self._store.get_for(job_id, owner=owner)
        changed = self._store.abort(job_id)
        if changed is None:
            raise ConflictError(f"job {job_id} is {record.job.phase} and cannot be aborted")
        self.discard_results(job_id)
        self._events.announce_soon(changed)
        return changed

    def discard_results(self, job_id: str) -> None:
        """Delete a job's result documents and objects.

        Workers may still add some; they delete their own after seeing the job aborted.
        """
        removed = self._store.delete_results(job_id)
        self._results.delete([r.object_name for r in removed])

    def delete(self, job_id: str, *, owner: str) -> None:
        """Destroy a job of ``owner`` now (UWS DELETE)."""
        self.destroy(self._store.get_for(job_id, owner=owner))

    def destroy(self, record: JobRecord) -> None:
        """Destroy a job whoever owns it: abort it if running, delete its objects, forget it.

        Every object the job wrote is deleted, recorded as a result or not
        (a bulk job's found images, a mosaic's intermediates, a cutout written
        by a worker that then saw the job aborted), before the documents: a
        destruction cut short by storage leaves the job for the sweep to try again.
        """
        job_id = record.job.job_id
        if record.job.phase in ABORTABLE:
            self._store.abort(job_id)  # running workers see it and stop
        prefix = job_objects_prefix(job_id)
        self._results.delete_under(prefix)
        removed = self._store.delete(job_id)
        self._results.delete(
            [r.object_name for r in removed if not r.object_name.startswith(prefix)]
        )

    def set_execution_duration(self, job_id: str, *, owner: str, text: str) -> JobRecord:
        """Set the run time limit in seconds; 0 or more than the maximum means the maximum.

        Raises
        ------
        UsageError
            If the value is not a non-negative integer.
        ConflictError
            If the job has started.

        """
        try:
            seconds = int(text)
        except ValueError as e:
            raise UsageError("EXECUTIONDURATION must be a whole number of seconds") from e
        if seconds < 0:
            raise UsageError("EXECUTIONDURATION must not be negative")
        limit = self._max_duration
        seconds = limit if seconds == 0 else min(seconds, limit)
        self._store.get_for(job_id, owner=owner)
        return self._store.set_execution_duration(job_id, seconds)

    def set_destruction(self, job_id: str, *, owner: str, when: datetime) -> JobRecord:
        """Move the destruction time; it can be brought forward, not past the maximum.

        Raises
        ------
        UsageError
            If ``when`` has passed: UWS lets a service choose the time it keeps,
            and a time in the past is far more likely a typo than a wish to
            destroy the job at once, which DELETE is for.

        """
        record = self._store.get_for(job_id, owner=owner)
        if when <= datetime.now(UTC):
            shown = when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            raise UsageError(
                f"DESTRUCTION {shown} is in the past; give a later time "
                "(DELETE the job to destroy it now)"
            )
        latest = record.job.creation_time + timedelta(days=self._max_days)
        return self._store.set_destruction(job_id, min(when, latest))
