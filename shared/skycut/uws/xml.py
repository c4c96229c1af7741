"""UWS 1.1 and DALI XML documents for skycut's jobs.

Every builder returns a complete UTF-8 document with an XML declaration.
UWS documents are vo-models' pydantic-xml models (with skycut's additions in
:mod:`skycut.uws.xml_models`), so element order follows ``UWS-v1.1.xsd``;
unset times are ``xsi:nil`` because an empty ``xs:dateTime`` is invalid
(UWS 1.1 §2.2.1.1, appendix B). The DALI error VOTable, which vo-models does
not model, is built with lxml.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urljoin

from lxml import etree
from vo_models.uws.models import ErrorSummary, Jobs, Parameter, ResultReference, Results
from vo_models.uws.models import ShortJobDescription as JobRef
from vo_models.uws.types import ErrorType, UWSVersion

from skycut.uws.model import ErrorSummary as JobError
from skycut.uws.model import Job, JobParameter, JobResult
from skycut.uws.model import Progress as JobProgress
from skycut.uws.xml_models import (
    PROGRESS_NS,
    JobDocument,
    JobInfo,
    ParameterList,
    Progress,
    as_utc,
    present,
    render,
)

__all__ = [
    "PROGRESS_NS",
    "UWS_NS",
    "VOTABLE_NS",
    "XLINK_NS",
    "XSI_NS",
    "error_votable",
    "format_time",
    "job_location",
    "job_xml",
    "jobs_xml",
    "parameters_xml",
    "parse_time",
    "results_xml",
]

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"

# DALI 1.1 §3.3.3 dates and times, plus the 6-digit fractions pyvo sends.
_TIME_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,6}))?Z?)?",
    re.ASCII,
)


def format_time(dt: datetime) -> str:
    """Format an instant as UWS wants it: UTC, ``T`` separator, ``Z``, milliseconds.

    Parameters
    ----------
    dt
        The instant; a naive value is taken to be UTC.

    Returns
    -------
    text
        For example ``2026-11-21T22:00:00.123Z`` (sub-millisecond digits are
        dropped).

    """
    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_time(text: str) -> datetime:
    """Parse a DALI/UWS timestamp into an aware UTC datetime.

    Parameters
    ----------
    text
        ``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ss`` with an optional fraction of
        up to 6 digits and an optional ``Z``; values without ``Z`` are UTC too.

    Returns
    -------
    instant
        The parsed time, with ``tzinfo=UTC``.

    Raises
    ------
    ValueError
        If ``text`` is not in one of those forms or is not a real date/time.

    """
    match = _TIME_RE.fullmatch(text.strip())
    if match is None:
        msg = f"not a DALI timestamp (YYYY-MM-DD['T'hh:mm:ss[.SSS]][Z]): {text!r}"
        raise ValueError(msg)
    date, time, fraction = match.group("date", "time", "fraction")
    iso = date if time is None else f"{date}T{time}.{(fraction or '').ljust(6, '0')}"
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError as e:
        msg = f"not a valid date or time: {text!r}"
        raise ValueError(msg) from e
    return parsed.replace(tzinfo=UTC)


def job_location(base_url: str, job_id: str) -> str:
    """Return the URL of a job: ``<base_url>/<job_id>``.

    Parameters
    ----------
    base_url
        URL of the ``{async}`` job list; a trailing slash is ignored.
    job_id
        The job's identifier.

    Returns
    -------
    url
        The job's URL.

    """
    return f"{base_url.rstrip('/')}/{job_id}"


def job_xml(job: Job, *, base_url: str) -> bytes:
    """Build the ``uws:job`` document returned at ``/{jobs}/{job-id}``.

    Parameters
    ----------
    job
        The job to describe.
    base_url
        URL of the ``{async}`` job list; relative result hrefs are resolved
        against the job's URL below it.

    Returns
    -------
    document
        A ``uws:job version="1.1"`` document, valid against UWS-v1.1.xsd.

    """
    document = JobDocument.model_validate(
        {
            "version": UWSVersion.V1_1,
            "job_id": job.job_id,
            "owner_id": job.owner,
            "phase": job.phase.value,
            "quote": as_utc(job.quote),
            "creation_time": as_utc(job.creation_time),
            "start_time": as_utc(job.start_time),
            "end_time": as_utc(job.end_time),
            "execution_duration": job.execution_duration,
            "destruction": as_utc(job.destruction),
            "parameters": _parameters(job.parameters),
            "results": _results(job.results, job_url=job_location(base_url, job.job_id)),
            **present(
                run_id=job.run_id,
                error_summary=_error_summary(job.error),
                job_info=_job_info(job.progress),
            ),
        }
    )
    return render(document)


def jobs_xml(jobs: Iterable[Job], *, base_url: str) -> bytes:
    """Build the ``uws:jobs`` list returned at ``/{jobs}``.

    Parameters
    ----------
    jobs
        The jobs to list, in the order to show them.
    base_url
        URL of the ``{async}`` job list; each ``jobref`` links to
        ``<base_url>/<job_id>``.

    Returns
    -------
    document
        A ``uws:jobs version="1.1"`` document, valid against UWS-v1.1.xsd.

    """
    refs = [
        JobRef.model_validate(
            {
                "job_id": job.job_id,
                "href": job_location(base_url, job.job_id),
                "phase": job.phase.value,
                "owner_id": job.owner,
                "creation_time": as_utc(job.creation_time),
                **present(run_id=job.run_id),
            }
        )
        for job in jobs
    ]
    return render(Jobs(version=UWSVersion.V1_1, jobref=refs))


def results_xml(results: Iterable[JobResult], *, job_url: str) -> bytes:
    """Build the ``uws:results`` document returned at ``/{jobs}/{job-id}/results``.

    Parameters
    ----------
    results
        The job's results.
    job_url
        The job's URL (see :func:`job_location`); relative result hrefs are
        resolved against it.

    Returns
    -------
    document
        A ``uws:results`` document, valid against UWS-v1.1.xsd.

    """
    return render(_results(results, job_url=job_url))


def parameters_xml(parameters: Iterable[JobParameter]) -> bytes:
    """Build the ``uws:parameters`` document returned at ``/{jobs}/{job-id}/parameters``.

    Parameters
    ----------
    parameters
        The job's parameters, repeated names kept as separate entries.

    Returns
    -------
    document
        A ``uws:parameters`` document, valid against UWS-v1.1.xsd.

    Raises
    ------
    ValueError
        If a value holds characters XML cannot carry (e.g. control characters).

    """
    return render(_parameters(parameters))


def error_votable(message: str) -> bytes:
    """Build a DALI VOTable error document (DALI 1.1 §4.4).

    Parameters
    ----------
    message
        The error text, normally starting with its label
        (``UsageError: ...``).

    Returns
    -------
    document
        A VOTable 1.4 document whose ``RESOURCE type="results"`` holds
        ``INFO name="QUERY_STATUS" value="ERROR"`` with ``message`` as text.

    """
    # lxml-stubs leave out the None key that declares a default namespace
    nsmap = {None: VOTABLE_NS}
    root = etree.Element(f"{{{VOTABLE_NS}}}VOTABLE", nsmap=nsmap, version="1.4")  # type: ignore[arg-type]
    resource = etree.SubElement(root, f"{{{VOTABLE_NS}}}RESOURCE", type="results")
    info = etree.SubElement(resource, f"{{{VOTABLE_NS}}}INFO", name="QUERY_STATUS", value="ERROR")
    info.text = message
    return _serialize(root)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _parameters(parameters: Iterable[JobParameter]) -> ParameterList:
    return ParameterList(parameter=[Parameter(id=p.name, value=p.value) for p in parameters])


def _results(results: Iterable[JobResult], *, job_url: str) -> Results:
    base = job_url.rstrip("/") + "/"
    references = [
        ResultReference.model_validate(
            {
                "id": result.result_id,
                "href": urljoin(base, result.href),
                **present(mime_type=result.mime_type, size=result.size),
            }
        )
        for result in results
    ]
    return Results(results=references)


def _error_summary(error: JobError | None) -> ErrorSummary | None:
    if error is None:
        return None
    return ErrorSummary(
        message=error.message, type=ErrorType(error.error_type), has_detail=error.has_detail
    )


def _job_info(progress: JobProgress | None) -> JobInfo | None:
    if progress is None:
        return None
    counts = Progress(total=progress.total, done=progress.done, failed=progress.failed)
    return JobInfo(progress=counts)
