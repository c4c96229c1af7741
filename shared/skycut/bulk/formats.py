"""Reading drop files: CSV, VOTable and JSON Lines, each into numbered rows of text.

Whatever the format, a row becomes a mapping of lower-cased column names to
text values, with the line (or table row) number a user can find it by.
Which columns mean what is decided in :mod:`skycut.bulk.rows`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from skycut.errors import UsageError

__all__ = ["DropFormat", "RawRow", "detect_format", "read_rows"]

DropFormat = Literal["csv", "votable", "jsonl"]


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row as read: where it is, its values, and its text for error reports."""

    line: int
    values: dict[str, str]
    text: str


def detect_format(name: str, data: bytes, content_type: str | None = None) -> DropFormat:
    """Decide the format from the name's suffix, else the content type, else the content."""
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lower.endswith((".xml", ".vot", ".votable")):
        return "votable"
    if lower.endswith((".csv", ".txt")):
        return "csv"
    if content_type and ("votable" in content_type or content_type.endswith("/xml")):
        return "votable"
    if content_type and ("ndjson" in content_type or "jsonl" in content_type):
        return "jsonl"
    head = data[:512].lstrip()
    if head.startswith(b"<"):
        return "votable"
    if head.startswith(b"{"):
        return "jsonl"
    return "csv"


def read_rows(data: bytes, fmt: DropFormat, *, max_rows: int) -> Iterator[RawRow]:
    """Yield the rows of a drop file.

    Raises
    ------
    UsageError
        If the file cannot be read as ``fmt`` at all, or has more than
        ``max_rows`` rows (the whole file is refused: nothing runs).

    """
    reader = {"csv": _csv_rows, "votable": _votable_rows, "jsonl": _jsonl_rows}[fmt]
    for count, row in enumerate(reader(data), start=1):
        if count > max_rows:
            raise UsageError(f"the drop file has more than {max_rows} rows; split it")
        yield row


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(
            f"the drop file is not UTF-8 text (bad byte at offset {e.start}); "
            "use CSV, VOTable or JSON Lines"
        ) from e


def _csv_rows(data: bytes) -> Iterator[RawRow]:
    text = _text(data)
    if "\x00" in text:
        raise UsageError("the drop file holds NUL bytes: it is not CSV text")
    lines = io.StringIO(text)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise UsageError("the CSV file is empty; it needs a header row") from None
    except csv.Error as e:
        raise UsageError(f"the CSV header cannot be read: {e}") from e
    names = [h.strip().lower() for h in header]
    if len(set(names)) != len(names):
        raise UsageError(f"the CSV header repeats a column: {header}")
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            line = reader.line_num
            text_row = ",".join(values)
            if len(values) != len(names):
                yield RawRow(
                    line, {"__error__": f"{len(values)} values for {len(names)} columns"}, text_row
                )
                continue
            yield RawRow(line, dict(zip(names, (v.strip() for v in values), strict=True)), text_row)
    except csv.Error as e:
        raise UsageError(f"the CSV file cannot be read near line {reader.line_num}: {e}") from e


def _scalar(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return " ".join(_scalar(v) for v in value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays (VOTable array columns)
        return _scalar(value.tolist())
    return str(value)


def _jsonl_rows(data: bytes) -> Iterator[RawRow]:
    for number, line in enumerate(_text(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield RawRow(number, {"__error__": f"not JSON: {e.msg}"}, line)
            continue
        if not isinstance(obj, dict):
            yield RawRow(number, {"__error__": "a line must be a JSON object"}, line)
            continue
        yield RawRow(number, {str(k).strip().lower(): _scalar(v) for k, v in obj.items()}, line)


def _votable_rows(data: bytes) -> Iterator[RawRow]:
    from astropy.io.votable import parse_single_table
    from astropy.io.votable.exceptions import VOTableSpecWarning, VOWarning

    try:
        with warnings.catch_warnings():
            # lenient about the many small spec deviations real VOTables carry
            warnings.simplefilter("ignore", VOWarning)
            warnings.simplefilter("ignore", VOTableSpecWarning)
            table = parse_single_table(io.BytesIO(data), verify="ignore").to_table()
    except Exception as e:  # astropy raises many types for unreadable XML
        raise UsageError(f"the VOTable cannot be read: {e}") from e
    names = [name.strip().lower() for name in table.colnames]
    for number, row in enumerate(table, start=1):
        values = {}
        for name, column in zip(names, table.colnames, strict=True):
            value = row[column]
            masked = getattr(value, "mask", False)
            values[name] = "" if masked is True else _scalar(value)
        yield RawRow(number, values, ",".join(values.values()))
