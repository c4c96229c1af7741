"""The errors report of a bulk job: every row refused before anything ran, by line.

A row without ``id`` that no image covers is in it too, with the status
``no_image`` (the others are ``error``).

It is written when the job is created and read again when the job ends, so
the manifest can list the refused rows beside the cutouts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from skycut.bulk.rows import BadRow
from skycut.jobs.records import StoredResult, job_objects_prefix
from skycut.jobs.store import JobStore

__all__ = [
    "ERRORS_RESULT_ID",
    "WriteResult",
    "attach_errors_report",
    "errors_report",
    "read_errors_report",
]

ERRORS_RESULT_ID = "errors"
_COLUMNS = ("line", "row", "reason", "id", "label", "status")


def errors_report(bad: Sequence[BadRow]) -> bytes:
    """Return the refused rows as CSV with a header row (line, row, reason, id, label, status)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_COLUMNS)
    for row in bad:
        writer.writerow([row.line, row.row, row.reason, row.id, row.label, row.status])
    return buffer.getvalue().encode()


def read_errors_report(data: bytes) -> list[BadRow]:
    """Return the rows of an `errors_report` (older reports lack ``id``, ``label``, ``status``)."""
    return [
        BadRow(
            line=int(entry["line"]),
            row=entry["row"],
            reason=entry["reason"],
            id=entry.get("id") or "",
            label=entry.get("label") or "",
            status="no_image" if entry.get("status") == "no_image" else "error",
        )
        for entry in csv.DictReader(io.StringIO(data.decode()))
    ]


def _summary(bad: Sequence[BadRow]) -> str:
    uncovered = sum(1 for row in bad if row.status == "no_image")
    parts = [f"{len(bad) - uncovered} row(s) could not be used"] if len(bad) > uncovered else []
    parts += [f"{uncovered} row(s) covered by no indexed image"] if uncovered else []
    return "; ".join(parts)


class WriteResult(Protocol):
    """Writes one object to the results bucket and returns its size (`ResultWriter.write`)."""

    def __call__(
        self, object_name: str, data: bytes, *, content_type: str, expires: datetime | None = None
    ) -> int:
        """Upload ``data`` as ``object_name``; return its size in bytes."""
        ...


def attach_errors_report(
    store: JobStore,
    write: WriteResult,
    *,
    results_bucket: str,
    job_id: str,
    bad: Sequence[BadRow],
    expires: datetime | None,
) -> None:
    """Write the refused rows as CSV with ``write`` and list it as the job's ``errors`` result.

    Writing it again rewrites the same file under the same result id.
    """
    name = job_objects_prefix(job_id) + "errors.csv"
    size = write(name, errors_report(bad), content_type="text/csv", expires=expires)
    store.attach_result(
        job_id,
        StoredResult(
            result_id=ERRORS_RESULT_ID,
            index=-1,
            status="error",
            bucket=results_bucket,
            object_name=name,
            mime_type="text/csv",
            size=size,
            message=_summary(bad),
            created=datetime.now(UTC),
            expires=expires,
        ),
    )
