"""UWS 1.1 and DALI XML documents for skycut's jobs, built with lxml.

Every builder returns a complete UTF-8 document with an XML declaration.
Element order follows ``UWS-v1.1.xsd``; unset times are ``xsi:nil`` because
an empty ``xs:dateTime`` is invalid (UWS 1.1 §2.2.1.1, appendix B).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urljoin

from lxml import etree

from skycut.uws.model import Job, JobParameter, JobResult

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
PROGRESS_NS = "https://skycut.dev/xml/progress/v1"

_UWS_VERSION = "1.1"
_UWS_NSMAP = {"uws": UWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}

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
    root = etree.Element(_uws("job"), nsmap=_UWS_NSMAP, version=_UWS_VERSION)
    _text(root, "jobId", job.job_id)
    if job.run_id is not None:
        _text(root, "runId", job.run_id)
    _text(root, "ownerId", job.owner)
    _text(root, "phase", str(job.phase))
    _time(root, "quote", job.quote)
    _time(root, "creationTime", job.creation_time)
    _time(root, "startTime", job.start_time)
    _time(root, "endTime", job.end_time)
    _text(root, "executionDuration", str(job.execution_duration))
    _time(root, "destruction", job.destruction)
    _fill_parameters(etree.SubElement(root, _uws("parameters")), job.parameters)
    _fill_results(
        etree.SubElement(root, _uws("results")),
        job.results,
        job_url=job_location(base_url, job.job_id),
    )
    if job.error is not None:
        summary = etree.SubElement(
            root,
            _uws("errorSummary"),
            type=job.error.error_type,
            hasDetail="true" if job.error.has_detail else "false",
        )
        _text(summary, "message", job.error.message)
    if job.progress is not None:
        info = etree.SubElement(root, _uws("jobInfo"))
        progress = etree.SubElement(
            info, f"{{{PROGRESS_NS}}}progress", nsmap={"skycut": PROGRESS_NS}
        )
        for name, count in (
            ("total", job.progress.total),
            ("done", job.progress.done),
            ("failed", job.progress.failed),
        ):
            etree.SubElement(progress, f"{{{PROGRESS_NS}}}{name}").text = str(count)
    return _serialize(root)


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
    root = etree.Element(_uws("jobs"), nsmap=_UWS_NSMAP, version=_UWS_VERSION)
    for job in jobs:
        ref = etree.SubElement(root, _uws("jobref"), id=job.job_id)
        ref.set(f"{{{XLINK_NS}}}href", job_location(base_url, job.job_id))
        _text(ref, "phase", str(job.phase))
        if job.run_id is not None:
            _text(ref, "runId", job.run_id)
        _text(ref, "ownerId", job.owner)
        _time(ref, "creationTime", job.creation_time)
    return _serialize(root)


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
    root = etree.Element(_uws("results"), nsmap=_UWS_NSMAP)
    _fill_results(root, results, job_url=job_url)
    return _serialize(root)


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
    root = etree.Element(_uws("parameters"), nsmap=_UWS_NSMAP)
    _fill_parameters(root, parameters)
    return _serialize(root)


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


def _uws(name: str) -> str:
    return f"{{{UWS_NS}}}{name}"


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _text(parent: etree._Element, name: str, text: str | None) -> None:
    """Append ``uws:<name>`` holding ``text``, or ``xsi:nil`` when it is None."""
    child = etree.SubElement(parent, _uws(name))
    if text is None:
        child.set(f"{{{XSI_NS}}}nil", "true")
    else:
        child.text = text


def _time(parent: etree._Element, name: str, dt: datetime | None) -> None:
    _text(parent, name, None if dt is None else format_time(dt))


def _fill_parameters(element: etree._Element, parameters: Iterable[JobParameter]) -> None:
    for parameter in parameters:
        etree.SubElement(element, _uws("parameter"), id=parameter.name).text = parameter.value


def _fill_results(element: etree._Element, results: Iterable[JobResult], *, job_url: str) -> None:
    base = job_url.rstrip("/") + "/"
    for result in results:
        child = etree.SubElement(element, _uws("result"), id=result.result_id)
        child.set(f"{{{XLINK_NS}}}href", urljoin(base, result.href))
        if result.mime_type is not None:
            child.set("mime-type", result.mime_type)
        if result.size is not None:
            child.set("size", str(result.size))
