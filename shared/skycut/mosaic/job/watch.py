"""Whether a mosaic job's worker should go on: ABORT, DELETE and the execution duration.

Checked before each unit's reads and before anything is stored or counted;
the job document is read at most once a second unless the check is forced,
as the cutout worker's watch does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from skycut.jobs.records import JobRecord
from skycut.jobs.store import JobStore
from skycut.uws.model import ErrorSummary, ExecutionPhase

__all__ = ["MosaicStoppedError", "MosaicWatch"]

_CHECK_EVERY_SECONDS = 1.0


class MosaicStoppedError(Exception):
    """The job left EXECUTING (aborted, deleted, out of time, failed) while a unit ran."""


class MosaicWatch:
    """Raises `MosaicStoppedError` once the job must stop.

    Parameters
    ----------
    store
        The job store.
    record
        The job as the worker started on it (EXECUTING).
    on_end
        Announces a job this watch aborts for its execution duration.

    """

    def __init__(
        self, *, store: JobStore, record: JobRecord, on_end: Callable[[JobRecord], None]
    ) -> None:
        self._store = store
        self._on_end = on_end
        self._job_id = record.job.job_id
        job = record.job
        start = job.start_time or datetime.now(UTC)
        self._deadline = (
            start + timedelta(seconds=job.execution_duration)
            if job.execution_duration > 0
            else None
        )
        self._last = time.monotonic()

    def __call__(self) -> None:
        """Check, reading the job at most once a second."""
        self.check()

    def check(self, *, force: bool = False) -> None:
        """Raise `MosaicStoppedError` if the job must stop; abort it if out of time (UWS §2.1.4)."""
        if self._deadline is not None and datetime.now(UTC) > self._deadline:
            ended = self._store.abort_running(
                self._job_id,
                ErrorSummary(
                    message="Error: the job ran past its execution duration and was aborted"
                ),
            )
            if ended is not None:
                self._on_end(ended)
            raise MosaicStoppedError(self._job_id)
        now = time.monotonic()
        if not force and now - self._last < _CHECK_EVERY_SECONDS:
            return
        self._last = now
        current = self._store.load(self._job_id, counts=False)
        if current is None or current.job.phase != ExecutionPhase.EXECUTING:
            raise MosaicStoppedError(self._job_id)
