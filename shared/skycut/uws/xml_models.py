"""pydantic-xml models of the UWS 1.1 documents skycut serves, on top of vo-models.

`vo-models <https://vo-models.readthedocs.io/>`_ (what safir's UWS renders
with) models UWS 1.1; skycut adds three things it cannot express as is:

- ``uws:parameters``: vo-models' ``Parameters`` wants one model field per
  parameter name, fixed in the class (a subclass with a list field serialises
  as an empty element). Skycut keeps the names the user sent, repeats in order,
  so :class:`ParameterList` holds a plain list of ``uws:parameter``.
- ``uws:jobInfo``: vo-models types it as a list of strings, written as escaped
  text (invalid: jobInfo is element-only, and at most one). :class:`JobDocument`
  puts :class:`JobInfo` there, holding the ``skycut:progress`` element.
- times: vo-models' ``UTCTimestamp`` keeps the wall time of an aware non-UTC
  datetime and labels it ``Z`` (and rejects negative offsets), so every time
  goes through :func:`as_utc` first.

:func:`render` writes an element only for a field that was set: an unset
``runId`` is left out (vo-models would write it empty) while a field set to
None becomes ``xsi:nil`` (pydantic-xml's ``skip_empty`` would drop those too,
leaving an anonymous job without its required ``ownerId``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from pydantic_xml import BaseXmlModel, element
from vo_models.uws.models import NSMAP, JobSummary, Parameter

__all__ = [
    "PROGRESS_NS",
    "JobDocument",
    "JobInfo",
    "ParameterList",
    "Progress",
    "as_utc",
    "present",
    "render",
]

PROGRESS_NS = "https://skycut.dev/xml/progress/v1"


class ParameterList(BaseXmlModel, tag="parameters", ns="uws", nsmap=NSMAP):
    """``uws:parameters``: every parameter as sent, repeated names included."""

    parameter: list[Parameter] = element(tag="parameter", default_factory=list)


class Progress(BaseXmlModel, tag="progress", ns="skycut", nsmap={"skycut": PROGRESS_NS}):
    """``skycut:progress``: how many of a job's cutouts are done or failed."""

    total: int = element(tag="total")
    done: int = element(tag="done")
    failed: int = element(tag="failed")


class JobInfo(BaseXmlModel, tag="jobInfo", ns="uws", nsmap=NSMAP):
    """``uws:jobInfo`` as skycut fills it."""

    progress: Progress = element(tag="progress")


class JobDocument(JobSummary[ParameterList], tag="job"):
    """``uws:job`` with skycut's parameters and ``jobInfo``."""

    # vo-models types jobInfo as text, which the schema does not allow there
    job_info: JobInfo | None = element(tag="jobInfo", default=None)  # type: ignore[assignment]


@overload
def as_utc(dt: datetime) -> datetime: ...
@overload
def as_utc(dt: None) -> None: ...
def as_utc(dt: datetime | None) -> datetime | None:
    """Return an instant in UTC, the only form vo-models' timestamps convert right.

    Parameters
    ----------
    dt
        The instant, or None; a naive value is taken to be UTC.

    Returns
    -------
    instant
        The same instant with ``tzinfo=UTC``, or None.

    """
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def present(**fields: object) -> dict[str, object]:
    """Keep the fields whose value is not None: elements and attributes to write.

    Parameters
    ----------
    **fields
        Model fields that are absent from the document when None (unlike the
        nillable UWS times and ``ownerId``, which must be set to None).

    Returns
    -------
    fields
        The fields to set.

    """
    return {name: value for name, value in fields.items() if value is not None}


def render(document: BaseXmlModel) -> bytes:
    """Serialise a model as a UTF-8 document, writing only the fields that were set.

    Parameters
    ----------
    document
        The model of the document.

    Returns
    -------
    document
        The document with its XML declaration.

    Raises
    ------
    ValueError
        If a value holds characters XML cannot carry (e.g. control characters).

    """
    data = document.to_xml(exclude_unset=True, xml_declaration=True, encoding="UTF-8")
    return data if isinstance(data, bytes) else data.encode()
