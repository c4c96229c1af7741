"""Job messages and job documents carry each cutout's work; the old forms are still read."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from skycut.api.service import job_tasks as tasks_of_job
from skycut.errors import UsageError
from skycut.jobs.messages import CutoutTask, JobMessage, batches
from skycut.jobs.records import MAX_TASKS_BYTES, JobRecord, tasks_stored_bytes
from skycut.soda.ids import SourceRef
from skycut.soda.params import group_params, parse_soda_request
from skycut.soda.work import CutWork, PolygonStencil, works_of
from skycut.uws.model import ExecutionPhase, Job, JobParameter, Progress

BUCKET = "skycut-sources"
A = f"gs://{BUCKET}/sample/a.fits"
B = f"gs://{BUCKET}/sample/b.fits"
PUBSUB_LIMIT = 10_000_000
JOB_PARAMS = [("ID", A), ("CIRCLE", "150.1 2.2 0.002"), ("CIRCLE", "150.11 2.21 0.003")]


def works(pairs: list[tuple[str, str]]) -> list[CutWork]:
    return works_of(parse_soda_request(group_params(pairs), allowed_buckets=[BUCKET]))


def old_soda_message() -> bytes:
    """A SODA job's message as the API wrote it before works (params + combination)."""
    tasks = [
        {"index": i, "source_id": A, "params": [], "combination": i, "label": None, "row": None}
        for i in range(2)
    ]
    return json.dumps({"job_id": "j", "job_params": JOB_PARAMS, "tasks": tasks}).encode()


def test_a_message_of_the_old_form_is_read_with_each_tasks_own_work():
    message = JobMessage.model_validate_json(old_soda_message())
    assert [t.index for t in message.tasks] == [0, 1]
    assert [t.work for t in message.tasks] == works(JOB_PARAMS)
    assert [t.work.describe() for t in message.tasks] == [
        "CIRCLE=150.1 2.2 0.002",
        "CIRCLE=150.11 2.21 0.003",
    ]


def test_a_bulk_message_of_the_old_form_is_read_row_by_row():
    rows = [
        {"index": 0, "source_id": B, "params": [["ID", B], ["CIRCLE", "1 2 0.1"]], "row": 3},
        {
            "index": 1,
            "source_id": A,
            "params": [["ID", A], ["POS", "RANGE 1 2 3 4"], ["RESPONSEFORMAT", "png"]],
            "combination": 0,
            "label": "second",
            "row": 4,
        },
    ]
    data = json.dumps({"job_id": "j", "job_params": [], "tasks": rows})
    message = JobMessage.model_validate_json(data)
    assert [(t.index, t.source_id, t.label, t.row) for t in message.tasks] == [
        (0, B, None, 3),
        (1, A, "second", 4),
    ]
    assert [t.work.describe() for t in message.tasks] == [
        "CIRCLE=1.0 2.0 0.1",
        "POS=RANGE 1.0 2.0 3.0 4.0; RESPONSEFORMAT=image/png",
    ]


def test_old_tasks_are_read_whatever_buckets_this_deployment_allows():
    """The worker checks every work's bucket itself; reading the message does not."""
    elsewhere = "gs://elsewhere/x.fits"
    data = json.dumps(
        {"job_id": "j", "job_params": [["ID", elsewhere], ["CIRCLE", "1 2 0.1"]],
         "tasks": [{"index": 0, "source_id": elsewhere, "combination": 0}]}
    )  # fmt: skip
    (task,) = JobMessage.model_validate_json(data).tasks
    assert task.work.source == SourceRef("elsewhere", "x.fits")


@pytest.mark.parametrize(
    ("job_params", "combination", "message"),
    [
        ([["ID", A], ["CIRCLE", "1 2"]], 0, "CIRCLE needs 3 numbers"),
        (JOB_PARAMS, 2, "combination 2"),
    ],
)
def test_an_old_message_that_cannot_be_read_is_unreadable(job_params, combination, message):
    data = json.dumps(
        {"job_id": "j", "job_params": job_params,
         "tasks": [{"index": 0, "source_id": A, "params": [], "combination": combination}]}
    )  # fmt: skip
    with pytest.raises(ValidationError, match=message):
        JobMessage.model_validate_json(data)


def test_a_message_as_published_reads_back_the_same():
    tasks = [
        CutoutTask(index=i, work=work, label="x" if i else None)
        for i, work in enumerate(works([*JOB_PARAMS, ("ID", B), ("BAND", "-Inf 6e-7")]))
    ]
    message = JobMessage(job_id="j", tasks=tasks)
    data = message.model_dump_json(exclude_defaults=True)
    assert JobMessage.model_validate_json(data) == message
    assert "job_params" not in data
    assert "source_id" not in data, "the work names the source once"


