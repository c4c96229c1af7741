"""Checking a bulk file without running it: what each row would become.

The web page shows this before a person submits (and a script may ask the
same): every data row with its line, label and outcome (``ok`` with the
number of cutouts it would make, ``no_image`` when no indexed image covers
a row without ``id``, ``error`` with the reason), exactly as the job would
treat the file, since the same parsing and the same image lookup decide.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from skycut.bulk.rows import ParsedRows

__all__ = ["RowCheck", "row_report"]


@dataclass(frozen=True, slots=True)
class RowCheck:
    """What one row of a bulk file would become."""

    line: int
    label: str
    status: str
    cutouts: int
    reason: str


def row_report(parsed: ParsedRows) -> dict[str, Any]:
    """Return what every row of a parsed bulk file would become.

    Returns
    -------
    dict
        ``rows`` (data rows read), ``cutouts`` (cutouts the good rows would
        make) and ``lines``: one `RowCheck` per row, in file order.

    """
    lines: dict[int, RowCheck] = {}
    for task in parsed.tasks:
        line = task.line
        before = lines.get(line)
        lines[line] = RowCheck(
            line=line,
            label=task.label or "",
            status="ok",
            cutouts=1 + (before.cutouts if before else 0),
            reason="",
        )
    for bad in parsed.bad:
        lines[bad.line] = RowCheck(
            line=bad.line, label=bad.label, status=bad.status, cutouts=0, reason=bad.reason
        )
    return {
        "rows": parsed.total_rows,
        "cutouts": len(parsed.tasks),
        "lines": [asdict(lines[k]) for k in sorted(lines)],
    }
