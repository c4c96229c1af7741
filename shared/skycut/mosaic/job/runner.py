"""Running one message of the mosaic topic: its units, counted once, and the stage moved on.

For each unit of the message not counted yet, the unit's work is done
(`skycut.mosaic.job.stages`) and then counted under its `unit_id` (a
receipt created once, with an atomic increment of the job's progress): a
redelivered message finds its units' receipts and does nothing again. The
delivery that then finds its stage's units all counted moves the job to the
next stage with a compare-and-set (`JobStore.advance_mosaic`), so exactly
one delivery does, even when the last two units finish at once, and that
one publishes the next stage. The assembly's units each store a band of
the file; the delivery that counts the last of them moves the job to its
``finish`` and runs that one unit itself (no message to wait for): the
bands joined into the file, the preview, the results recorded, the job
completed and announced. A job whose delivery died between the move and
the publication (or the finish) stalls, and the sweep publishes its stage
again (`skycut.mosaic.job.recovery`), the finish as a message of its own.

A unit's error that no delivery can fix (a `UsageError`, an input replaced
since it was planned, a failure of the computation) ends the job in ERROR
with its reason; storage or Firestore unavailable raises, and Pub/Sub
delivers the message again. A job that leaves EXECUTING (ABORT, DELETE,
its execution duration) stops its units before they store or count
anything more; whoever sees a job ended deletes its intermediates.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from google.api_core import exceptions as gexc

from skycut.cutout.readplan import ReadCost
from skycut.errors import ServiceUnavailableError, SkycutError, SourceChangedError, UsageError
from skycut.jobs.events import JobEvents
from skycut.jobs.mosaic_state import MosaicStage
from skycut.jobs.records import JobRecord, StoredResult, error_summary
from skycut.jobs.store import JobStore
from skycut.logs import log
from skycut.mosaic.job.messages import MosaicMessage, unit_id
from skycut.mosaic.job.queue import MosaicQueue, stage_units
from skycut.mosaic.job.scratch import JobObjects
from skycut.mosaic.job.stages import InputCache, StageWork
from skycut.mosaic.job.watch import MosaicStoppedError, MosaicWatch
from skycut.uws.model import FINAL_PHASES, ExecutionPhase

__all__ = ["MosaicWorker"]

_RUNNING = (ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING)
# errors of the platform, not of the job: the message is delivered again (OSError holds
# requests' connection errors, as a streamed upload raises them)
_TRANSIENT = (gexc.GoogleAPICallError, gexc.RetryError, OSError)


@dataclass(kw_only=True)
class MosaicWorker:
    """Executes the messages of the mosaic topic.

    Parameters
    ----------
    store
        The job store (progress counted, stages moved, the job ended).
    events
        Where the job's end is announced.
    queue
        Where the next stage's messages are published.
    objects
        The job's intermediates and results.
    inputs
        The inputs this process has opened.
    read_cost
        The network box reads are planned for.

    """

    store: JobStore
    events: JobEvents
    queue: MosaicQueue
    objects: JobObjects
    inputs: InputCache
    read_cost: ReadCost

    def handle(self, message: MosaicMessage) -> None:
        """Run the message's units that are not counted yet, then move the job on if due.

        Raises
        ------
        SkycutError
            A transient error: the message is delivered again.

        """
        job_id = message.job_id
        began = time.monotonic()
        record = self.store.load(job_id, counts=False)
        if record is not None and record.job.phase in FINAL_PHASES:
            self.objects.delete_work(job_id)  # whoever ended it may have died before this
        if record is None or record.job.phase not in _RUNNING or record.mosaic is None:
            log(
                logging.INFO,
                "mosaic job not runnable; message dropped",
                job_id=job_id,
                phase=None if record is None else record.job.phase.value,
            )
            return
        if record.job.phase == ExecutionPhase.QUEUED:
            record = self.store.start(record) or self.store.load(job_id, counts=False) or record
            if record.job.phase != ExecutionPhase.EXECUTING:
                return
        watch = self._watch(record)
        try:
            ran = self._run(record, message, watch)
            self._advance(job_id, message.stage, watch)
        except MosaicStoppedError:
            log(logging.INFO, "mosaic job left EXECUTING; stopping", job_id=job_id)
            self.objects.delete_work(job_id)
            return
        except SourceChangedError as e:
            self._fail(job_id, UsageError(f"{e.message}; an input changed after the mosaic "
                                          "was planned: submit the job again"))  # fmt: skip
            return
        except SkycutError as e:
            if e.error_type == "transient" and not self._ended(job_id):
                raise
            if e.error_type != "transient":
                self._fail(job_id, e)
            return
        except _TRANSIENT:
            if not self._ended(job_id):
                raise
            return
        except Exception as e:  # a failure of the computation: no delivery will do better
            log(logging.ERROR, "mosaic unit failed", job_id=job_id, exc_info=True)
            self._fail(job_id, SkycutError(f"the {message.stage} stage failed: {e!r}"))
            return
        log(
            logging.INFO,
            "mosaic message handled",
            job_id=job_id,
            stage=message.stage,
            units=ran,
            seconds=round(time.monotonic() - began, 3),
        )

    def _ended(self, job_id: str) -> bool:
        """Whether the job left EXECUTING under a unit that met a transient error.

        Such a unit has nothing left to do (another delivery completed the job
        and deleted the intermediates it was reading, or an ABORT did): its
        message is acknowledged instead of delivered again.
        """
        current = self.store.load(job_id, counts=False)
        if current is not None and current.job.phase == ExecutionPhase.EXECUTING:
            return False
        log(logging.INFO, "mosaic job ended under a unit; message dropped", job_id=job_id)
        self.objects.delete_work(job_id)
        return True

    def _watch(self, record: JobRecord) -> MosaicWatch:
        return MosaicWatch(store=self.store, record=record, on_end=self.events.announce_soon)

    def _work(self, record: JobRecord) -> StageWork:
        assert record.mosaic is not None
        return StageWork(
            job_id=record.job.job_id,
            state=record.mosaic,
            objects=self.objects,
            inputs=self.inputs,
            read_cost=self.read_cost,
            expires=record.job.destruction,
        )

    def _run(self, record: JobRecord, message: MosaicMessage, watch: MosaicWatch) -> int:
        """Run and count the message's units not counted yet; return how many ran."""
        state = record.mosaic
        assert state is not None
        if message.stage != state.stage:
            return 0  # an earlier stage's message again: all of it was counted before
        return self._run_units(record, message.stage, message.units, watch)

    def _run_units(
        self, record: JobRecord, stage: MosaicStage, units: list[int], watch: MosaicWatch
    ) -> int:
        """Run and count ``units`` of ``stage`` not counted yet; return how many ran."""
        job_id = record.job.job_id
        counted = self.store.counted_batches(job_id, [unit_id(stage, u) for u in units])
        work = self._work(record)
        ran = 0
        for unit in units:
            if unit_id(stage, unit) in counted:
                continue
            watch.check()
            if stage == "reproject":
                work.reproject(unit, watch)
            elif stage == "overlaps":
                work.overlaps(unit, watch)
            elif stage == "assemble":
                work.band(unit, watch)
            else:
                self._finish(record, work, watch)
            watch.check(force=True)  # a job stopped meanwhile counts nothing more
            self.store.record_and_count(
                job_id, [], unit_id(stage, unit), done=1, failed=0, expires=record.job.destruction
            )
            ran += 1
        return ran

    def _finish(self, record: JobRecord, work: StageWork, watch: MosaicWatch) -> None:
        """Join the file, write the preview and record them (before the unit is counted).

        A job stopped meanwhile (ABORT, its execution duration, an error)
        keeps none of it: what this delivery recorded and wrote is removed,
        unless another delivery of the finish completed the job with these
        same files.
        """
        job_id = record.job.job_id
        try:
            made = work.finish(watch)
            for k, (result_id, name, mime, size) in enumerate(made.results):
                self.store.attach_result(
                    job_id,
                    StoredResult(
                        result_id=result_id,
                        index=k,
                        status="ok",
                        bucket=self.objects.bucket_name,
                        object_name=name,
                        mime_type=mime,
                        size=size,
                        created=datetime.now(UTC),
                        expires=record.job.destruction,
                    ),
                )
            watch.check(force=True)
        except BaseException:
            current = self.store.load(job_id, counts=False)
            if current is not None and current.job.phase in FINAL_PHASES - {
                ExecutionPhase.COMPLETED
            }:
                # an ABORT may have deleted the results before these were recorded
                planned = work.results()
                for result_id, _, _ in planned:
                    self.store.delete_result(job_id, result_id)
                self.objects.delete([name for _, name, _ in planned])
            raise

    def _advance(self, job_id: str, stage: MosaicStage, watch: MosaicWatch) -> None:
        """Move the job past ``stage`` if all its units are counted (once), or end it.

        The move to ``finish`` runs the finish here instead of publishing it.
        """
        record = self.store.load(job_id)
        if record is None or record.job.phase != ExecutionPhase.EXECUTING or record.mosaic is None:
            return
        state, progress = record.mosaic, record.job.progress
        if state.stage != stage:
            return  # moved on already, by the delivery that publishes the next stage
        if progress is None or progress.done < state.done_before(stage) + state.units(stage):
            return
        following = state.next_stage(stage)
        if following is None:
            self._complete(record)
            return
        backgrounds = self._work(record).solve() if stage == "overlaps" else state.backgrounds
        moved = self.store.advance_mosaic(
            job_id, after=stage, to=following, backgrounds=backgrounds
        )
        if moved is None:
            return  # another delivery moved it, and publishes the next stage
        log(logging.INFO, "mosaic stage done", job_id=job_id, stage=stage, next=following)
        if following == "finish":
            self._finish_here(moved, watch)
        else:
            self._publish(moved)

    def _finish_here(self, record: JobRecord, watch: MosaicWatch) -> None:
        """Run the finish in this delivery, which moved the job to it; end the job.

        Marked in hand first, as a published stage is. If it meets a
        transient error the finish is published as a message of its own,
        which Pub/Sub delivers until it is done; if this worker dies, the
        sweep publishes it.
        """
        job_id = record.job.job_id
        self.store.mark_mosaic_published(job_id, "finish")
        try:
            self._run_units(record, "finish", [0], watch)
        except (SkycutError, *_TRANSIENT) as e:
            if isinstance(e, SkycutError) and e.error_type != "transient":
                raise
            if self._ended(job_id):
                return  # an ABORT took its parts away: nothing to finish
            log(logging.WARNING, "mosaic finish failed; published", job_id=job_id, error=repr(e))
            try:
                self.queue.publish(job_id, "finish", [0])
            except Exception as lost:  # the sweep publishes it
                raise ServiceUnavailableError("the mosaic queue could not be reached") from lost
            return
        self._advance(job_id, "finish", watch)

    def _publish(self, record: JobRecord) -> None:
        """Publish the units of the stage the job is in, and mark them published."""
        state = record.mosaic
        assert state is not None
        job_id = record.job.job_id
        units = stage_units(state)
        counted = self.store.counted_batches(job_id, [unit_id(state.stage, u) for u in units])
        try:
            self.queue.publish(job_id, state.stage, units, skip=counted)
        except Exception as e:  # the next delivery of this message publishes it
            raise ServiceUnavailableError("the mosaic queue could not be reached") from e
        self.store.mark_mosaic_published(job_id, state.stage)

    def _complete(self, record: JobRecord) -> None:
        ended = self.store.complete(record.job.job_id, seen=record)
        if ended is None:
            return  # another delivery completed it, or it stopped
        log(logging.INFO, "mosaic job finished", job_id=ended.job.job_id, run_id=ended.job.run_id)
        self.objects.delete_work(ended.job.job_id)
        self.events.announce(ended)

    def _fail(self, job_id: str, error: SkycutError) -> None:
        log(logging.WARNING, "mosaic job failed", job_id=job_id, error=error.to_text())
        ended = self.store.fail(job_id, error_summary(error))
        self.objects.delete_work(job_id)
        if ended is not None:
            self.events.announce_soon(ended)
