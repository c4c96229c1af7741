"""The manifest of a bulk job: one line per row of its drop file, as CSV and as a VOTable.

Every data row is there, in file order: the rows that ran with their
result (``ok``, ``no_overlap`` or ``error`` when the cut failed) and the rows
refused before anything ran (``error``, with the reason and no result). A
row without ``id`` has one line per image it was cut from, with the image's
collection, band and time (MJD) as the index gave them, or one ``no_image``
line if no indexed image covers it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from astropy.table import Table

from skycut.bulk.rows import BadRow
from skycut.jobs.records import StoredResult

__all__ = ["ManifestRow", "manifest_csv", "manifest_rows", "manifest_votable"]

_COLUMNS = (
    "row", "label", "id", "collection", "band", "mjd", "stencil", "status", "result_id", "url",
    "error",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """What became of one cutout."""

    row: int
    label: str
    id: str
    collection: str
    band: str
    mjd: str
    stencil: str
    status: str
    result_id: str
    url: str
    error: str


def manifest_rows(
    results: Sequence[StoredResult],
    *,
    refused: Sequence[BadRow] = (),
    url_of: dict[str, str],
) -> list[ManifestRow]:
    """Return the manifest rows of a job, in file order.

    Parameters
    ----------
    results
        The job's results; those that are not cutouts (reports, manifests) are left out.
    refused
        The rows refused before the job ran (its errors report).
    url_of
        The link of each result, by result id.

    """
    rows = []
    for result in results:
        if result.index < 0:
            continue  # the errors report and other non-cutout results
        rows.append(
            ManifestRow(
                row=result.line,
                label=result.label or "",
                id=result.source_id or "",
                collection=result.found.collection if result.found else "",
                band=(result.found.band or "") if result.found else "",
                mjd=_mjd(result.found.mjd if result.found else None),
                stencil=result.query or "",
                status=result.status,
                result_id=result.result_id,
                url=url_of.get(result.result_id, "") if result.status == "ok" else "",
                error=result.message or "" if result.status != "ok" else "",
            )
        )
    rows += [
        ManifestRow(
            row=bad.line,
            label=bad.label,
            id=bad.id,
            collection="",
            band="",
            mjd="",
            stencil="",
            status=bad.status,
            result_id="",
            url="",
            error=bad.reason,
        )
        for bad in refused
    ]
    rows.sort(key=lambda r: (r.row, r.mjd == "", float(r.mjd or 0), r.id))
    return rows


def _mjd(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


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
