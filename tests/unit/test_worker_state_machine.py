"""The worker's state machine on the in-memory job store, in milliseconds.

Duplicate deliveries, jobs of several messages and an ABORT racing the end
run through the real `Worker` with `MemoryJobStore`; only the cloud's
storage and Pub/Sub are stood in for (a results bucket and a publisher in
memory, sources read from local files). The same paths over the emulators
are in tests/functions/test_cutout_worker.py and tests/integration.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from skycut.config import Settings
from skycut.cutout.reader import LocalFileReader
from skycut.jobs.completion import JobCompletion
from skycut.jobs.events import JobEvents
from skycut.jobs.memory_store import MemoryJobStore
from skycut.jobs.messages import CutoutTask, JobMessage
from skycut.jobs.records import JobKind, JobRecord
from skycut.soda.ids import ObjectVersion, SourceRef
from skycut.soda.params import group_params, parse_soda_request
from skycut.soda.work import works_of
from skycut.uws.model import ExecutionPhase, Job, Progress
from skycut.worker.cutter import Cutter
from skycut.worker.finalize import Finalizer
from skycut.worker.run import Worker

BUCKET = "sky"


class ResultsBucket:
    """The results bucket, in memory."""

    bucket_name = "results"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def write(self, name: str, data: bytes, *, content_type: str, expires: Any = None) -> int:
        self.objects[name] = data
        return len(data)

    def delete(self, names: list[str]) -> None:
        for name in names:
            self.objects.pop(name, None)

    def url(self, name: str) -> str:
        return f"memory://{name}"


class Publisher:
    """A Pub/Sub publisher that keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def publish(self, topic: str, data: bytes, **attributes: str) -> Future[str]:
        with self._lock:
            self.events.append(json.loads(data))
        done: Future[str] = Future()
        done.set_result("1")
        return done


class QuietServiceState:
    def record_throughput(self, *, cutouts: int, seconds: float) -> None:
        pass


class LocalSource(LocalFileReader):
    """A local file as one version of a source object; ``on_read`` runs before each read."""

    def __init__(self, path: Path, source: SourceRef, on_read: Any = None) -> None:
        super().__init__(path)
        self.version = ObjectVersion(source, 7)
        self._on_read = on_read

    def confirm(self) -> ObjectVersion:
        return self.version

    def read_range(self, start: int, stop: int) -> bytes:
        if self._on_read is not None:
            self._on_read()
        return super().read_range(start, stop)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    header = fits.Header()
    header.update(
        CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=10.0, CRVAL2=20.0, CRPIX1=100.5,
        CRPIX2=100.5, CD1_1=-1e-4, CD1_2=0.0, CD2_1=0.0, CD2_2=1e-4,
    )  # fmt: skip
    data = np.arange(200 * 200, dtype=np.float32).reshape(200, 200)
    path = tmp_path / "sky.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header, name="IMAGE")]).writeto(path)
    return path


@dataclass
class Cloud:
    """What the worker keeps in the cloud, in memory: the job store and the results bucket."""

    jobs: MemoryJobStore
    results: ResultsBucket


def make_worker(
    image: Path, *, on_read: Any = None, store: MemoryJobStore | None = None
) -> tuple[Worker, Cloud, Publisher]:
    settings = Settings(source_buckets=[BUCKET], public_base_url="http://sky.test")
    cloud = Cloud(jobs=store or MemoryJobStore(), results=ResultsBucket())
    publisher = Publisher()
    # the rest of the cloud, in memory too: Pub/Sub and the service state
    events = JobEvents(
        store=cloud.jobs,
        publisher=publisher,
        topic_path="projects/sky/topics/job-events",
        public_base_url=settings.public_base_url,
    )
    finalizer = Finalizer(store=cloud.jobs, events=events, results=cloud.results)
    worker = Worker(
        store=cloud.jobs,
        events=events,
        results=cloud.results,
        cutter=Cutter.from_settings(
            settings, lambda source, generation: LocalSource(image, source, on_read)
        ),
        completion=JobCompletion(store=cloud.jobs, events=events, prepare=finalizer.prepare),
        finalizer=finalizer,
        service_state=QuietServiceState(),
        concurrency=settings.cutout_concurrency,
    )
    return worker, cloud, publisher


def tasks(count: int) -> list[CutoutTask]:
    out = []
    for i in range(count):
        pairs = [("ID", f"gs://{BUCKET}/sky.fits"), ("CIRCLE", f"{10 + i * 1e-3} 20 0.002")]
        (work,) = works_of(parse_soda_request(group_params(pairs), allowed_buckets=[BUCKET]))
        out.append(CutoutTask(index=i, work=work))
    return out


def queued(cloud: Cloud, job_tasks: list[CutoutTask], kind: JobKind = "soda") -> str:
    job_id = f"job-{len(job_tasks)}-{datetime.now(UTC).timestamp()}"
    cloud.jobs.create(
        JobRecord(
            job=Job(
                job_id=job_id,
                owner="dev",
                phase=ExecutionPhase.QUEUED,
                creation_time=datetime.now(UTC),
                destruction=datetime.now(UTC) + timedelta(days=1),
                progress=Progress(total=len(job_tasks)),
            ),
            tasks=job_tasks,
            kind=kind,
        )
    )
    return job_id


