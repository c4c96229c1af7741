"""The errors report of a bulk job: every row that could not run, by line."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime

from skycut.bulk.rows import BadRow
from skycut.clients import Clients
from skycut.jobs.records import StoredResult

__all__ = ["ERRORS_RESULT_ID", "attach_errors_report"]

ERRORS_RESULT_ID = "errors"


def attach_errors_report(
    clients: Clients, job_id: str, bad: Sequence[BadRow], *, expires: datetime | None
) -> None:
    """Write the bad rows as CSV (line, row, reason) and list it as the job's ``errors`` result."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["line", "row", "reason"])
    for row in bad:
        writer.writerow([row.line, row.row, row.reason])
    results = clients.results
    name = f"jobs/{job_id}/errors.csv"
    size = results.write(name, buffer.getvalue().encode(), content_type="text/csv", expires=expires)
    clients.jobs.attach_result(
        job_id,
        StoredResult(
            result_id=ERRORS_RESULT_ID,
            index=-1,
            status="error",
            bucket=results.bucket_name,
            object_name=name,
            mime_type="text/csv",
            size=size,
            message=f"{len(bad)} row(s) could not be used",
            created=datetime.now(UTC),
            expires=expires,
        ),
    )
