"""Ending a job once every cutout is counted, whoever notices first, and announcing it.

Every delivery of the job's last message, and the sweep, may find the job
complete; the store's compare-and-set `complete` lets exactly one of them end
it. Outputs that must exist before the phase changes (a bulk job's manifest)
are written first by ``prepare``, by the one caller that claims the job's
outputs (`JobStore.claim_outputs`); the winner then announces the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime

from skycut.jobs.events import JobEvents
from skycut.jobs.records import JobRecord, StoredResult
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.uws.model import ErrorSummary, ExecutionPhase, Progress

__all__ = ["JobCompletion"]


class JobCompletion:
    """Ends complete jobs: once, in COMPLETED or (one failed cutout) ERROR, announced.

    Parameters
    ----------
    store
        The job store.
    events
        Where ends are announced.
    prepare
        Writes an ending job's outputs (bulk manifests, packages) and returns
        the manifest's URL, if any; called before the phase changes.

    """

    def __init__(
        self,
        *,
        store: JobStore,
        events: JobEvents,
        prepare: Callable[[JobRecord], str | None],
    ) -> None:
        self._store = store
        self._events = events
        self._prepare = prepare

    def end_whole(
        self,
        record: JobRecord,
        results: list[StoredResult],
        batch_id: str,
        *,
        done: int,
        failed: int,
    ) -> JobRecord | None:
        """End a job its one message holds, with its results, in one write (None: not done)."""
        if record.kind == "bulk" or record.job.phase != ExecutionPhase.EXECUTING:
            return None  # bulk jobs write their manifests from the stored results first
        ended = self._store.complete_with_results(
            record,
            results,
            batch_id,
            done=done,
            failed=failed,
            error=results[0].error if len(results) == 1 else None,
        )
        if ended is not None:
            self._finished(ended, Progress(len(results), done, failed), manifest_url=None)
        return ended

    def _finished(self, ended: JobRecord, progress: Progress, *, manifest_url: str | None) -> None:
        log(
            logging.INFO,
            "job finished",
            job_id=ended.job.job_id,
            run_id=ended.job.run_id,
            phase=ended.job.phase.value,
            progress=asdict(progress),
        )
        self._events.announce(ended, progress=progress, manifest_url=manifest_url)

    def finish_if_complete(
        self, job_id: str, *, known: tuple[JobRecord, Progress] | None = None
    ) -> bool:
        """End the job if every cutout has been counted (once, whoever calls).

        ``known`` is the job and its complete progress when the caller knows
        them already (its message held the whole job); they are read otherwise.

        Returns
        -------
        bool
            Whether this call ended the job.

        """
        store = self._store
        if known is not None:
            record, progress = known
        else:
            loaded = store.load(job_id)
            if loaded is None or loaded.job.progress is None:
                return False
            record, progress = loaded, loaded.job.progress
        if progress.done + progress.failed < progress.total:
            return False
        if record.kind == "mosaic":
            return False  # its assembly completes it, results first (skycut.mosaic.job)
        if record.kind == "bulk":
            # its outputs take a while: one writer, not every delivery that saw it complete
            claimed = store.claim_outputs(job_id, now=datetime.now(UTC))
            if claimed is None:
                return False
            record = claimed
        manifest_url = self._prepare(record)
        error = None
        if progress.total == 1 and progress.failed == 1:
            failed = [r.error for r in store.results(job_id) if r.error is not None]
            error = failed[0] if failed else ErrorSummary("Error: the cutout failed")

        # counts only grow, so the check above holds; only the phase can have moved
        finished = store.complete(job_id, error=error, seen=record)
        if finished is None:
            return False
        self._finished(finished, progress, manifest_url=manifest_url)
        return True
