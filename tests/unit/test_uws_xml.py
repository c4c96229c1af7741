"""UWS 1.1 job documents and DALI timestamps: schema-valid and what clients read."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from pyvo.io.uws import parse_job, parse_job_list

from skycut.uws.model import (
    ErrorSummary,
    ExecutionPhase,
    Job,
    JobParameter,
    JobResult,
    Progress,
)
from skycut.uws.xml import (
    PROGRESS_NS,
    UWS_NS,
    VOTABLE_NS,
    XLINK_NS,
    XSI_NS,
    error_votable,
    format_time,
    job_location,
    job_xml,
    jobs_xml,
    parameters_xml,
    parse_time,
    results_xml,
)
from skycut.xsd import load_schema

NS = {"uws": UWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS, "p": PROGRESS_NS, "v": VOTABLE_NS}
BASE = "https://cutouts.example.org/soda/async"
CREATED = datetime(2026, 11, 21, 22, 0, 0, 123456, tzinfo=UTC)
NIL = f"{{{XSI_NS}}}nil"
HREF = f"{{{XLINK_NS}}}href"

# UWS-v1.1.xsd JobSummary sequence, in order
JOB_ORDER = [
    "jobId",
    "runId",
    "ownerId",
    "phase",
    "quote",
    "creationTime",
    "startTime",
    "endTime",
    "executionDuration",
    "destruction",
    "parameters",
    "results",
    "errorSummary",
    "jobInfo",
]


def make_job(phase: ExecutionPhase, **changes: object) -> Job:
    """Return a job with the fields a job in ``phase`` normally has set."""
    job = Job(
        job_id="j-0001",
        owner=None,
        phase=phase,
        creation_time=CREATED,
        parameters=[
            JobParameter("ID", "gs://bucket/img.fits"),
            JobParameter("CIRCLE", "12 34 0.5"),
            JobParameter("CIRCLE", "13 35 0.5"),
        ],
    )
    if phase not in (ExecutionPhase.PENDING, ExecutionPhase.QUEUED, ExecutionPhase.HELD):
        job.start_time = CREATED + timedelta(seconds=1)
        job.progress = Progress(total=2, done=1)
    if phase in (ExecutionPhase.COMPLETED, ExecutionPhase.ARCHIVED):
        job.end_time = CREATED + timedelta(seconds=5)
        job.progress = Progress(total=2, done=2)
        job.results = [
            JobResult("cutout-1", "results/cutout-1", "application/fits", 2880),
            JobResult("cutout-2", "https://storage.example.org/r/c2.fits?sig=a&exp=1"),
        ]
    if phase in (ExecutionPhase.ERROR, ExecutionPhase.ABORTED):
        job.end_time = CREATED + timedelta(seconds=2)
    if phase is ExecutionPhase.ERROR:
        job.error = ErrorSummary("UsageError: CIRCLE does not overlap the image")
    for name, value in changes.items():
        setattr(job, name, value)
    return job


def parse(document: bytes) -> etree._Element:
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return etree.fromstring(document)


def assert_valid(root: etree._Element) -> None:
    load_schema("uws").assertValid(root)


def text(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    assert len(found) == 1, f"{path}: {len(found)} matches"
    value = found[0]
    assert isinstance(value, str)
    return value


def many(root: etree._Element, path: str) -> list[etree._Element]:
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [element for element in found if isinstance(element, etree._Element)]


def only(root: etree._Element, path: str) -> etree._Element:
    found = many(root, path)
    assert len(found) == 1, f"{path}: {len(found)} matches"
    return found[0]


def is_nil(element: etree._Element) -> bool:
    return element.get(NIL) == "true" and element.text is None and len(element) == 0


# --- uws:job ---------------------------------------------------------------


@pytest.mark.parametrize("phase", list(ExecutionPhase))
@pytest.mark.parametrize(("owner", "run_id"), [(None, None), ("alice@example.org", "my-run-42")])
def test_job_xml_is_valid_in_every_phase(
    phase: ExecutionPhase, owner: str | None, run_id: str | None
) -> None:
    root = parse(job_xml(make_job(phase, owner=owner, run_id=run_id), base_url=BASE))

    assert_valid(root)
    assert root.tag == f"{{{UWS_NS}}}job"
    assert root.get("version") == "1.1"
    assert text(root, "uws:phase/text()") == phase.value
    names = [etree.QName(child).localname for child in root]
    assert names == [name for name in JOB_ORDER if name in names]


def test_pending_job_has_nil_times_owner_and_no_extras() -> None:
    root = parse(job_xml(make_job(ExecutionPhase.PENDING), base_url=BASE))

    assert text(root, "uws:jobId/text()") == "j-0001"
    for name in ("ownerId", "quote", "startTime", "endTime", "destruction"):
        assert is_nil(only(root, f"uws:{name}")), name
    assert many(root, "uws:runId | uws:errorSummary | uws:jobInfo") == []
    assert len(only(root, "uws:results")) == 0
    assert text(root, "uws:executionDuration/text()") == "0"


def test_creation_time_is_utc_with_milliseconds_and_z() -> None:
    root = parse(job_xml(make_job(ExecutionPhase.PENDING), base_url=BASE))

    assert text(root, "uws:creationTime/text()") == "2026-11-21T22:00:00.123Z"
    assert only(root, "uws:creationTime").get(NIL) is None


def test_set_times_owner_and_run_id_are_shown() -> None:
    later = datetime(2026, 11, 28, 23, 0, tzinfo=timezone(timedelta(hours=1)))
    job = make_job(
        ExecutionPhase.EXECUTING,
        owner="alice@example.org",
        run_id="my-run-42",
        destruction=later,
        quote=later,
        execution_duration=600,
    )
    root = parse(job_xml(job, base_url=BASE))

    assert text(root, "uws:ownerId/text()") == "alice@example.org"
    assert only(root, "uws:ownerId").get(NIL) is None
    assert text(root, "uws:runId/text()") == "my-run-42"
    assert text(root, "uws:startTime/text()") == "2026-11-21T22:00:01.123Z"
    assert text(root, "uws:destruction/text()") == "2026-11-28T22:00:00.000Z"
    assert text(root, "uws:quote/text()") == "2026-11-28T22:00:00.000Z"
    assert text(root, "uws:executionDuration/text()") == "600"
    assert is_nil(only(root, "uws:endTime"))


def test_parameters_keep_names_values_and_repeats_in_order() -> None:
    root = parse(job_xml(make_job(ExecutionPhase.PENDING), base_url=BASE))

    params = many(root, "uws:parameters/uws:parameter")
    assert [(p.get("id"), p.text) for p in params] == [
        ("ID", "gs://bucket/img.fits"),
        ("CIRCLE", "12 34 0.5"),
        ("CIRCLE", "13 35 0.5"),
    ]


def test_completed_job_lists_results_with_absolute_hrefs() -> None:
    root = parse(job_xml(make_job(ExecutionPhase.COMPLETED), base_url=BASE + "/"))

    first = only(root, "uws:results/uws:result[@id='cutout-1']")
    assert first.get(HREF) == f"{BASE}/j-0001/results/cutout-1"
    assert first.get("mime-type") == "application/fits"
    assert first.get("size") == "2880"
    second = only(root, "uws:results/uws:result[@id='cutout-2']")
    assert second.get(HREF) == "https://storage.example.org/r/c2.fits?sig=a&exp=1"
    assert second.get("mime-type") is None
    assert second.get("size") is None


def test_error_job_has_error_summary() -> None:
    root = parse(job_xml(make_job(ExecutionPhase.ERROR), base_url=BASE))

    summary = only(root, "uws:errorSummary")
    assert summary.get("type") == "fatal"
    assert summary.get("hasDetail") == "true"
    assert text(root, "uws:errorSummary/uws:message/text()") == (
        "UsageError: CIRCLE does not overlap the image"
    )


def test_transient_error_without_detail() -> None:
    error = ErrorSummary("ServiceUnavailable: storage", error_type="transient", has_detail=False)
    root = parse(job_xml(make_job(ExecutionPhase.ERROR, error=error), base_url=BASE))

    assert_valid(root)
    assert only(root, "uws:errorSummary").get("type") == "transient"
    assert only(root, "uws:errorSummary").get("hasDetail") == "false"


def test_progress_is_in_job_info() -> None:
    job = make_job(ExecutionPhase.EXECUTING, progress=Progress(total=4, done=2, failed=1))
    root = parse(job_xml(job, base_url=BASE))

    counts = {
        name: text(root, f"uws:jobInfo/p:progress/p:{name}/text()")
        for name in ("total", "done", "failed")
    }
    assert counts == {"total": "4", "done": "2", "failed": "1"}


def test_job_without_progress_has_no_job_info() -> None:
    root = parse(job_xml(make_job(ExecutionPhase.EXECUTING, progress=None), base_url=BASE))

    assert_valid(root)
    assert many(root, "uws:jobInfo") == []


def test_pyvo_reads_a_completed_job() -> None:
    job = make_job(ExecutionPhase.COMPLETED, owner="alice", run_id="r1")
    parsed = parse_job(io.BytesIO(job_xml(job, base_url=BASE)))

    assert parsed.phase == "COMPLETED"
    assert parsed.jobid == "j-0001"
    assert parsed.creationtime.isot == "2026-11-21T22:00:00.123"
    assert [r.href for r in parsed.results] == [
        f"{BASE}/j-0001/results/cutout-1",
        "https://storage.example.org/r/c2.fits?sig=a&exp=1",
    ]


def test_times_west_of_utc_are_converted() -> None:
    eastern = timezone(timedelta(hours=-5))
    job = make_job(
        ExecutionPhase.EXECUTING,
        creation_time=datetime(2026, 11, 21, 17, 0, 0, 250000, tzinfo=eastern),
        destruction=datetime(2026, 11, 28, 19, 30, tzinfo=eastern),
    )
    root = parse(job_xml(job, base_url=BASE))

    assert_valid(root)
    assert text(root, "uws:creationTime/text()") == "2026-11-21T22:00:00.250Z"
    assert text(root, "uws:destruction/text()") == "2026-11-29T00:30:00.000Z"


def test_pyvo_reads_an_error_job() -> None:
    parsed = parse_job(io.BytesIO(job_xml(make_job(ExecutionPhase.ERROR), base_url=BASE)))

    assert parsed.phase == "ERROR"
    assert parsed.errorsummary.message.content == "UsageError: CIRCLE does not overlap the image"
    assert parsed.ownerid is None
    assert parsed.runid is None


def test_pyvo_reads_a_job_list() -> None:
    jobs = [
        make_job(ExecutionPhase.PENDING),
        make_job(ExecutionPhase.COMPLETED, job_id="j-0002", owner="bob", run_id="run-b"),
    ]
    parsed = parse_job_list(io.BytesIO(jobs_xml(jobs, base_url=BASE)))

    assert [(j.jobid, j.phase, j.ownerid, j.runid) for j in parsed] == [
        ("j-0001", "PENDING", None, None),
        ("j-0002", "COMPLETED", "bob", "run-b"),
    ]


# --- the schema check itself can fail -------------------------------------


def test_validation_rejects_a_job_without_phase() -> None:
    root = parse(job_xml(make_job(ExecutionPhase.COMPLETED), base_url=BASE))
    root.remove(only(root, "uws:phase"))

    schema = load_schema("uws")
    assert not schema.validate(root)
    assert "phase" in str(schema.error_log)


def test_validation_rejects_an_empty_time_instead_of_nil() -> None:
    root = parse(job_xml(make_job(ExecutionPhase.PENDING), base_url=BASE))
    start = only(root, "uws:startTime")
    del start.attrib[NIL]

    assert not load_schema("uws").validate(root)


def test_validation_rejects_an_unknown_phase() -> None:
    root = parse(job_xml(make_job(ExecutionPhase.EXECUTING), base_url=BASE))
    only(root, "uws:phase").text = "RUNNING"

    assert not load_schema("uws").validate(root)


# --- uws:jobs, uws:results, uws:parameters ---------------------------------


def test_jobs_xml_links_each_job() -> None:
    jobs = [
        make_job(ExecutionPhase.PENDING),
        make_job(ExecutionPhase.COMPLETED, job_id="j-0002", owner="bob", run_id="run-b"),
    ]
    root = parse(jobs_xml(jobs, base_url=BASE + "/"))

    assert_valid(root)
    assert root.tag == f"{{{UWS_NS}}}jobs"
    assert root.get("version") == "1.1"
    refs = many(root, "uws:jobref")
    assert [(r.get("id"), r.get(HREF)) for r in refs] == [
        ("j-0001", f"{BASE}/j-0001"),
        ("j-0002", f"{BASE}/j-0002"),
    ]
    pending, done = refs
    assert text(pending, "uws:phase/text()") == "PENDING"
    assert many(pending, "uws:runId") == []
    assert is_nil(only(pending, "uws:ownerId"))
    assert text(pending, "uws:creationTime/text()") == "2026-11-21T22:00:00.123Z"
    assert text(done, "uws:phase/text()") == "COMPLETED"
    assert text(done, "uws:runId/text()") == "run-b"
    assert text(done, "uws:ownerId/text()") == "bob"


def test_empty_jobs_list_is_valid() -> None:
    root = parse(jobs_xml([], base_url=BASE))

    assert_valid(root)
    assert len(root) == 0


def test_results_xml_standalone() -> None:
    job = make_job(ExecutionPhase.COMPLETED)
    root = parse(results_xml(job.results, job_url=job_location(BASE, job.job_id)))

    assert_valid(root)
    assert root.tag == f"{{{UWS_NS}}}results"
    assert [r.get(HREF) for r in many(root, "uws:result")] == [
        f"{BASE}/j-0001/results/cutout-1",
        "https://storage.example.org/r/c2.fits?sig=a&exp=1",
    ]


def test_parameters_xml_standalone() -> None:
    params = [JobParameter("POS", "CIRCLE 1 2 0.1"), JobParameter("RUNID", "a <&> b")]
    root = parse(parameters_xml(params))

    assert_valid(root)
    assert root.tag == f"{{{UWS_NS}}}parameters"
    assert [(p.get("id"), p.text) for p in root] == [
        ("POS", "CIRCLE 1 2 0.1"),
        ("RUNID", "a <&> b"),
    ]


def test_parameters_xml_refuses_control_characters() -> None:
    with pytest.raises(ValueError, match="XML compatible"):
        parameters_xml([JobParameter("RUNID", "bell\x07")])


def test_job_location_ignores_trailing_slash() -> None:
    assert job_location(BASE + "/", "abc") == job_location(BASE, "abc") == f"{BASE}/abc"


# --- DALI VOTable error ----------------------------------------------------


def test_error_votable_is_a_valid_dali_error() -> None:
    message = "UsageError: POS <CIRCLE> & friends"
    root = parse(error_votable(message))

    load_schema("votable").assertValid(root)
    assert root.tag == f"{{{VOTABLE_NS}}}VOTABLE"
    assert root.get("version") == "1.4"
    info = only(root, "v:RESOURCE[@type='results']/v:INFO[@name='QUERY_STATUS']")
    assert info.get("value") == "ERROR"
    assert info.text == message


def test_votable_validation_rejects_info_without_value() -> None:
    root = parse(error_votable("Error: boom"))
    del only(root, "v:RESOURCE/v:INFO").attrib["value"]

    assert not load_schema("votable").validate(root)


# --- timestamps -------------------------------------------------------------


@pytest.mark.parametrize(
    ("dt", "expected"),
    [
        (CREATED, "2026-11-21T22:00:00.123Z"),
        (datetime(2026, 11, 21, 22, 0), "2026-11-21T22:00:00.000Z"),
        (
            datetime(2026, 11, 21, 23, 30, 0, 999999, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-21T22:30:00.999Z",
        ),
    ],
)
def test_format_time(dt: datetime, expected: str) -> None:
    assert format_time(dt) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),
        ("2026-11-21T22:00:00", datetime(2026, 11, 21, 22, tzinfo=UTC)),
        ("2026-11-21T22:00:00Z", datetime(2026, 11, 21, 22, tzinfo=UTC)),
        ("2026-11-21T22:00:00.5", datetime(2026, 11, 21, 22, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-21T22:00:00.123Z", datetime(2026, 11, 21, 22, 0, 0, 123000, tzinfo=UTC)),
        ("2026-11-21T22:00:00.123456Z", CREATED),
        (" 2026-11-21T22:00:00Z\n", datetime(2026, 11, 21, 22, tzinfo=UTC)),
    ],
)
def test_parse_time_accepted_forms(text: str, expected: datetime) -> None:
    parsed = parse_time(text)

    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_parse_time_reads_what_pyvo_sends() -> None:
    # pyvo.dal.tap.IVOA_DATETIME_FORMAT, used for DESTRUCTION and the like
    sent = CREATED.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    assert parse_time(sent) == CREATED


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-21T22:00",
        "2026-11-21 22:00:00",
        "2026-11-21T22:00:00.1234567Z",
        "2026-11-21T22:00:00.Z",
        "2026-11-21T22:00:00+01:00",
        "2026-11-21Z",
        "21/11/2026",
        "2026-13-01",
        "2026-02-30",
        "2026-11-21T24:00:00",
        "\uff12\uff10\uff12\uff16-11-21",  # fullwidth digits
    ],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"DALI timestamp|valid date"):
        parse_time(text)


@given(st.datetimes(timezones=st.just(UTC)))
def test_format_then_parse_keeps_the_millisecond(dt: datetime) -> None:
    assert parse_time(format_time(dt)) == dt.replace(microsecond=dt.microsecond // 1000 * 1000)


@given(st.datetimes(timezones=st.just(UTC)))
def test_parse_then_format_is_stable(dt: datetime) -> None:
    text = format_time(dt)

    assert format_time(parse_time(text)) == text
