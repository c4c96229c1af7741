"""Running the cutouts of one job message.

A message carries a batch of a job's cutouts. Each cutout's result is
recorded once (duplicates of a delivery are recognised by the result
document's id) and counted; whichever delivery records the last result
moves the job to its final phase.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial

from skycut.clients import Clients
from skycut.cutout.engine import Cutout, cut
from skycut.cutout.fitsindex import FitsIndex, HduInfo, named_image, scan_fits
from skycut.cutout.prefetch import MEMORY_COST
from skycut.cutout.reader import CountingReader, RangeReader, ReadStats, RememberingReader
from skycut.cutout.readplan import ReadCost
from skycut.cutout.tiles import TileTable, read_tile_table
from skycut.errors import NoOverlapError, SkycutError, SourceChangedError, UsageError
from skycut.jobs.messages import CutoutTask, JobMessage, batch_id
from skycut.jobs.records import JobRecord, StoredResult, result_id_for
from skycut.logs import log
from skycut.soda.ids import ObjectVersion, SourceRef, check_source
from skycut.soda.params import CutoutSpec, SodaRequest
from skycut.storage.cache import SourceCache
from skycut.storage.gcs import GcsRangeReader
from skycut.timing import Steps
from skycut.uws.model import FINAL_PHASES, ErrorSummary, ExecutionPhase, Progress
from skycut.worker.finalize import Finalizer
from skycut.worker.groups import SharedSource, by_source, prefetch_group
from skycut.worker.watch import JobStoppedError, JobWatch, WatchedReader

__all__ = ["Worker", "result_id_for"]

_Spec = tuple[SodaRequest, CutoutSpec]
"""A task's work as a one-cutout request (its options) and that cutout (source, filters)."""


_ATTEMPTS = 3
"""Cuts of one task at most, when its source is replaced under it each time."""

_SUFFIXES = {"application/fits": ".fits", "image/png": ".png", "image/jpeg": ".jpg"}


