"""The manifest of a bulk job: one line per cutout, as CSV and as a VOTable."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from astropy.table import Table

from skycut.jobs.records import StoredResult

__all__ = ["ManifestRow", "manifest_csv", "manifest_rows", "manifest_votable"]

_COLUMNS = ("row", "label", "id", "stencil", "status", "result_id", "url", "error")


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """What became of one cutout."""

    row: int
    label: str
    id: str
    stencil: str
    status: str
    result_id: str
    url: str
    error: str


def manifest_rows(results: Sequence[StoredResult], *, url_of: dict[str, str]) -> list[ManifestRow]:
    """Return the manifest rows of a job's cutout results (reports are left out)."""
    rows = []
    for result in results:
        if result.index < 0:
            continue  # the errors report and other non-cutout results
        rows.append(
            ManifestRow(
                row=result.row if result.row is not None else result.index,
                label=result.label or "",
                id=result.source_id or "",
                stencil=result.query or "",
                status=result.status,
                result_id=result.result_id,
                url=url_of.get(result.result_id, "") if result.status == "ok" else "",
                error=result.message or "" if result.status != "ok" else "",
            )
        )
    return rows


def manifest_csv(rows: Sequence[ManifestRow]) -> bytes:
    """Return the manifest as CSV with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_COLUMNS)
    for row in rows:
        writer.writerow([getattr(row, c) for c in _COLUMNS])
    return buffer.getvalue().encode()


def manifest_votable(rows: Sequence[ManifestRow]) -> bytes:
    """Return the manifest as a VOTable (one table, the same columns as the CSV)."""
    table = Table(
        {c: [getattr(r, c) for r in rows] for c in _COLUMNS},
        dtype=[int] + [str] * (len(_COLUMNS) - 1),
    )
    table["row"].description = "line of the drop file (or row of its table)"
    table["url"].description = "where the cutout is (empty when there is none)"
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    return buffer.getvalue()
