"""Running the cutouts of one job message.

A message carries a batch of a job's cutouts (cut by `skycut.worker.cutter`). Each result is
recorded once (a delivery's duplicates are known by the result document's id) and counted;
whichever delivery records the last result ends the job (`skycut.jobs.completion`).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from skycut.cutout.reader import ReadStats
from skycut.errors import NoOverlapError, SkycutError, UsageError
from skycut.jobs.completion import JobCompletion
from skycut.jobs.events import JobEvents
from skycut.jobs.messages import CutoutTask, JobMessage, batch_id
from skycut.jobs.records import JobRecord, StoredResult, job_objects_prefix, result_id_for
from skycut.jobs.service_state import ServiceState
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.timing import Steps
from skycut.uws.model import FINAL_PHASES, ExecutionPhase, Progress
from skycut.worker.cutter import Cutter, Spec
from skycut.worker.finalize import Finalizer
from skycut.worker.groups import SharedSource, by_source
from skycut.worker.watch import JobStoppedError, JobWatch

if TYPE_CHECKING:  # its module loads the storage client library
    from skycut.storage.gcs import ResultWriter

__all__ = ["Worker"]

_SUFFIXES = {"application/fits": ".fits", "image/png": ".png", "image/jpeg": ".jpg"}


@dataclass(kw_only=True)
class Worker:
    """Executes job messages.

    Parameters
    ----------
    store
        The job store.
    events
        Where the end of a job that runs out of time under the worker is announced.
    results
        The results bucket: cutouts written, a stopped job's deleted.
    cutter
        Cuts each task from its source.
    completion
        Ends the jobs whose last cutout this worker counts.
    finalizer
        Finishes announcing an ended job its writer left unannounced.
    service_state
        Where the measured cutout rate is recorded, for quotes.
    concurrency
        Cutouts of one message run at once.

    """

    store: JobStore
    events: JobEvents
    results: ResultWriter
    cutter: Cutter
    completion: JobCompletion
    finalizer: Finalizer
    service_state: ServiceState
    concurrency: int

    def handle(self, message: JobMessage) -> None:
        """Run every cutout of ``message`` that is not done yet.

        Raises
        ------
        SkycutError
            A transient error (storage or Firestore unavailable): the message
            is not acknowledged and Pub/Sub delivers it again.

        """
        store = self.store
        job_id = message.job_id
        received_at = time.time()
        steps = Steps()
        with steps.step("load"):
            # the job and the message's results already recorded, in one read
            record, recorded = store.load_with_results(
                job_id, [result_id_for(t.index) for t in message.tasks]
            )
        if record is not None and record.job.phase in FINAL_PHASES:
            self.finalizer.resume(record)  # a finisher that died leaves work to do
        if record is None or record.job.phase not in (
            ExecutionPhase.QUEUED,
            ExecutionPhase.EXECUTING,
        ):
            log(
                logging.INFO,
                "job not runnable; message dropped",
                job_id=job_id,
                phase=None if record is None else record.job.phase.value,
            )
            return
        if record.job.phase == ExecutionPhase.QUEUED:
            with steps.step("start"):
                started = store.start(record)
            record = started or store.load(job_id, counts=False) or record
        watch = JobWatch(store=store, record=record, on_end=self.events.announce)
        began = time.monotonic()
        statuses = {rid: result.status for rid, result in recorded.items()}
        todo = [t for t in message.tasks if result_id_for(t.index) not in statuses]
        new: list[StoredResult] = []
        try:
            # A few cutouts at once: each waits on storage and Firestore round trips,
            # and the emulator (like a busy instance) delivers only a few messages at once.
            with (
                steps.step("cut"),
                ThreadPoolExecutor(max_workers=self.concurrency) as pool,
            ):
                # cutouts of one image read it together: one read plan for all of them
                specs = {t.index: self.cutter.spec(t) for t in todo}  # built once, from the works
                groups = by_source(todo)
                cutter = self.cutter
                prefetched = pool.map(lambda g: cutter.prefetch(g, specs, watch), groups.values())
                shared = dict(zip(groups, prefetched, strict=True))
                for result in pool.map(
                    lambda t: self._run_checked(
                        record, message, t, specs[t.index], watch, new, shared.get(t.source_id)
                    ),
                    todo,
                ):
                    statuses[result.result_id] = result.status
            failed = sum(1 for status in statuses.values() if status == "error")
            done = len(statuses) - failed
            total = record.job.progress.total if record.job.progress is not None else None
            whole = total == len(message.tasks)
            if whole and len(new) == total:
                # the message is the whole job and nothing of it was stored before:
                # results, count and end in one write, if the job is still as we left it
                with steps.step("end"):
                    ended = self.completion.end_whole(
                        record, new, batch_id(message.tasks), done=done, failed=failed
                    )
                if ended is not None:
                    self._handled(job_id, todo, began, received_at, steps)
                    return
            # one write for the whole message, results and count together: the
            # Firestore emulator, like a real database's per-request costs, makes
            # fifty single writes the slow part
            with steps.step("record"):
                store.record_and_count(
                    job_id,
                    new,
                    batch_id(message.tasks),
                    done=done,
                    failed=failed,
                    expires=record.job.destruction,
                )
            if not whole:
                with steps.step("abort_check"):
                    watch.undo_if_stopped(new, self.results.delete)
        except JobStoppedError:
            # every cutout of this message has stopped or finished by now (the pool
            # waited for them); aborted jobs keep nothing, so remove what they wrote
            self.results.delete([r.object_name for r in new])
            log(
                logging.INFO,
                "job left EXECUTING; stopping",
                job_id=job_id,
                run_id=record.job.run_id,
            )
            return
        with steps.step("finish"):
            if whole and total is not None:
                # the message is the whole job, all of it counted: it is complete, unless
                # it stopped meanwhile (the phase change then tells, and the check follows)
                finished = self.completion.finish_if_complete(
                    job_id, known=(record, Progress(total, done, failed))
                )
                if not finished and watch.stopped_for(new, self.results.delete):
                    return
            else:
                self.completion.finish_if_complete(job_id)
        self._handled(job_id, todo, began, received_at, steps)

    def _handled(
        self, job_id: str, todo: list[CutoutTask], began: float, received_at: float, steps: Steps
    ) -> None:
        if todo:
            self.service_state.record_throughput(
                cutouts=len(todo), seconds=time.monotonic() - began
            )
        log(
            logging.INFO,
            "message handled",
            job_id=job_id,
            cutouts=len(todo),
            received_at=received_at,
            steps_ms=steps.as_log(),
        )

    def _run_checked(
        self,
        record: JobRecord,
        message: JobMessage,
        task: CutoutTask,
        parsed: Spec | UsageError,
        watch: JobWatch,
        written: list[StoredResult],
        shared: SharedSource | None,
    ) -> StoredResult:
        watch.check()
        result = self._run_task(record, message, task, parsed, watch, shared)
        written.append(result)  # list.append is atomic: the pool's threads share the list
        return result

    def _run_task(
        self,
        record: JobRecord,
        message: JobMessage,
        task: CutoutTask,
        parsed: Spec | UsageError,
        watch: JobWatch,
        shared: SharedSource | None,
    ) -> StoredResult:
        writer = self.results
        job_id = record.job.job_id
        expires = record.job.destruction
        rid = result_id_for(task.index)
        stats = ReadStats()
        steps = Steps()
        generation: int | None = None
        failure: SkycutError | None = None
        try:
            if isinstance(parsed, UsageError):
                raise parsed
            request, spec = parsed
            with steps.step("cut"):
                cutout, version = self.cutter.cut(request, spec, task, stats, watch, shared)
            generation = version.generation
            mime: str = cutout.content_type
            name = f"{job_objects_prefix(job_id)}{rid}{_SUFFIXES.get(mime, '')}"
            with steps.step("write"):
                size = writer.write(name, cutout.content, content_type=mime, expires=expires)
            status: str = "ok"
            message_text = None
        except SkycutError as e:
            if e.error_type == "transient":
                raise
            status = "no_overlap" if isinstance(e, NoOverlapError) else "error"
            failure = e
            message_text = e.to_text()
            name = f"{job_objects_prefix(job_id)}{rid}.txt"
            mime = "text/plain"
            size = writer.write(
                name, (message_text + "\n").encode(), content_type=mime, expires=expires
            )
        log(
            logging.INFO,
            "cutout done",
            job_id=job_id,
            run_id=record.job.run_id,
            result_id=rid,
            status=status,
            source=task.source_id,
            generation=generation,
            requests=stats.requests,
            bytes_read=stats.bytes,
            steps_ms=steps.as_log(),
        )
        return StoredResult(
            result_id=rid,
            index=task.index,
            status=status,  # type: ignore[arg-type]
            bucket=writer.bucket_name,
            object_name=name,
            mime_type=mime,
            size=size,
            message=message_text,
            label=task.label,
            requests=stats.requests,
            bytes_read=stats.bytes,
            created=datetime.now(UTC),
            expires=expires,
            source_id=task.source_id,
            source_generation=generation,
            error_label=failure.label if failure is not None else None,
            error_status=failure.status_code if failure is not None else None,
            query=task.work.describe(),
            row=task.row,
            found=task.image,
        )