def test_a_message_delivered_three_times_gives_one_result_set_and_one_event(image):
    worker, cloud, publisher = make_worker(image)
    job_tasks = tasks(3)
    job_id = queued(cloud, job_tasks)
    for _ in range(3):
        worker.handle(JobMessage(job_id=job_id, tasks=job_tasks))
    record = cloud.jobs.load(job_id)
    assert record is not None
    assert record.job.phase == ExecutionPhase.COMPLETED
    assert record.job.progress == Progress(total=3, done=3, failed=0)
    assert [r.status for r in cloud.jobs.results(job_id)] == ["ok"] * 3
    assert [e["job_id"] for e in publisher.events] == [job_id]
    assert record.announcement.finalized is True


def test_concurrent_deliveries_end_the_job_once(image):
    worker, cloud, publisher = make_worker(image)
    job_tasks = tasks(2)
    job_id = queued(cloud, job_tasks)
    start = threading.Barrier(3)

    def deliver() -> None:
        start.wait()
        worker.handle(JobMessage(job_id=job_id, tasks=job_tasks))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = cloud.jobs.load(job_id)
    assert record is not None
    assert record.job.phase == ExecutionPhase.COMPLETED
    assert record.job.progress == Progress(total=2, done=2, failed=0)
    assert len(cloud.jobs.results(job_id)) == 2
    assert len(publisher.events) == 1
    results = cloud.results
    assert isinstance(results, ResultsBucket)
    assert len(results.objects) == 2, "the cutouts of every delivery are the same objects"


def test_a_job_of_several_messages_is_counted_once_each_and_ended_by_the_last(image):
    worker, cloud, publisher = make_worker(image)
    job_tasks = tasks(4)
    job_id = queued(cloud, job_tasks)
    first, second = job_tasks[:2], job_tasks[2:]
    worker.handle(JobMessage(job_id=job_id, tasks=first))
    worker.handle(JobMessage(job_id=job_id, tasks=first))  # redelivered
    running = cloud.jobs.load(job_id)
    assert running is not None
    assert running.job.phase == ExecutionPhase.EXECUTING
    assert running.job.progress == Progress(total=4, done=2, failed=0)
    worker.handle(JobMessage(job_id=job_id, tasks=second))
    ended = cloud.jobs.load(job_id)
    assert ended is not None
    assert ended.job.phase == ExecutionPhase.COMPLETED
    assert ended.job.progress == Progress(total=4, done=4, failed=0)
    assert len(publisher.events) == 1


def test_an_abort_during_the_cut_keeps_nothing(image):
    store = MemoryJobStore()
    job_tasks = tasks(2)
    aborted: list[str] = []

    def abort_once() -> None:
        if not aborted:
            aborted.append(job_id)
            store.abort(job_id)  # the owner's ABORT arrives while the worker reads

    worker, cloud, _ = make_worker(image, on_read=abort_once, store=store)
    job_id = queued(cloud, job_tasks)
    worker.handle(JobMessage(job_id=job_id, tasks=job_tasks))
    record = store.load(job_id)
    assert record is not None
    assert record.job.phase == ExecutionPhase.ABORTED
    assert store.results(job_id) == []
    results = cloud.results
    assert isinstance(results, ResultsBucket)
    assert results.objects == {}


def test_a_message_of_a_job_that_ended_changes_nothing(image):
    worker, cloud, _ = make_worker(image)
    job_tasks = tasks(1)
    job_id = queued(cloud, job_tasks)
    cloud.jobs.abort(job_id)
    worker.handle(JobMessage(job_id=job_id, tasks=job_tasks))
    assert cloud.jobs.results(job_id) == []
    record = cloud.jobs.load(job_id)
    assert record is not None
    assert record.job.phase == ExecutionPhase.ABORTED


def test_a_bulk_job_found_complete_by_two_deliveries_writes_its_outputs_once(image):
    """Both deliveries that count the last results see the job complete; one writes."""
    _, cloud, publisher = make_worker(image)
    job_tasks = tasks(2)
    job_id = queued(cloud, job_tasks, kind="bulk")
    cloud.jobs.start(cloud.jobs.load(job_id))  # type: ignore[arg-type]
    cloud.jobs.record_and_count(job_id, [], "b0", done=1, failed=0)
    cloud.jobs.record_and_count(job_id, [], "b1", done=2, failed=0)
    prepared: list[str] = []

    def prepare(ending: JobRecord) -> str | None:
        prepared.append(ending.job.job_id)
        time.sleep(0.05)  # writing manifests and packages takes a while
        return "memory://jobs/manifest.csv"

    events = JobEvents(
        store=cloud.jobs, publisher=publisher, topic_path="projects/sky/topics/job-events",
        public_base_url="http://sky.test",
    )  # fmt: skip
    completion = JobCompletion(store=cloud.jobs, events=events, prepare=prepare)
    start = threading.Barrier(2)
    ended: list[bool] = []

    def finish() -> None:
        start.wait()
        ended.append(completion.finish_if_complete(job_id))

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert prepared == [job_id]
    assert sorted(ended) == [False, True]
    final = cloud.jobs.load(job_id)
    assert final is not None
    assert final.job.phase == ExecutionPhase.COMPLETED
    assert [e["job_id"] for e in publisher.events] == [job_id]
