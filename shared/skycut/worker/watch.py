"""Stopping a running job: ABORT by its owner, or its execution duration running out.

The worker asks a :class:`JobWatch` before every source read (through
:class:`WatchedReader`) and between cutouts; the watch looks at the job
document at most once a second, so a long cutout stops within a read or
two of the ABORT while a stream of small ones costs one read per second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from skycut.cutout.reader import RangeReader, WrappingReader
from skycut.jobs.records import JobRecord, StoredResult
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.uws.model import ErrorSummary, ExecutionPhase

__all__ = ["JobStoppedError", "JobWatch", "WatchedReader"]

_CHECK_EVERY_SECONDS = 1.0


class JobStoppedError(Exception):
    """The job left EXECUTING (aborted, deleted, out of time) while it was running."""


class JobWatch:
    """Tells a worker whether the job it is running should go on."""

    def __init__(
        self,
        *,
        store: JobStore,
        record: JobRecord,
        on_end: Callable[[JobRecord], None] | None = None,
    ) -> None:
        self._store = store
        self._on_end = on_end
        self._job_id = record.job.job_id
        self._deadline = self._deadline_of(record)
        self._last = time.monotonic()
        self.stopped = False

    @staticmethod
    def _deadline_of(record: JobRecord) -> datetime | None:
        job = record.job
        if job.execution_duration <= 0:
            return None
        start = job.start_time or datetime.now(UTC)
        return start + timedelta(seconds=job.execution_duration)

    def check(self, *, force: bool = False) -> None:
        """Raise :class:`JobStoppedError` if the job must stop.

        A job past its execution duration is aborted here, with an error
        summary saying why (UWS §2.1.4).
        """
        if self.stopped:
            raise JobStoppedError(self._job_id)
        if self._deadline is not None and datetime.now(UTC) > self._deadline:
            ended = self._store.abort_running(
                self._job_id,
                ErrorSummary(
                    message="Error: the job ran past its execution duration and was aborted"
                ),
            )
            self.stopped = True
            if ended is not None and self._on_end is not None:
                self._on_end(ended)
            raise JobStoppedError(self._job_id)
        now = time.monotonic()
        if not force and now - self._last < _CHECK_EVERY_SECONDS:
            return
        self._last = now
        current = self._store.load(self._job_id, counts=False)
        if current is None or current.job.phase != ExecutionPhase.EXECUTING:
            self.stopped = True
            raise JobStoppedError(self._job_id)

    def undo_if_stopped(
        self, results: list[StoredResult], delete: Callable[[list[str]], None]
    ) -> None:
        """After recording ``results``: if an ABORT came meanwhile, remove them and stop.

        An ABORT may have deleted the job's results between the last check
        and the write; aborted jobs keep nothing. A job another delivery of
        this message ended keeps them: they are its own.

        Raises
        ------
        JobStoppedError
            If the job was aborted (or deleted): ``results`` are gone again.

        """
        try:
            self.check(force=True)
        except JobStoppedError:
            current = self._store.load(self._job_id, counts=False)
            if current is not None and current.job.phase in (
                ExecutionPhase.COMPLETED,
                ExecutionPhase.ERROR,
            ):
                return
            for result in results:
                self._store.delete_result(self._job_id, result.result_id)
            delete([r.object_name for r in results])
            raise

    def stopped_for(
        self, results: list[StoredResult], delete: Callable[[list[str]], None]
    ) -> bool:
        """Whether the job stopped under a message that could not end it (results undone)."""
        try:
            self.undo_if_stopped(results, delete)
        except JobStoppedError:
            log(logging.INFO, "job left EXECUTING; stopping", job_id=self._job_id)
            return True
        return False


class WatchedReader(WrappingReader):
    """A :class:`RangeReader` that asks the job's watch before each read."""

    def __init__(self, inner: RangeReader, watch: JobWatch) -> None:
        super().__init__(inner)
        self._watch = watch

    def read_range(self, start: int, stop: int) -> bytes:
        """Check the job, then read."""
        self._watch.check()
        return self._inner.read_range(start, stop)