def record_with(tasks: list[CutoutTask], params: list[tuple[str, str]]) -> JobRecord:
    job = Job(
        job_id="j",
        owner="dev",
        phase=ExecutionPhase.QUEUED,
        creation_time=datetime.now(UTC),
        parameters=[JobParameter(n, v) for n, v in params],
        progress=Progress(total=len(tasks)),
    )
    return JobRecord(job=job, tasks=tasks)


def test_a_job_document_holds_each_task_with_its_work():
    params = [*JOB_PARAMS, ("POLYGON", "150 2 150.1 2 150.1 2.1")]
    tasks = [CutoutTask(index=i, work=w) for i, w in enumerate(works(params))]
    doc = record_with(tasks, params).to_document()
    assert doc["tasks"][2]["work"]["stencil"]["vertices"] == [150.0, 2.0, 150.1, 2.0, 150.1, 2.1]
    assert JobRecord.from_document("j", json.loads(json.dumps(doc, default=str))).tasks == tasks


def test_a_job_document_of_the_old_form_is_read_with_works():
    doc = record_with([], JOB_PARAMS).to_document()
    doc["tasks"] = [
        {"index": i, "source_id": A, "params": [], "combination": i, "label": None, "row": None}
        for i in range(2)
    ]
    tasks = JobRecord.from_document("j", doc).tasks
    assert [t.work for t in tasks] == works(JOB_PARAMS)


def test_an_old_job_document_that_cannot_be_read_has_no_tasks_but_is_still_a_job():
    doc = record_with([], [("ID", A), ("CIRCLE", "1 2")]).to_document()
    doc["tasks"] = [{"index": 0, "source_id": A, "params": [], "combination": 0}]
    record = JobRecord.from_document("j", doc)
    assert record.tasks == []
    assert record.job.phase == ExecutionPhase.QUEUED


def polygon_tasks(count: int, vertices: int) -> list[CutoutTask]:
    """Tasks of one polygon of ``vertices`` full-precision vertices (the longest JSON)."""
    flat = tuple(150.123456789012345 + i * 1.2345678901234e-9 for i in range(2 * vertices))
    work = CutWork(
        source=SourceRef(BUCKET, "survey/tract-0001/patch-0,0/calexp-HSC-I-0001.fits"),
        stencil=PolygonStencil(type="polygon", vertices=flat),
        detail="image,mask,variance",
    )
    return [CutoutTask(index=i, work=work, label=f"label-{i}", row=i + 2) for i in range(count)]


def message_bytes(tasks: list[CutoutTask]) -> int:
    return len(JobMessage(job_id="j" * 32, tasks=tasks).model_dump_json(exclude_defaults=True))


def test_a_message_of_fifty_polygon_cutouts_is_small():
    assert message_bytes(polygon_tasks(50, 20)) < 100_000


def test_the_biggest_message_a_job_can_make_stays_far_below_the_pubsub_limit():
    # a job holds at most MAX_TASKS_BYTES of tasks, so one message of 50 of them does too
    per_task = tasks_stored_bytes(polygon_tasks(1, 1))
    vertices = (MAX_TASKS_BYTES // 50 - per_task) // 16
    tasks = polygon_tasks(50, vertices)
    assert MAX_TASKS_BYTES * 0.95 < tasks_stored_bytes(tasks) <= MAX_TASKS_BYTES
    (message,) = batches(tasks, 50)
    assert message_bytes(message) < PUBSUB_LIMIT / 3


IDS = [("ID", f"gs://{BUCKET}/sample/image-{i:04d}.fits") for i in range(1000)]


def job_tasks(pairs: list[tuple[str, str]]) -> list[CutoutTask]:
    request = parse_soda_request(group_params(pairs), allowed_buckets=[BUCKET])
    return tasks_of_job(request, pairs, covering=None, max_cutouts=10_000)


def test_a_thousand_circle_cutouts_fit_in_their_job_document():
    assert len(job_tasks([*IDS, ("CIRCLE", "150.1 2.2 0.002")])) == 1000


def test_a_job_whose_works_would_not_fit_its_document_is_refused():
    ring = [2 * math.pi * k / 60 for k in range(60)]  # 60 vertices, 16 digits each
    vertices = [f"{150 + math.cos(t) / 100} {2 + math.sin(t) / 100}" for t in ring]
    polygon = ("POLYGON", " ".join(vertices))
    with pytest.raises(UsageError, match=r"1000 cutouts take \d+ bytes to store"):
        job_tasks([*IDS, polygon])
    assert len(job_tasks([*IDS[:500], polygon])) == 500
