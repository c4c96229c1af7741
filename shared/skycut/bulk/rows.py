"""Reading the rows of a bulk drop file into cutout tasks."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from skycut.errors import SkycutError, UsageError
from skycut.jobs.messages import CutoutTask
from skycut.soda.ids import parse_source_id
from skycut.soda.params import parse_circle

__all__ = ["BadRow", "ParsedRows", "parse_csv_rows"]

_REQUIRED = ("id", "ra", "dec", "radius")


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that cannot become a cutout, and why."""

    line: int
    row: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedRows:
    """The good rows of a drop file as tasks, and the bad ones as reports."""

    tasks: list[CutoutTask]
    bad: list[BadRow]


def parse_csv_rows(data: bytes, *, allowed_buckets: list[str], max_rows: int) -> ParsedRows:
    """Parse a CSV with a header row naming ``id, ra, dec, radius`` (and ``label``).

    Raises
    ------
    UsageError
        If the file is not UTF-8 text, lacks a required column or has more
        than ``max_rows`` rows (the whole file is refused).

    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError("the drop file is not UTF-8 text") from e
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise UsageError(f"the CSV header lacks column(s) {missing}; it needs {list(_REQUIRED)}")
    reader.fieldnames = header
    tasks: list[CutoutTask] = []
    bad: list[BadRow] = []
    for number, row in enumerate(reader, start=2):
        if number - 1 > max_rows:
            raise UsageError(f"the drop file has more than {max_rows} rows")
        raw = ",".join(str(v) for v in row.values())
        try:
            source = parse_source_id((row.get("id") or "").strip(), allowed_buckets=allowed_buckets)
            circle = parse_circle(f"{row.get('ra')} {row.get('dec')} {row.get('radius')}")
        except SkycutError as e:
            bad.append(BadRow(line=number, row=raw, reason=e.to_text()))
            continue
        label = (row.get("label") or "").strip() or None
        tasks.append(
            CutoutTask(
                index=len(tasks),
                source_id=source.uri,
                circle=(circle.ra, circle.dec, circle.radius),
                label=label,
            )
        )
    return ParsedRows(tasks=tasks, bad=bad)
