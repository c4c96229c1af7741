"""Running the cutouts of one job message.

A message carries a batch of a job's cutouts. Each cutout's result is
recorded once (duplicates of a delivery are recognised by the result
document's id) and counted; whichever delivery records the last result
moves the job to its final phase.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from skycut.clients import Clients
from skycut.cutout.engine import cut_circle
from skycut.cutout.fitsindex import named_image, scan_fits
from skycut.cutout.reader import CountingReader, ReadStats
from skycut.cutout.stencil import Circle
from skycut.errors import NoOverlapError, SkycutError
from skycut.jobs.messages import CutoutTask, JobMessage
from skycut.jobs.records import JobRecord, StoredResult
from skycut.logs import log
from skycut.soda.ids import parse_source_id
from skycut.storage.gcs import GcsRangeReader
from skycut.uws.model import ExecutionPhase
from skycut.worker.headers import HeaderCache
from skycut.worker.watch import JobStoppedError, JobWatch, WatchedReader

__all__ = ["Worker", "result_id_for"]


def result_id_for(index: int) -> str:
    """Return the UWS result id of a job's ``index``-th cutout."""
    return f"cutout-{index:06d}"


@dataclass
class Worker:
    """Executes job messages with the given clients."""

    clients: Clients
    headers: HeaderCache

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
        record = store.load(job_id)
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
            started = store.transition(
                job_id,
                allowed_from={ExecutionPhase.QUEUED},
                to=ExecutionPhase.EXECUTING,
                fields={"start_time": datetime.now(UTC)},
            )
            record = started or store.load(job_id) or record
        watch = JobWatch(store=store, record=record)
        began = time.monotonic()
        done = 0
        try:
            for task in message.tasks:
                watch.check()
                result = self._run_task(record, task, watch)
                if store.record_result(job_id, result):
                    done += 1
                    self._discard_if_stopped(job_id, result, watch)
        except JobStoppedError:
            log(
                logging.INFO,
                "job left EXECUTING; stopping",
                job_id=job_id,
                run_id=record.job.run_id,
            )
            return
        self.clients.service_state.record_throughput(cutouts=done, seconds=time.monotonic() - began)
        self._finish_if_complete(job_id)

    def _discard_if_stopped(self, job_id: str, result: StoredResult, watch: JobWatch) -> None:
        # An ABORT may have deleted the job's results between our last check
        # and this write; aborted jobs keep nothing, so look again and undo.
        try:
            watch.check(force=True)
        except JobStoppedError:
            self.clients.jobs.delete_result(job_id, result.result_id)
            self.clients.results.delete([result.object_name])
            raise

    def _run_task(self, record: JobRecord, task: CutoutTask, watch: JobWatch) -> StoredResult:
        settings = self.clients.settings
        writer = self.clients.results
        job_id = record.job.job_id
        expires = record.job.destruction
        rid = result_id_for(task.index)
        stats = ReadStats()
        started = time.monotonic()
        try:
            source = parse_source_id(task.source_id, allowed_buckets=settings.source_buckets)
            reader = WatchedReader(
                CountingReader(GcsRangeReader(client=self.clients.storage, source=source), stats),
                watch,
            )
            index = self.headers.get(source.uri)
            if index is None:
                index = scan_fits(
                    reader, stop_after=named_image, chunk_size=settings.header_chunk_bytes
                )
                self.headers.put(source.uri, index)
            cutout = cut_circle(reader, Circle(*task.circle), source_id=task.source_id, index=index)
            name = f"jobs/{job_id}/{rid}.fits"
            mime = "application/fits"
            size = writer.write(name, cutout.fits_bytes, content_type=mime, expires=expires)
            status: str = "ok"
            message = None
        except SkycutError as e:
            if e.error_type == "transient":
                raise
            status = "no_overlap" if isinstance(e, NoOverlapError) else "error"
            message = e.to_text()
            name = f"jobs/{job_id}/{rid}.txt"
            mime = "text/plain"
            size = writer.write(name, (message + "\n").encode(), content_type=mime, expires=expires)
        log(
            logging.INFO,
            "cutout done",
            job_id=job_id,
            run_id=record.job.run_id,
            result_id=rid,
            status=status,
            source=task.source_id,
            requests=stats.requests,
            bytes_read=stats.bytes,
            seconds=round(time.monotonic() - started, 4),
        )
        return StoredResult(
            result_id=rid,
            index=task.index,
            status=status,  # type: ignore[arg-type]
            bucket=writer.bucket_name,
            object_name=name,
            mime_type=mime,
            size=size,
            message=message,
            label=task.label,
            requests=stats.requests,
            bytes_read=stats.bytes,
            created=datetime.now(UTC),
            expires=expires,
        )

    def _finish_if_complete(self, job_id: str) -> None:
        store = self.clients.jobs
        error_text: list[str] = []

        def decide(record: JobRecord) -> dict[str, object] | None:
            p = record.job.progress
            if record.job.phase != ExecutionPhase.EXECUTING or p is None:
                return None
            if p.done + p.failed < p.total:
                return None
            fields: dict[str, object] = {
                "phase": ExecutionPhase.COMPLETED.value,
                "end_time": datetime.now(UTC),
            }
            if p.total == 1 and p.failed == 1:
                if not error_text:
                    failed = store.results(job_id)
                    error_text.append(
                        failed[0].message or "Error: the cutout failed"
                        if failed
                        else "Error: the cutout failed"
                    )
                fields["phase"] = ExecutionPhase.ERROR.value
                fields["error"] = {"message": error_text[0], "type": "fatal"}
            return fields

        finished = store.change(job_id, decide)
        if finished is not None:
            progress = finished.job.progress
            log(
                logging.INFO,
                "job finished",
                job_id=job_id,
                run_id=finished.job.run_id,
                phase=finished.job.phase.value,
                progress=None if progress is None else asdict(progress),
            )
