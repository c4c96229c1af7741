"""The API's side of mosaic jobs: created, planned and queued, listed, waited for.

A job is created from a parsed `MosaicRequest` (parsed once; its
``to_dict`` is what the job keeps). Running it (``PHASE=RUN`` at creation or
later) plans it (`MosaicPlanner`): a request that cannot run is refused with
its `UsageError` and nothing is queued (nothing is stored at all when the
job was to run at creation). The plan goes into the job document with the
job QUEUED, then the first stage's messages are published.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from skycut.errors import ConflictError, ServiceUnavailableError
from skycut.jobs.events import JobEvents
from skycut.jobs.records import JobKind, JobRecord, StoredResult, error_summary
from skycut.jobs.service_state import ServiceState, refuse_if_draining
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.mosaic.job.planning import MosaicPlanner
from skycut.mosaic.job.queue import MosaicQueue, stage_units
from skycut.mosaic.request import MosaicRequest
from skycut.uws.model import ACTIVE_PHASES, ExecutionPhase, Job, JobParameter, Progress

__all__ = ["MOSAIC_KINDS", "MosaicJobs"]

MOSAIC_KINDS: frozenset[JobKind] = frozenset({"mosaic"})


class MosaicJobs:
    """Mosaic jobs over the job store and the mosaic queue.

    Parameters
    ----------
    store
        The job store.
    queue
        Where a job's stages are published.
    events
        Where the end of a job whose messages could not be published is announced.
    planner
        Plans a job when it is to run.
    service_state
        The drain switch.
    execution_duration_seconds, destruction_days
        Jobs' defaults (and maxima).

    """

    def __init__(
        self,
        *,
        store: JobStore,
        queue: MosaicQueue,
        events: JobEvents,
        planner: MosaicPlanner,
        service_state: ServiceState,
        execution_duration_seconds: int,
        destruction_days: float,
    ) -> None:
        self._store = store
        self._queue = queue
        self._events = events
        self._planner = planner
        self._service_state = service_state
        self._duration = execution_duration_seconds
        self._days = destruction_days

    def refuse_if_draining(self) -> None:
        """Refuse new work while operators drain the service (`ServiceUnavailableError`)."""
        refuse_if_draining(self._service_state.status())

    def create_job(
        self,
        request: MosaicRequest,
        pairs: Sequence[tuple[str, str]],
        *,
        owner: str,
        run: bool = False,
    ) -> JobRecord:
        """Create a mosaic job: PENDING, or with ``run`` planned, QUEUED and published.

        Raises
        ------
        skycut.errors.UsageError
            If ``run`` and the request cannot run (nothing is stored then).

        """
        self.refuse_if_draining()
        state = self._planner.plan(request) if run else self._planner.pending(request)
        now = datetime.now(UTC)
        job = Job(
            job_id=uuid.uuid4().hex,
            owner=owner,
            phase=ExecutionPhase.QUEUED if run else ExecutionPhase.PENDING,
            creation_time=now,
            run_id=request.run_id,
            execution_duration=self._duration,
            destruction=now + timedelta(days=self._days),
            parameters=[JobParameter(name, value) for name, value in pairs],
            progress=Progress(total=state.total) if run else None,
        )
        record = JobRecord(
            job=job, kind="mosaic", response_format=request.response_format, mosaic=state
        )
        self._store.create(record)
        if run:
            self._publish(record)
        return record

    def run(self, job_id: str, *, owner: str) -> JobRecord:
        """Plan and queue a PENDING job (PHASE=RUN); RUN on a running job changes nothing.

        Raises
        ------
        ConflictError
            If the job has ended (a job runs once).
        skycut.errors.UsageError
            If the request cannot run; the job stays PENDING.

        """
        record = self.job(job_id, owner=owner)
        if record.job.phase in (ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING):
            return record
        if record.job.phase != ExecutionPhase.PENDING or record.mosaic is None:
            raise _not_pending(record)
        state = self._planner.plan(MosaicRequest.from_dict(record.mosaic.request))
        queued = self._store.queue_mosaic(job_id, state=state, quote=None)
        if queued is None:  # its phase changed meanwhile (a concurrent RUN, ABORT...)
            current = self.job(job_id, owner=owner)
            if current.job.phase in (ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING):
                return current
            raise _not_pending(current)
        self._publish(queued)
        return queued

    def _publish(self, record: JobRecord) -> None:
        """Publish a QUEUED job's first stage; a queue that cannot be reached ends it in ERROR."""
        job_id, state = record.job.job_id, record.mosaic
        assert state is not None
        try:
            messages = self._queue.publish(job_id, state.stage, stage_units(state))
        except Exception as e:
            error = ServiceUnavailableError("the mosaic queue could not be reached")
            ended = self._store.fail_unqueued(job_id, error_summary(error))
            if ended is not None:
                self._events.announce_soon(ended)
            raise error from e
        self._store.mark_mosaic_published(job_id, state.stage)
        log(
            logging.INFO,
            "mosaic job queued",
            job_id=job_id,
            inputs=len(state.inputs),
            tasks=len(state.tasks),
            tiles=len(state.tiles),
            messages=messages,
        )

    def set_request(
        self,
        record: JobRecord,
        request: MosaicRequest,
        parameters: Sequence[tuple[str, str]],
        *,
        owner: str,
    ) -> None:
        """Replace a PENDING job's request and parameters (POST to its parameters)."""
        self._store.set_mosaic_request(
            record.job.job_id,
            owner=owner,
            state=self._planner.pending(request),
            parameters=[JobParameter(n, v) for n, v in parameters],
        )

    def job(self, job_id: str, *, owner: str) -> JobRecord:
        """Return the caller's mosaic job (others' jobs, and cutout jobs, are not found)."""
        return self._store.get_for(job_id, owner=owner, kinds=MOSAIC_KINDS)

    def jobs(
        self,
        *,
        owner: str,
        phases: Collection[ExecutionPhase],
        after: datetime | None,
        last: int | None,
    ) -> list[JobRecord]:
        """Return the caller's mosaic jobs, newest first, filtered as UWS §2.2.2.1 says."""
        return self._store.list_kinds_for(
            owner=owner, kinds=MOSAIC_KINDS, phases=phases, after=after, last=last
        )

    def results(self, job_id: str) -> list[StoredResult]:
        """Return a job's stored results."""
        return self._store.results(job_id)

    def result(self, job_id: str, result_id: str) -> StoredResult | None:
        """Return one of a job's stored results, if it is recorded."""
        return self._store.result(job_id, result_id)

    def wait(self, record: JobRecord, *, seconds: float, phase: ExecutionPhase | None) -> JobRecord:
        """Block (UWS WAIT) while the job stays in its phase, up to ``seconds``."""
        start_phase = record.job.phase
        if start_phase not in ACTIVE_PHASES or (phase is not None and phase != start_phase):
            return record
        latest = self._store.wait(
            record.job.job_id, until=lambda r: r.job.phase != start_phase, timeout=seconds
        )
        return latest or record


def _not_pending(record: JobRecord) -> ConflictError:
    return ConflictError(
        f"job {record.job.job_id} is {record.job.phase}; only PENDING jobs can run"
    )
