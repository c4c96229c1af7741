"""The job store: every named change of a job, written once on the storage primitives.

A job's life is a set of named changes (`queue`, `start`, `complete`,
`fail`, `abort`, `take_over`, `claim_announcement`, `mark_announced`, ...),
each written once here on top of one primitive, a compare-and-set `change`:
the change reads the job (or trusts the caller's current copy), decides, and
writes only if nothing changed since, so two writers (an ABORT and a worker
finishing, two deliveries of one message) can never both win. Every way a job
ends goes through `_end`, which sets the end time and the announcement lease.

Implementations provide the primitives (`skycut.jobs.primitives`):
`FirestoreJobStore` in production,
`MemoryJobStore` for unit tests of the state machine; one contract test
suite runs against both. Callers never spell a document field.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from skycut.errors import ConflictError, NotFoundError
from skycut.jobs.messages import CutoutTask
from skycut.jobs.mosaic_state import MosaicStage, MosaicState
from skycut.jobs.primitives import JobStorage
from skycut.jobs.records import (
    FINALIZE_LEASE,
    OUTPUTS_LEASE,
    Announcement,
    JobKind,
    JobRecord,
    StoredResult,
    destroyed,
    error_document,
    task_document,
)
from skycut.uws.model import ACTIVE_PHASES, ErrorSummary, ExecutionPhase, JobParameter

__all__ = ["ABORTABLE", "NOT_STARTED", "JobStore"]

ABORTABLE = frozenset(ACTIVE_PHASES | {ExecutionPhase.HELD, ExecutionPhase.SUSPENDED})
NOT_STARTED = frozenset({ExecutionPhase.PENDING, ExecutionPhase.QUEUED, ExecutionPhase.HELD})
_RUNNING = frozenset({ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING})


class JobStore(JobStorage):
    """Jobs and their results: the named changes, on an implementation's primitives."""

    # -- reads built on the primitives -------------------------------------
    def get_for(
        self, job_id: str, *, owner: str | None, kinds: Collection[JobKind] = ()
    ) -> JobRecord:
        """Return the job if ``owner`` may see it (and it is of one of ``kinds``, if given).

        Raises
        ------
        NotFoundError
            If there is no such job, it belongs to someone else (other
            users' jobs are invisible, not forbidden) or it is of another kind
            (a mosaic job is not under ``{async}``, nor a cutout job under ``mosaic``).

        """
        record = self.load(job_id)
        if record is None or record.job.owner != owner or destroyed(record):
            raise NotFoundError(f"no job {job_id!r}")
        if kinds and record.kind not in kinds:
            raise NotFoundError(f"no job {job_id!r}")
        return record

    def list_kinds_for(
        self,
        *,
        owner: str | None,
        kinds: Collection[JobKind],
        phases: Collection[ExecutionPhase],
        after: datetime | None,
        last: int | None,
    ) -> list[JobRecord]:
        """Return the owner's jobs of ``kinds``, newest first, ``last`` counted among them."""
        records = self.list_for(owner=owner, phases=phases, after=after)
        mine = [r for r in records if r.kind in kinds]
        return mine if last is None else mine[:last]

    # -- the named changes -------------------------------------------------
    def _move(
        self,
        job_id: str,
        *,
        allowed_from: Collection[ExecutionPhase],
        to: ExecutionPhase,
        fields: dict[str, Any] | None = None,
        seen: JobRecord | None = None,
    ) -> JobRecord | None:
        def decide(record: JobRecord) -> dict[str, Any] | None:
            if record.job.phase not in allowed_from:
                return None
            return {"phase": to.value, **(fields or {})}

        return self.change(job_id, decide, seen=seen)

    def _end(
        self,
        job_id: str,
        to: ExecutionPhase,
        *,
        allowed_from: Collection[ExecutionPhase],
        error: ErrorSummary | None = None,
        seen: JobRecord | None = None,
        now: datetime | None = None,
    ) -> JobRecord | None:
        """End a job: the one way, with its end time, error and announcement lease."""
        return self._move(
            job_id,
            allowed_from=allowed_from,
            to=to,
            fields=self._ending(error, now or datetime.now(UTC)),
            seen=seen,
        )

    @staticmethod
    def _ending(error: ErrorSummary | None, now: datetime) -> dict[str, Any]:
        due = Announcement.due(now)
        fields: dict[str, Any] = {
            "end_time": now,
            "extra.finalized": due.finalized,
            "extra.finalizing_until": due.finalizing_until,
        }
        if error is not None:
            fields["error"] = error_document(error)
        return fields

    def queue(
        self, job_id: str, *, tasks: list[CutoutTask], quote: datetime | None
    ) -> JobRecord | None:
        """Queue a PENDING job with its cutouts (None if it was not PENDING)."""
        return self._move(
            job_id,
            allowed_from={ExecutionPhase.PENDING},
            to=ExecutionPhase.QUEUED,
            fields={
                "tasks": [task_document(t) for t in tasks],
                "progress": {"total": len(tasks), "done": 0, "failed": 0},
                "quote": quote,
            },
        )

    def queue_mosaic(
        self, job_id: str, *, state: MosaicState, quote: datetime | None
    ) -> JobRecord | None:
        """Queue a PENDING mosaic job with its plan (None if it was not PENDING)."""
        return self._move(
            job_id,
            allowed_from={ExecutionPhase.PENDING},
            to=ExecutionPhase.QUEUED,
            fields={
                "mosaic": state.to_document(),
                "progress": {"total": state.total, "done": 0, "failed": 0},
                "quote": quote,
            },
        )

    def set_mosaic_request(
        self,
        job_id: str,
        *,
        owner: str | None,
        state: MosaicState,
        parameters: Sequence[JobParameter],
    ) -> None:
        """Replace the request and parameters of a mosaic job that must still be PENDING.

        Raises
        ------
        ConflictError
            If the job has left PENDING (403, as any change its phase does not allow).

        """
        self._set_while_pending(
            job_id,
            owner=owner,
            fields={"mosaic": state.to_document(), **_parameters_field(parameters)},
        )

    def advance_mosaic(
        self,
        job_id: str,
        *,
        after: MosaicStage,
        to: MosaicStage,
        backgrounds: dict[str, tuple[float, float, float]],
    ) -> JobRecord | None:
        """Move an EXECUTING mosaic job from stage ``after`` to ``to``, once.

        Whichever worker counts the last unit of a stage calls this, and so
        may a redelivery or a concurrent worker: the compare-and-set lets one
        of them move the job (None for the others, and for a job that has
        left EXECUTING or that stage). The winner publishes the new stage.
        """

        def decide(current: JobRecord) -> dict[str, Any] | None:
            state = current.mosaic
            if current.job.phase != ExecutionPhase.EXECUTING or state is None:
                return None
            if state.stage != after:
                return None
            return {"mosaic": state.at(to, backgrounds=backgrounds).to_document()}

        return self.change(job_id, decide)

    def mark_mosaic_published(self, job_id: str, stage: MosaicStage) -> None:
        """Record that every message of a mosaic job's ``stage`` has been published."""

        def decide(current: JobRecord) -> dict[str, Any] | None:
            state = current.mosaic
            if state is None or state.stage != stage or state.published:
                return None
            return {"mosaic.published": True}

        self.change(job_id, decide)

    def start(self, seen: JobRecord) -> JobRecord | None:
        """Start a QUEUED job, for whichever delivery comes first (None for the others)."""
        return self._move(
            seen.job.job_id,
            allowed_from={ExecutionPhase.QUEUED},
            to=ExecutionPhase.EXECUTING,
            fields={"start_time": datetime.now(UTC)},
            seen=seen,
        )

    def complete(
        self, job_id: str, *, error: ErrorSummary | None = None, seen: JobRecord | None = None
    ) -> JobRecord | None:
        """Complete an EXECUTING job, or end it in ERROR with ``error`` (one failed cutout)."""
        to = ExecutionPhase.COMPLETED if error is None else ExecutionPhase.ERROR
        return self._end(
            job_id, to, allowed_from={ExecutionPhase.EXECUTING}, error=error, seen=seen
        )

    def complete_with_results(
        self,
        seen: JobRecord,
        results: list[StoredResult],
        batch_id: str,
        *,
        done: int,
        failed: int,
        error: ErrorSummary | None = None,
    ) -> JobRecord | None:
        """Record a whole job's results, count and complete it in one write.

        Conditional on the job still being as ``seen`` (EXECUTING) and on none
        of it being stored before; None (and nothing written) otherwise, and
        the caller records and completes step by step.
        """
        if seen.job.phase != ExecutionPhase.EXECUTING or seen.revision is None:
            return None
        to = ExecutionPhase.COMPLETED if error is None else ExecutionPhase.ERROR
        end = {"phase": to.value, **self._ending(error, datetime.now(UTC))}
        return self._end_with_results(seen, results, batch_id, done=done, failed=failed, end=end)

    def fail(
        self,
        job_id: str,
        error: ErrorSummary,
        *,
        allowed_from: Collection[ExecutionPhase] = _RUNNING,
        now: datetime | None = None,
    ) -> JobRecord | None:
        """End a job in ERROR with ``error`` (None if it had already ended)."""
        return self._end(
            job_id, ExecutionPhase.ERROR, allowed_from=allowed_from, error=error, now=now
        )

    def abort(
        self, job_id: str, *, error: ErrorSummary | None = None, now: datetime | None = None
    ) -> JobRecord | None:
        """End a job that has not finished in ABORTED (None if it had ended)."""
        return self._end(
            job_id, ExecutionPhase.ABORTED, allowed_from=ABORTABLE, error=error, now=now
        )

    def abort_running(self, job_id: str, error: ErrorSummary) -> JobRecord | None:
        """Abort an EXECUTING job with ``error`` (its execution duration ran out)."""
        return self._end(
            job_id, ExecutionPhase.ABORTED, allowed_from={ExecutionPhase.EXECUTING}, error=error
        )

    def take_over(
        self,
        job_id: str,
        *,
        last_taken: datetime | None,
        now: datetime,
        max_recoveries: int,
        give_up: Callable[[JobRecord, int], ErrorSummary],
    ) -> JobRecord | None:
        """Take over a stalled running job's lease, or end it in ERROR after too many.

        ``last_taken`` is the take-over time the caller saw: only one sweep
        can move it on. Returns the job taken over (still running) or ended
        (ERROR, with the ``give_up`` error), or None if it ended or another
        sweep took it first.
        """

        def decide(current: JobRecord) -> dict[str, Any] | None:
            recovery = current.recovery
            if current.job.phase not in _RUNNING or recovery.recovered_at != last_taken:
                return None
            if recovery.recoveries >= max_recoveries:
                error = give_up(current, recovery.recoveries)
                return {"phase": ExecutionPhase.ERROR.value, **self._ending(error, now)}
            return {"extra.recovered_at": now, "extra.recoveries": recovery.recoveries + 1}

        return self.change(job_id, decide)

    def claim_announcement(self, job_id: str, *, now: datetime) -> JobRecord | None:
        """Take the right to announce an ended job whose announcer's lease ran out."""

        def decide(current: JobRecord) -> dict[str, Any] | None:
            until = current.announcement.finalizing_until
            if current.announcement.finalized or (until is not None and until > now):
                return None
            return {"extra.finalizing_until": now + FINALIZE_LEASE}

        return self.change(job_id, decide)

    def claim_outputs(self, job_id: str, *, now: datetime) -> JobRecord | None:
        """Take the right to write an EXECUTING job's outputs and end it (None: held or ended).

        Two deliveries that count a bulk job's last results at once both find
        it complete; only the one that claims it writes the manifests and
        packages. If that worker dies, the claim lapses after `OUTPUTS_LEASE`
        and the sweep's `finish_if_complete` takes it.
        """

        def decide(current: JobRecord) -> dict[str, Any] | None:
            until = current.bulk.outputs_until
            if current.job.phase != ExecutionPhase.EXECUTING or (until is not None and until > now):
                return None
            return {"extra.outputs_until": now + OUTPUTS_LEASE}

        return self.change(job_id, decide)

    def mark_announced(self, job_id: str) -> None:
        """Record that the job's end went out on the job-events topic."""
        self._set(job_id, {"extra.finalized": True})

    def list_as_async(self, job_id: str) -> None:
        """List a sync request's job with its owner's async jobs: it outlived the request."""
        self._set(job_id, {"kind": "soda"})

    def mark_published(self, job_id: str) -> None:
        """Record that every message of a bulk job has been published."""
        self._set(job_id, {"extra.published": True})

    def set_parameters(
        self, job_id: str, *, owner: str | None, parameters: Sequence[JobParameter]
    ) -> None:
        """Replace the parameters of a job that must still be PENDING.

        Raises
        ------
        ConflictError
            If the job has left PENDING (403, as any change its phase does not allow).

        """
        self._set_while_pending(job_id, owner=owner, fields=_parameters_field(parameters))

    def _set_while_pending(self, job_id: str, *, owner: str | None, fields: dict[str, Any]) -> None:
        """Set fields of the caller's job if it is still PENDING (`ConflictError`)."""
        self.get_for(job_id, owner=owner)
        changed = self._move(
            job_id,
            allowed_from={ExecutionPhase.PENDING},
            to=ExecutionPhase.PENDING,
            fields=fields,
        )
        if changed is None:
            raise ConflictError(f"job {job_id!r} is no longer PENDING; its parameters are fixed")

    def set_execution_duration(self, job_id: str, seconds: int) -> JobRecord:
        """Set the run time limit of a job that has not started.

        Raises
        ------
        ConflictError
            If the job has started.

        """
        refused: list[ExecutionPhase] = []

        def decide(current: JobRecord) -> dict[str, Any] | None:
            if current.job.phase not in NOT_STARTED:
                refused.append(current.job.phase)
                return None
            return {"execution_duration": seconds}

        changed = self.change(job_id, decide)
        if changed is None:
            phase = refused[-1]
            raise ConflictError(
                f"job {job_id} is {phase}; its execution duration can no longer change"
            )
        return changed

    def set_destruction(self, job_id: str, when: datetime) -> JobRecord:
        """Move the destruction time."""
        changed = self.change(job_id, lambda _: {"destruction": when})
        assert changed is not None  # the decision always changes it
        return changed

    def fail_unqueued(self, job_id: str, error: ErrorSummary) -> JobRecord | None:
        """End a QUEUED job whose messages could not be published in ERROR."""
        return self.fail(job_id, error, allowed_from={ExecutionPhase.QUEUED})


def _parameters_field(parameters: Sequence[JobParameter]) -> dict[str, Any]:
    """Return a job's parameters as its document stores them."""
    return {"parameters": [{"name": p.name, "value": p.value} for p in parameters]}
