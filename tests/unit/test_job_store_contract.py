"""The job store's contract: every named change of a job, on the in-memory store.

``tests/functions/test_job_store_firestore.py`` runs these same cases on
Firestore (the emulator), so the in-memory store is proven to behave like it.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from skycut.errors import ConflictError, NotFoundError, PermissionDeniedError, UsageError
from skycut.jobs.memory_store import MemoryJobStore
from skycut.jobs.messages import CutoutTask
from skycut.jobs.mosaic_state import MosaicInput, MosaicState, MosaicTask
from skycut.jobs.records import (
    FINALIZE_LEASE,
    OUTPUTS_LEASE,
    BulkState,
    JobRecord,
    StoredResult,
    error_summary,
)
from skycut.jobs.store import JobStore
from skycut.soda.ids import SourceRef
from skycut.soda.work import CutWork
from skycut.uws.model import ErrorSummary, ExecutionPhase, Job, JobParameter, Progress

WORK = CutWork(source=SourceRef("b", "x.fits"))


@pytest.fixture
def store() -> JobStore:
    return MemoryJobStore()


def new_job(
    store: JobStore,
    *,
    phase: ExecutionPhase = ExecutionPhase.QUEUED,
    tasks: int = 1,
    owner: str | None = None,
    created: datetime | None = None,
) -> str:
    job_id = f"contract-{uuid.uuid4().hex[:12]}"
    record = JobRecord(
        job=Job(
            job_id=job_id,
            owner=owner or "dev",
            phase=phase,
            creation_time=created or datetime.now(UTC),
            destruction=datetime.now(UTC) + timedelta(days=1),
            progress=Progress(total=tasks) if phase != ExecutionPhase.PENDING else None,
        ),
        tasks=[CutoutTask(index=i, work=WORK) for i in range(tasks)],
    )
    assert store.create(record)
    return job_id


def result(index: int, status: str = "ok") -> StoredResult:
    return StoredResult(
        result_id=f"cutout-{index:06d}",
        index=index,
        status=status,  # type: ignore[arg-type]
        bucket="results",
        object_name=f"jobs/x/cutout-{index:06d}.fits",
        mime_type="application/fits",
        size=10,
    )


def phase(store: JobStore, job_id: str) -> ExecutionPhase:
    record = store.load(job_id)
    assert record is not None
    return record.job.phase


def test_a_job_is_created_once(store: JobStore) -> None:
    job_id = new_job(store)
    again = store.load(job_id)
    assert again is not None
    assert store.create(again) is False


def test_queue_takes_a_pending_job_once_with_its_tasks(store: JobStore) -> None:
    job_id = new_job(store, phase=ExecutionPhase.PENDING)
    tasks = [CutoutTask(index=i, work=WORK) for i in range(3)]
    queued = store.queue(job_id, tasks=tasks, quote=None)
    assert queued is not None
    assert queued.job.phase == ExecutionPhase.QUEUED
    assert queued.job.progress == Progress(total=3)
    assert [t.index for t in queued.tasks] == [0, 1, 2]
    assert store.queue(job_id, tasks=tasks, quote=None) is None


def test_only_the_first_delivery_starts_a_job(store: JobStore) -> None:
    job_id = new_job(store)
    first, second = store.load(job_id), store.load(job_id)
    assert first is not None
    assert second is not None
    started = store.start(first)
    assert started is not None
    assert started.job.start_time is not None
    assert store.start(second) is None
    assert phase(store, job_id) == ExecutionPhase.EXECUTING


def test_a_stale_copy_never_overrides_a_change_made_since(store: JobStore) -> None:
    job_id = new_job(store)
    seen = store.load(job_id)
    assert seen is not None
    assert seen.revision is not None
    store.abort(job_id)  # the owner aborts after the worker read the job
    assert store.start(seen) is None
    assert phase(store, job_id) == ExecutionPhase.ABORTED


def test_a_copy_that_says_no_is_checked_against_the_stored_job(store: JobStore) -> None:
    job_id = new_job(store)
    stale = store.load(job_id)
    assert stale is not None
    stale.job.phase = ExecutionPhase.PENDING  # what the caller believes is out of date
    started = store.start(stale)
    assert started is not None
    assert started.job.phase == ExecutionPhase.EXECUTING


def test_completion_ends_a_running_job_and_leaves_its_announcement_due(store: JobStore) -> None:
    job_id = new_job(store)
    started = store.start(store.load(job_id))  # type: ignore[arg-type]
    before = datetime.now(UTC)
    ended = store.complete(job_id, seen=started)
    assert ended is not None
    stored = store.load(job_id)
    assert stored is not None
    assert stored.job.phase == ExecutionPhase.COMPLETED
    assert stored.job.end_time is not None
    assert stored.job.end_time >= before - timedelta(seconds=1)
    assert stored.announcement.finalized is False
    until = stored.announcement.finalizing_until
    assert until is not None
    assert until >= before + FINALIZE_LEASE - timedelta(seconds=1)
    assert [r.job.job_id for r in store.unannounced()].count(job_id) == 1
    assert store.complete(job_id) is None, "a job ends once"


def test_a_complete_jobs_outputs_are_claimed_by_one_writer_until_its_lease_ends(
    store: JobStore,
) -> None:
    job_id = new_job(store)
    started = store.start(store.load(job_id))  # type: ignore[arg-type]
    now = datetime.now(UTC)
    claimed = store.claim_outputs(job_id, now=now)
    assert claimed is not None
    assert claimed.bulk.outputs_until == now + OUTPUTS_LEASE
    assert store.claim_outputs(job_id, now=now + timedelta(seconds=1)) is None, "held"
    later = now + OUTPUTS_LEASE + timedelta(seconds=1)
    again = store.claim_outputs(job_id, now=later)  # its writer died: another takes over
    assert again is not None
    assert store.complete(job_id, seen=again) is not None, "the claim's record ends the job"
    assert started is not None
    assert store.claim_outputs(job_id, now=later + OUTPUTS_LEASE * 2) is None, "ended"


def test_an_error_keeps_its_label_and_status(store: JobStore) -> None:
    job_id = new_job(store)
    store.start(store.load(job_id))  # type: ignore[arg-type]
    store.complete(job_id, error=error_summary(UsageError("no such image")))
    stored = store.load(job_id)
    assert stored is not None
    assert stored.job.phase == ExecutionPhase.ERROR
    error = stored.job.error
    assert error is not None
    assert (error.message, error.label, error.status) == (
        "UsageError: no such image",
        "UsageError",
        400,
    )


def race_abort_with_completion(store: JobStore, job_id: str) -> list[JobRecord | None]:
    started = store.start(store.load(job_id))  # type: ignore[arg-type]
    outcomes: list[JobRecord | None] = []
    go = threading.Barrier(2)

    def finish() -> None:
        go.wait()
        outcomes.append(store.complete(job_id, seen=started))

    def abort() -> None:
        go.wait()
        outcomes.append(store.abort(job_id))

    threads = [threading.Thread(target=finish), threading.Thread(target=abort)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_abort_and_completion_race_and_exactly_one_wins(store: JobStore) -> None:
    for _ in range(10):
        job_id = new_job(store)
        winners = [o for o in race_abort_with_completion(store, job_id) if o is not None]
        assert len(winners) == 1
        assert phase(store, job_id) == winners[0].job.phase


def test_an_ended_job_cannot_be_aborted_or_failed(store: JobStore) -> None:
    job_id = new_job(store)
    store.start(store.load(job_id))  # type: ignore[arg-type]
    store.complete(job_id)
    assert store.abort(job_id) is None
    assert store.fail(job_id, ErrorSummary("Error: late")) is None
    assert phase(store, job_id) == ExecutionPhase.COMPLETED


def test_a_message_is_counted_once_however_often_it_is_recorded(store: JobStore) -> None:
    job_id = new_job(store, tasks=2)
    for _ in range(3):  # duplicate deliveries
        store.record_and_count(job_id, [result(0), result(1, "error")], "b0", done=1, failed=1)
    loaded = store.load(job_id)
    assert loaded is not None
    assert loaded.job.progress == Progress(total=2, done=1, failed=1)
    assert [r.result_id for r in store.results(job_id)] == ["cutout-000000", "cutout-000001"]
    assert store.counted_batches(job_id, ["b0", "b1"]) == {"b0"}
    assert store.last_counted(job_id) is not None


def test_a_whole_job_is_recorded_counted_and_completed_in_one_write(store: JobStore) -> None:
    job_id = new_job(store)
    started = store.start(store.load(job_id))  # type: ignore[arg-type]
    assert started is not None
    ended = store.complete_with_results(started, [result(0)], "b0", done=1, failed=0)
    assert ended is not None
    assert ended.job.phase == ExecutionPhase.COMPLETED
    loaded, recorded = store.load_with_results(job_id, ["cutout-000000"])
    assert loaded is not None
    assert loaded.job.phase == ExecutionPhase.COMPLETED
    assert list(recorded) == ["cutout-000000"]
    counted = store.load(job_id)
    assert counted is not None
    assert counted.job.progress == Progress(total=1, done=1, failed=0)


def test_the_one_write_changes_nothing_if_the_job_moved_meanwhile(store: JobStore) -> None:
    job_id = new_job(store)
    started = store.start(store.load(job_id))  # type: ignore[arg-type]
    assert started is not None
    store.abort(job_id)
    assert store.complete_with_results(started, [result(0)], "b0", done=1, failed=0) is None
    assert store.results(job_id) == []
    assert store.counted_batches(job_id, ["b0"]) == set()
    assert phase(store, job_id) == ExecutionPhase.ABORTED


def test_the_one_write_changes_nothing_if_a_result_was_recorded(store: JobStore) -> None:
    job_id = new_job(store)
    started = store.start(store.load(job_id))  # type: ignore[arg-type]
    assert started is not None
    store.attach_result(job_id, result(0))  # another delivery got there first
    current = store.load(job_id)
    assert current is not None
    assert store.complete_with_results(current, [result(0)], "b0", done=1, failed=0) is None
    assert phase(store, job_id) == ExecutionPhase.EXECUTING


def test_one_sweep_takes_over_a_stalled_job_then_it_is_given_up(store: JobStore) -> None:
    job_id = new_job(store)
    now = datetime.now(UTC)

    def give_up(record: JobRecord, recoveries: int) -> ErrorSummary:
        return ErrorSummary(f"ServiceUnavailable: gave up after {recoveries}", "transient")

    taken = store.take_over(job_id, last_taken=None, now=now, max_recoveries=1, give_up=give_up)
    assert taken is not None
    assert taken.recovery.recoveries == 1
    # a second sweep that saw the same state loses
    assert (
        store.take_over(job_id, last_taken=None, now=now, max_recoveries=1, give_up=give_up) is None
    )
    later = now + timedelta(minutes=20)
    ended = store.take_over(
        job_id, last_taken=taken.recovery.recovered_at, now=later, max_recoveries=1,
        give_up=give_up,
    )  # fmt: skip
    assert ended is not None
    assert ended.job.phase == ExecutionPhase.ERROR
    assert ended.job.error is not None
    assert ended.job.error.message == "ServiceUnavailable: gave up after 1"
    assert ended.announcement.finalized is False


def test_an_announcement_is_claimed_only_after_its_lease(store: JobStore) -> None:
    job_id = new_job(store)
    ended_at = datetime.now(UTC)
    assert store.abort(job_id, now=ended_at) is not None
    assert store.claim_announcement(job_id, now=ended_at + timedelta(seconds=1)) is None
    later = ended_at + FINALIZE_LEASE + timedelta(seconds=1)
    claimed = store.claim_announcement(job_id, now=later)
    assert claimed is not None
    assert store.claim_announcement(job_id, now=later) is None, "claimed once"
    store.mark_announced(job_id)
    assert job_id not in [r.job.job_id for r in store.unannounced()]


def test_published_mark_is_kept(store: JobStore) -> None:
    job_id = f"contract-{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    state = BulkState(published=False, options={"package": "zip"}, drop_generation="5")
    unpublished = JobRecord(
        job=Job(job_id=job_id, owner="dev", phase=ExecutionPhase.QUEUED, creation_time=now),
        kind="bulk",
        bulk=state,
    )
    assert store.create(unpublished)
    before = store.load(job_id)
    assert before is not None
    assert before.bulk == state
    store.mark_published(job_id)
    loaded = store.load(job_id)
    assert loaded is not None
    assert loaded.bulk == BulkState(published=True, options={"package": "zip"}, drop_generation="5")


def test_only_a_job_that_has_not_started_can_be_re_timed(store: JobStore) -> None:
    job_id = new_job(store, phase=ExecutionPhase.PENDING)
    assert store.set_execution_duration(job_id, 60).job.execution_duration == 60
    started = new_job(store)
    store.start(store.load(started))  # type: ignore[arg-type]
    with pytest.raises(ConflictError, match="can no longer change"):
        store.set_execution_duration(started, 60)


def test_parameters_change_only_while_pending(store: JobStore) -> None:
    job_id = new_job(store, phase=ExecutionPhase.PENDING)
    store.set_parameters(job_id, owner="dev", parameters=[JobParameter("ID", "gs://b/x")])
    loaded = store.load(job_id)
    assert loaded is not None
    assert loaded.job.parameters == [JobParameter("ID", "gs://b/x")]
    queued = new_job(store)
    with pytest.raises(PermissionDeniedError):
        store.set_parameters(queued, owner="dev", parameters=[])


def test_owners_see_their_own_jobs_newest_first(store: JobStore) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC) - timedelta(minutes=5)
    ids = [new_job(store, owner=owner, created=start + timedelta(seconds=i)) for i in range(3)]
    new_job(store, owner="someone-else")
    listed = [r.job.job_id for r in store.list_for(owner=owner)]
    assert listed == ids[::-1]
    assert [r.job.job_id for r in store.list_for(owner=owner, last=2)] == ids[:0:-1]
    assert store.list_for(owner=owner, phases={ExecutionPhase.COMPLETED}) == []
    with pytest.raises(Exception, match="no job"):
        store.get_for(ids[0], owner="someone-else")


def test_waiting_returns_when_another_writer_ends_the_job(store: JobStore) -> None:
    job_id = new_job(store)
    store.start(store.load(job_id))  # type: ignore[arg-type]
    timer = threading.Timer(0.3, lambda: store.complete(job_id))
    timer.start()
    ended = store.wait(job_id, until=lambda r: r.job.phase == ExecutionPhase.COMPLETED, timeout=20)
    timer.join()
    assert ended is not None
    assert ended.job.phase == ExecutionPhase.COMPLETED


def test_deleting_a_job_forgets_its_results(store: JobStore) -> None:
    job_id = new_job(store)
    store.record_and_count(job_id, [result(0)], "b0", done=1, failed=0)
    removed = store.delete(job_id)
    assert [r.result_id for r in removed] == ["cutout-000000"]
    assert store.load(job_id) is None


# -- mosaic jobs ---------------------------------------------------------------------
def mosaic_state(*, background: str = "none") -> MosaicState:
    tasks = tuple(
        MosaicTask(i % 2, r, c, (0, 10, 0, 10)) for i, (r, c) in enumerate([(0, 0), (0, 1)] * 2)
    )
    return MosaicState(
        request={"background": background},
        tile_size=64,
        inputs=(MosaicInput("gs://b/a.fits", 1, 5), MosaicInput("gs://b/b.fits", None, 7)),
        tasks=tasks,
        bands=3,
    )


def new_mosaic(store: JobStore, state: MosaicState) -> str:
    job_id = new_job(store, phase=ExecutionPhase.PENDING, tasks=0)
    queued = store.queue_mosaic(job_id, state=state, quote=None)
    assert queued is not None
    return job_id


def test_a_mosaic_job_keeps_its_plan_and_counts_every_stage(store: JobStore) -> None:
    state = mosaic_state(background="match")
    job_id = new_mosaic(store, state)
    record = store.load(job_id)
    assert record is not None
    assert record.mosaic == state
    # tasks, overlaps of 2 tiles, 3 bands of the file coadded and assembled, the finish
    assert record.job.progress == Progress(total=4 + 2 + 3 + 1)
    assert state.stages == ("reproject", "overlaps", "assemble", "finish")
    assert state.done_before("assemble") == 6
    assert state.done_before("finish") == 9
    assert mosaic_state().stages == ("reproject", "assemble", "finish")


def test_a_colour_mosaic_keeps_each_tasks_layer_and_counts_each_layers_tiles(
    store: JobStore,
) -> None:
    grey = mosaic_state(background="match")
    tasks = tuple(MosaicTask(t.input, t.row, t.col, t.box, layer) for t, layer in
                  zip(grey.tasks, (0, 0, 2, 2), strict=True))  # fmt: skip
    state = MosaicState(
        request={"background": "match", "color": "rgb"},
        tile_size=64,
        inputs=grey.inputs,
        tasks=tasks,
        bands=grey.bands,
    )
    job_id = new_mosaic(store, state)
    record = store.load(job_id)
    assert record is not None
    assert record.mosaic == state
    assert [t.layer for t in record.mosaic.tasks] == [0, 0, 2, 2]
    assert state.tiles == ((0, 0, 0), (0, 0, 1), (2, 0, 0), (2, 0, 1))
    assert record.job.progress == Progress(total=4 + 4 + 3 + 1)  # tasks, overlaps, bands, finish


def test_a_mosaic_stage_moves_on_once_whoever_asks(store: JobStore) -> None:
    job_id = new_mosaic(store, mosaic_state())
    record = store.load(job_id)
    assert record is not None
    assert store.start(record) is not None
    store.mark_mosaic_published(job_id, "reproject")
    planes = {"gs://b/a.fits": (1.0, 2.0, 3.0)}
    movers: list[JobRecord | None] = []

    def move() -> None:
        movers.append(
            store.advance_mosaic(job_id, after="reproject", to="assemble", backgrounds=planes)
        )

    threads = [threading.Thread(target=move) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    moved = [m for m in movers if m is not None]
    assert len(moved) == 1
    assert moved[0].mosaic is not None
    assert (moved[0].mosaic.stage, moved[0].mosaic.published) == ("assemble", False)
    assert store.advance_mosaic(job_id, after="reproject", to="assemble", backgrounds={}) is None
    store.mark_mosaic_published(job_id, "assemble")
    stored = store.load(job_id)
    assert stored is not None
    assert stored.mosaic is not None
    assert (stored.mosaic.stage, stored.mosaic.published) == ("assemble", True)
    assert stored.mosaic.backgrounds == planes


def test_a_mosaic_job_is_seen_only_in_its_own_tree(store: JobStore) -> None:
    job_id = new_mosaic(store, mosaic_state())
    store._set(job_id, {"kind": "mosaic"})
    assert store.get_for(job_id, owner="dev", kinds={"mosaic"}).kind == "mosaic"
    with pytest.raises(NotFoundError):
        store.get_for(job_id, owner="dev", kinds={"soda", "bulk"})


def test_a_stopped_mosaic_job_does_not_move_on(store: JobStore) -> None:
    job_id = new_mosaic(store, mosaic_state())
    record = store.load(job_id)
    assert record is not None
    assert store.start(record) is not None
    assert store.abort(job_id) is not None
    assert store.advance_mosaic(job_id, after="reproject", to="assemble", backgrounds={}) is None


def test_expired_jobs_are_those_past_their_destruction_whatever_their_phase(
    store: JobStore,
) -> None:
    now = datetime.now(UTC)
    running = new_job(store, phase=ExecutionPhase.EXECUTING)
    ended = new_job(store, phase=ExecutionPhase.COMPLETED)
    kept = new_job(store, phase=ExecutionPhase.COMPLETED)
    store.set_destruction(running, now + timedelta(seconds=1))
    store.set_destruction(ended, now + timedelta(seconds=2))
    store.set_destruction(kept, now + timedelta(hours=1))
    expired = {r.job.job_id for r in store.expired(now + timedelta(minutes=1))}
    assert {running, ended} <= expired
    assert kept not in expired
    assert running not in {r.job.job_id for r in store.expired(now)}
