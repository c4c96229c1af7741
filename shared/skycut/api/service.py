"""What the SODA API does, independent of HTTP: jobs created, run, waited for."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from skycut.config import Settings
from skycut.errors import (
    ConflictError,
    ServiceUnavailableError,
    UsageError,
)
from skycut.jobs.events import JobEvents
from skycut.jobs.messages import CutoutTask
from skycut.jobs.queue import JobQueue
from skycut.jobs.records import (
    MAX_TASKS_BYTES,
    JobKind,
    JobRecord,
    StoredResult,
    error_summary,
    result_id_for,
    tasks_stored_bytes,
)
from skycut.jobs.service_state import ServiceState, refuse_if_draining
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.sia.covering import CoveringImages, covered_works, found_image
from skycut.soda.params import SodaRequest, group_params, parse_soda_request
from skycut.soda.work import works_of
from skycut.timing import Steps
from skycut.uws.model import (
    ACTIVE_PHASES,
    FINAL_PHASES,
    ExecutionPhase,
    Job,
    JobParameter,
    Progress,
)

__all__ = ["CUTOUT_KINDS", "SodaService", "SyncOutcome", "job_tasks", "parse_job_parameters"]

CUTOUT_KINDS: frozenset[JobKind] = frozenset({"soda", "sync", "bulk"})
"""The jobs under ``{async}``: each is found there by its URL."""
LISTED_KINDS: frozenset[JobKind] = frozenset({"soda", "bulk"})
"""The jobs its job list shows: not a sync request's, unless it outlived the request."""
"""The jobs under ``{async}``."""


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """How a sync request ended: a result to redirect to, no overlap, or an error."""

    record: JobRecord
    result: StoredResult | None


def _not_pending(record: JobRecord) -> ConflictError:
    return ConflictError(
        f"job {record.job.job_id} is {record.job.phase}; only PENDING jobs can run"
    )


def parse_job_parameters(
    pairs: Sequence[tuple[str, str]], *, settings: Settings, complete: bool
) -> SodaRequest:
    """Validate the SODA parameters of a job; it needs no back end.

    Parameters
    ----------
    pairs
        The parameters, in the order given.
    settings
        The buckets an ID may name and the most cutouts a job may make.
    complete
        Whether the job is to run, so needs an ID and a filter.

    Raises
    ------
    UsageError
        If a parameter is not valid, or the job would make too many cutouts.

    """
    request = parse_soda_request(
        group_params(pairs),
        allowed_buckets=settings.source_buckets,
        require_complete=complete,
    )
    count = len(request.combinations())
    if count > settings.max_combinations:
        raise UsageError(
            f"the request makes {count} cutouts (ID x stencil x BAND x TIME), over the "
            f"limit of {settings.max_combinations} per job; split it, or use a "
            "bulk file"
        )
    return request


def job_tasks(
    request: SodaRequest,
    pairs: Sequence[tuple[str, str]],
    *,
    covering: CoveringImages | None,
    max_cutouts: int,
) -> list[CutoutTask]:
    """Return a job's cutouts, each with its work (the request is not parsed again).

    A request naming a ``COLLECTION`` instead of IDs gets one cutout per
    image covering each of its stencils, found in the index now (by
    ``covering``; None refuses such a request).

    Raises
    ------
    UsageError
        If the works and parameters would not fit in the job's document, or
        the images found are none or more than ``max_cutouts``.

    """
    if request.by_position:
        if covering is None:
            raise UsageError("COLLECTION without ID needs the image index, not available here")
        found = covered_works(request, covering)
        if len(found) > max_cutouts:
            raise UsageError(
                f"{len(found)} images cover the request's positions, over the limit of "
                f"{max_cutouts} cutouts per job; narrow it by BAND or TIME, or use a bulk file"
            )
        tasks = [
            CutoutTask(index=i, work=work, image=found_image(image))
            for i, (work, image) in enumerate(found)
        ]
    else:
        tasks = [CutoutTask(index=i, work=work) for i, work in enumerate(works_of(request))]
    size = tasks_stored_bytes(tasks, pairs)
    if size > MAX_TASKS_BYTES:
        raise UsageError(
            f"the job's {len(tasks)} cutouts take {size} bytes to store, over the limit "
            f"of {MAX_TASKS_BYTES}; use fewer IDs or polygon vertices per job, or a bulk file"
        )
    return tasks


