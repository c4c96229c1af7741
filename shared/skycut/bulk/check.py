"""Checking a bulk file without running it: what each row would become.

The web page shows this before a person submits (and a script may ask the
same): every data row with its line, label and outcome (``ok`` with the
number of cutouts it would make, ``no_image`` when no indexed image covers
a row without ``id``, ``error`` with the reason), exactly as the job would
treat the file, since the same parsing and the same image lookup decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from skycut.bulk.drops import job_options
from skycut.bulk.formats import detect_format, read_rows
from skycut.bulk.found import ImageFinder
from skycut.bulk.rows import tasks_from_rows
from skycut.errors import UsageError

__all__ = ["RowCheck", "check_bulk_file"]


@dataclass(frozen=True, slots=True)
class RowCheck:
    """What one row of a bulk file would become."""

    line: int
    label: str
    status: str
    cutouts: int
    reason: str


def check_bulk_file(
    data: bytes,
    *,
    filename: str,
    content_type: str | None,
    options: Mapping[str, str],
    allowed_buckets: Sequence[str],
    find: ImageFinder,
    max_bytes: int,
    max_rows: int,
) -> dict[str, Any]:
    """Return the outcome of every row of a bulk file, as the job would see them.

    Returns
    -------
    dict
        ``rows`` (data rows read), ``cutouts`` (cutouts the good rows would
        make) and ``lines``: one `RowCheck` per row, in file order.

    Raises
    ------
    UsageError
        If the file cannot be read at all, is too big, or the options are bad.

    """
    if not data:
        raise UsageError("the BULK file is empty")
    if len(data) > max_bytes:
        raise UsageError(f"the BULK file is over {max_bytes} bytes; split it")
    checked = job_options(dict(options))
    fmt = detect_format(filename, data, content_type)
    parsed = tasks_from_rows(
        read_rows(data, fmt, max_rows=max_rows),
        allowed_buckets=allowed_buckets,
        options=checked,
        find=find,
        max_cutouts=max_rows,
    )
    lines: dict[int, RowCheck] = {}
    for task in parsed.tasks:
        line = task.row if task.row is not None else task.index
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