@dataclass
class Worker:
    """Executes job messages with the given clients."""

    clients: Clients
    sources: SourceCache = field(default_factory=SourceCache)
    finalizer: Finalizer = field(init=False)
    cost: ReadCost = field(init=False)

    def __post_init__(self) -> None:
        self.finalizer = Finalizer(clients=self.clients)
        settings = self.clients.settings
        self.cost = ReadCost(
            round_trip=settings.read_round_trip_seconds,
            bandwidth=settings.read_bandwidth_bytes,
            max_concurrency=settings.read_concurrency,
            total_bandwidth=settings.read_total_bandwidth_bytes,
            max_span_bytes=settings.read_max_span_bytes,
        )

    def handle(self, message: JobMessage) -> None:
        """Run every cutout of ``message`` that is not done yet.

        Raises
        ------
        SkycutError
            A transient error (storage or Firestore unavailable): the message
            is not acknowledged and Pub/Sub delivers it again.

        """
        store = self.clients.jobs
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
        watch = JobWatch(
            store=store, record=record, on_end=self.clients.events.announce
        )
        began = time.monotonic()
        statuses = {rid: result.status for rid, result in recorded.items()}
        todo = [t for t in message.tasks if result_id_for(t.index) not in statuses]
        new: list[StoredResult] = []
        try:
            # A few cutouts at once: each waits on storage and Firestore round trips,
            # and the emulator (like a busy instance) delivers only a few messages at once.
            with (
                steps.step("cut"),
                ThreadPoolExecutor(max_workers=self.clients.settings.cutout_concurrency) as pool,
            ):
                # cutouts of one image read it together: one read plan for all of them
                specs = {t.index: self._spec(t) for t in todo}  # built once, from the works
                groups = by_source(todo)
                prefetched = pool.map(lambda g: self._prefetch(g, specs, watch), groups.values())
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
                    ended = self._end_whole(record, new, message, done=done, failed=failed)
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
                    self._discard_if_stopped(job_id, new, watch)
        except JobStoppedError:
            # every cutout of this message has stopped or finished by now (the pool
            # waited for them); aborted jobs keep nothing, so remove what they wrote
            self.clients.results.delete([r.object_name for r in new])
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
                finished = self.finish_if_complete(
                    job_id, known=(record, Progress(total, done, failed))
                )
                if not finished and not self._kept_after_stop(job_id, new, watch, record):
                    return
            else:
                self.finish_if_complete(job_id)
        self._handled(job_id, todo, began, received_at, steps)

    def _handled(
        self, job_id: str, todo: list[CutoutTask], began: float, received_at: float, steps: Steps
    ) -> None:
        if todo:
            self.clients.service_state.record_throughput(
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

    def _end_whole(
        self,
        record: JobRecord,
        results: list[StoredResult],
        message: JobMessage,
        *,
        done: int,
        failed: int,
    ) -> JobRecord | None:
        """End a job its one message holds, with its results, in one write (None: not done)."""
        if record.kind == "bulk" or record.job.phase != ExecutionPhase.EXECUTING:
            return None  # bulk jobs write their manifests from the stored results first
        ended = self.clients.jobs.complete_with_results(
            record,
            results,
            batch_id(message.tasks),
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
        self.finalizer.announce(ended, progress, manifest_url=manifest_url)

    def _run_checked(
        self,
        record: JobRecord,
        message: JobMessage,
        task: CutoutTask,
        parsed: _Spec | UsageError,
        watch: JobWatch,
        written: list[StoredResult],
        shared: SharedSource | None,
    ) -> StoredResult:
        watch.check()
        result = self._run_task(record, message, task, parsed, watch, shared)
        written.append(result)  # list.append is atomic: the pool's threads share the list
        return result

    def _discard_if_stopped(
        self, job_id: str, results: list[StoredResult], watch: JobWatch
    ) -> None:
        # An ABORT may have deleted the job's results between our last check
        # and this write; aborted jobs keep nothing, so look again and undo.
        # A job another delivery of this message ended keeps them: they are its own.
        try:
            watch.check(force=True)
        except JobStoppedError:
            current = self.clients.jobs.load(job_id, counts=False)
            if current is not None and current.job.phase in (
                ExecutionPhase.COMPLETED,
                ExecutionPhase.ERROR,
            ):
                return
            for result in results:
                self.clients.jobs.delete_result(job_id, result.result_id)
            self.clients.results.delete([r.object_name for r in results])
            raise

    def _kept_after_stop(
        self, job_id: str, results: list[StoredResult], watch: JobWatch, record: JobRecord
    ) -> bool:
        """After a whole job's end found it stopped: undo if aborted; False if so."""
        try:
            self._discard_if_stopped(job_id, results, watch)
        except JobStoppedError:
            log(logging.INFO, "job left EXECUTING; stopping", job_id=job_id,
                run_id=record.job.run_id)  # fmt: skip
            return False
        return True

    def _spec(self, task: CutoutTask) -> _Spec | UsageError:
        """Return a task's cutout built from its work (no text parsed), or why it cannot run."""
        work = task.work
        try:
            check_source(work.source, allowed_buckets=self.clients.settings.source_buckets)
            spec = work.spec()
        except UsageError as e:
            return e
        request = SodaRequest(
            sources=(spec.source,),
            stencils=() if spec.stencil is None else (spec.stencil,),
            bands=() if spec.band is None else (spec.band,),
            times=() if spec.time is None else (spec.time,),
            pol=spec.pol,
            response_format=work.response_format,
            detail=work.detail,
            mask_outside=work.mask_outside,
        )
        return request, spec

    def _open(
        self, source: SourceRef, stats: ReadStats, watch: JobWatch
    ) -> tuple[GcsRangeReader, RangeReader]:
        """Return a reader of the version of ``source`` last seen, bare and wrapped for cuts."""
        gcs = GcsRangeReader(
            client=self.clients.storage, source=source, generation=self.sources.latest(source)
        )
        # remembers the header chunk, which often holds a tile table or first rows
        return gcs, RememberingReader(WatchedReader(CountingReader(gcs, stats), watch))

    def _index(self, gcs: GcsRangeReader, reader: RangeReader) -> FitsIndex:
        chunk = self.clients.settings.header_chunk_bytes

        def scan() -> FitsIndex:
            return scan_fits(reader, stop_after=named_image, chunk_size=chunk)

        version = gcs.version
        if version is None:  # a source not seen before: the scan's first read names its version
            index = scan()
            version = gcs.confirm()
            self.sources.put_index(version, index)
            return index
        return self.sources.index(version, scan)

    def _tile_tables(
        self, version: ObjectVersion, reader: RangeReader
    ) -> Callable[[HduInfo], TileTable]:
        return lambda hdu: self.sources.tile_table(
            version, hdu, lambda: read_tile_table(reader, hdu, cost=self.cost)
        )

    def _prefetch(
        self, group: list[CutoutTask], specs: dict[int, _Spec | UsageError], watch: JobWatch
    ) -> SharedSource | None:
        """Fetch the pixels of a group of cutouts of one image together (None: one by one)."""
        if len(group) < 2:
            return None
        cutouts = []
        for task in group:
            parsed = specs[task.index]
            if isinstance(parsed, UsageError):
                continue  # its own run reports the error
            request, spec = parsed
            cutouts.append((task, request, spec))
        if len(cutouts) < 2:
            return None
        settings = self.clients.settings
        source = cutouts[0][2].source
        stats = ReadStats()
        gcs, reader = self._open(source, stats, watch)
        try:
            index = self._index(gcs, reader)
            version = gcs.confirm()
            shared = prefetch_group(
                reader,
                stats,
                [(task, request, spec.selection) for task, request, spec in cutouts],
                source_id=source.uri,
                index=index,
                cost=self.cost,
                tile_tables=self._tile_tables(version, reader),
                max_pixels=settings.max_cutout_pixels,
                chunk_size=settings.header_chunk_bytes,
                version=version,
            )
        except SourceChangedError:
            if gcs.version is not None:
                self.sources.forget(gcs.version)
            return None  # each cutout reads the live version on its own
        except SkycutError as e:
            if e.error_type == "transient":
                raise
            return None
        return shared

    def _cut(
        self,
        request: SodaRequest,
        spec: CutoutSpec,
        task: CutoutTask,
        stats: ReadStats,
        watch: JobWatch,
        shared: SharedSource | None,
    ) -> tuple[Cutout, ObjectVersion]:
        """Cut one task from one version of its source, and name that version.

        Every read is pinned to one generation of the object; if it was
        replaced (before or during the cut) the cut starts over on the live
        version, so a result is never made of a stale header or mixed bytes.
        """
        settings = self.clients.settings
        cut_task = partial(
            cut,
            selection=spec.selection,
            source_id=spec.source.uri,
            detail=request.detail,
            mask_outside=request.mask_outside,
            response_format=request.response_format,
            chunk_size=settings.header_chunk_bytes,
            max_pixels=settings.max_cutout_pixels,
        )
        if shared is not None:
            stats.requests, stats.bytes = shared.share(task.index)
            try:
                cutout = cut_task(
                    shared.reader,
                    index=shared.index,
                    cost=MEMORY_COST,
                    tile_tables=self._tile_tables(shared.version, shared.reader),
                    plan=shared.plans.get(task.index),
                    source_generation=shared.version.generation,
                )
            except SourceChangedError:
                self.sources.forget(shared.version)  # cut it alone, from the live version
            else:
                return cutout, shared.version
        for attempt in range(1, _ATTEMPTS + 1):
            gcs, reader = self._open(spec.source, stats, watch)
            try:
                try:
                    index = self._index(gcs, reader)
                    version = gcs.confirm()
                    cutout = cut_task(
                        reader,
                        index=index,
                        cost=self.cost,
                        tile_tables=self._tile_tables(version, reader),
                        source_generation=version.generation,
                    )
                except SkycutError as e:
                    if e.error_type != "transient" and gcs.version is not None:
                        gcs.confirm()  # an answer from cached headers alone is checked too
                    raise
                self.sources.put_index(version, cutout.index)
                return cutout, version
            except SourceChangedError:
                if gcs.version is not None:
                    self.sources.forget(gcs.version)
                if attempt == _ATTEMPTS:
                    raise  # transient: the message is delivered again
        raise AssertionError("unreachable")  # pragma: no cover

    def _run_task(
        self,
        record: JobRecord,
        message: JobMessage,
        task: CutoutTask,
        parsed: _Spec | UsageError,
        watch: JobWatch,
        shared: SharedSource | None,
    ) -> StoredResult:
        writer = self.clients.results
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
                cutout, version = self._cut(request, spec, task, stats, watch, shared)
            generation = version.generation
            mime: str = cutout.content_type
            name = f"jobs/{job_id}/{rid}{_SUFFIXES.get(mime, '')}"
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
            name = f"jobs/{job_id}/{rid}.txt"
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
        )

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
        store = self.clients.jobs
        if known is not None:
            record, progress = known
        else:
            loaded = store.load(job_id)
            if loaded is None or loaded.job.progress is None:
                return False
            record, progress = loaded, loaded.job.progress
        if progress.done + progress.failed < progress.total:
            return False
        manifest_url = self.finalizer.prepare(record)
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