class SodaService:
    """SODA operations over the job store and queue.

    Parameters
    ----------
    settings
        Jobs' limits and defaults (execution duration, destruction, sync timeout).
    store
        The job store.
    queue
        Where a job's cutouts are published.
    events
        Where the end of a job whose cutouts could not be published is announced.
    service_state
        The drain switch and the measured throughput (for quotes).
    covering
        Finds the images of a job that names a ``COLLECTION`` instead of IDs.

    """

    def __init__(
        self,
        *,
        settings: Settings,
        store: JobStore,
        queue: JobQueue,
        events: JobEvents,
        service_state: ServiceState,
        covering: CoveringImages,
    ) -> None:
        self._settings = settings
        self._store = store
        self._queue = queue
        self._events = events
        self._service_state = service_state
        self._covering = covering

    def create_job(
        self,
        request: SodaRequest,
        pairs: Sequence[tuple[str, str]],
        *,
        owner: str,
        run: bool = False,
    ) -> JobRecord:
        """Create an async job: PENDING, or with ``run`` QUEUED at once and published.

        ``request`` is ``pairs`` parsed (`parse_job_parameters`, complete if ``run``).
        """
        record = self._create(request, pairs, owner=owner, run=run)
        if run:
            self._publish(record)
        return record

    def _create(
        self,
        request: SodaRequest,
        pairs: Sequence[tuple[str, str]],
        *,
        owner: str,
        run: bool,
        kind: JobKind = "soda",
    ) -> JobRecord:
        """Store a new job of a parsed request (QUEUED with its tasks if ``run``)."""
        self.refuse_if_draining()
        now = datetime.now(UTC)
        tasks = self._tasks(request, pairs) if run else []
        job = Job(
            job_id=uuid.uuid4().hex,
            owner=owner,
            phase=ExecutionPhase.QUEUED if run else ExecutionPhase.PENDING,
            creation_time=now,
            run_id=request.run_id,
            execution_duration=self._settings.execution_duration_seconds,
            destruction=now + timedelta(days=self._settings.destruction_days),
            quote=self._service_state.quote(len(request.combinations())),
            parameters=[JobParameter(name, value) for name, value in pairs],
            progress=Progress(total=len(tasks)) if run else None,
        )
        record = JobRecord(
            job=job, kind=kind, response_format=request.response_format, tasks=tasks
        )
        self._store.create(record)
        return record

    def run(self, job_id: str, *, owner: str) -> JobRecord:
        """Queue a PENDING job and publish its cutouts (PHASE=RUN).

        Raises
        ------
        ConflictError
            If the job is not PENDING (a job runs once).

        """
        record = self.job(job_id, owner=owner)
        if record.job.phase in (ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING):
            return record  # RUN on a running job is harmless, as in vo-cutouts
        if record.job.phase != ExecutionPhase.PENDING:
            # before its parameters are read: a bulk job's are not SODA parameters
            raise _not_pending(record)
        pairs = [(p.name, p.value) for p in record.job.parameters]
        request = parse_job_parameters(pairs, settings=self._settings, complete=True)
        tasks = self._tasks(request, pairs)
        queued = self._store.queue(job_id, tasks=tasks, quote=self._service_state.quote(len(tasks)))
        if queued is None:  # its phase changed meanwhile (a concurrent RUN, ABORT...)
            current = self._store.get_for(job_id, owner=owner)
            if current.job.phase in (ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING):
                return current
            raise _not_pending(current)
        self._publish(queued)
        return queued

    def _tasks(self, request: SodaRequest, pairs: Sequence[tuple[str, str]]) -> list[CutoutTask]:
        return job_tasks(
            request,
            pairs,
            covering=self._covering,
            max_cutouts=self._settings.max_combinations,
        )

    def _publish(self, record: JobRecord) -> None:
        """Publish a QUEUED job's messages; a queue that cannot be reached ends it in ERROR."""
        job_id = record.job.job_id
        try:
            self._queue.publish(job_id, record.tasks)
        except Exception as e:
            error = ServiceUnavailableError("the job queue could not be reached")
            ended = self._store.fail_unqueued(job_id, error_summary(error))
            if ended is not None:
                self._events.announce_soon(ended)  # the events topic may still be reachable
            raise error from e

    def sync(
        self,
        request: SodaRequest,
        pairs: Sequence[tuple[str, str]],
        *,
        owner: str,
        steps: Steps | None = None,
    ) -> SyncOutcome:
        """Run one cutout as a job and wait for it (SODA {sync}).

        ``request`` is ``pairs`` parsed, complete, and checked to be `SodaRequest.single`;
        ``steps``, if given, holds the times of what came before (the parse), for the log.

        Raises
        ------
        ServiceUnavailableError
            If the job does not finish within the sync timeout.

        """
        steps = steps or Steps()
        with steps.step("create"):
            record = self._create(request, pairs, owner=owner, run=True, kind="sync")
        job_id = record.job.job_id
        with steps.step("publish"):
            self._publish(record)
        published_at = time.time()
        with steps.step("wait"):
            final = self._store.wait(
                job_id,
                until=lambda r: r.job.phase in FINAL_PHASES,
                timeout=self._settings.sync_timeout_seconds,
                counts=False,
            )
        woke_at = time.time()
        if final is None or final.job.phase not in FINAL_PHASES:
            self._store.list_as_async(job_id)  # the caller is told to follow it there
            raise ServiceUnavailableError(
                f"the cutout did not finish within {self._settings.sync_timeout_seconds:g} s; "
                f"it goes on as async job {job_id}"
            )
        with steps.step("results"):
            result = self._store.result(job_id, result_id_for(0))
        log(
            logging.INFO,
            "sync served",
            job_id=job_id,
            published_at=published_at,
            woke_at=woke_at,
            steps_ms=steps.as_log(),
        )
        return SyncOutcome(record=final, result=result)

    def refuse_if_draining(self) -> None:
        """Refuse new work while operators drain the service (`ServiceUnavailableError`)."""
        refuse_if_draining(self._service_state.status())

    def job(self, job_id: str, *, owner: str) -> JobRecord:
        """Return the caller's cutout job (`JobStore.get_for`: another owner's is not found)."""
        return self._store.get_for(job_id, owner=owner, kinds=CUTOUT_KINDS)

    def jobs(
        self,
        *,
        owner: str,
        phases: Collection[ExecutionPhase],
        after: datetime | None,
        last: int | None,
    ) -> list[JobRecord]:
        """Return the caller's cutout jobs, newest first, filtered as UWS §2.2.2.1 says."""
        return self._store.list_kinds_for(
            owner=owner, kinds=LISTED_KINDS, phases=phases, after=after, last=last
        )

    def set_parameters(
        self, record: JobRecord, pairs: Sequence[tuple[str, str]], *, owner: str
    ) -> None:
        """Give a PENDING job these parameters once they parse (they need not be complete)."""
        parse_job_parameters(pairs, settings=self._settings, complete=False)
        params = [JobParameter(n, v) for n, v in pairs]
        self._store.set_parameters(record.job.job_id, owner=owner, parameters=params)

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
            record.job.job_id,
            until=lambda r: r.job.phase != start_phase,
            timeout=seconds,
        )
        return latest or record
