"""Turning drop-file rows into cutout tasks, each checked as a SODA request.

Columns (names case-insensitive):

``id``
    The image, ``gs://<bucket>/<object>`` (required).
``circle`` / ``polygon`` / ``range`` / ``pos``
    The stencil as the SODA parameter of that name takes it (``range`` is
    ``lon1 lon2 lat1 lat2``), or ``ra``, ``dec``, ``radius`` in degrees.
``band``, ``time``, ``pol``, ``detail``, ``format``, ``maskoutside``
    Optional, as SODA ``BAND``, ``TIME``, ``POL`` (several values separated
    by spaces), ``DETAIL``, ``RESPONSEFORMAT`` and ``MASKOUTSIDE``.
``label``
    Optional free text copied to the manifest (and result names).

Empty cells are absent values; job-wide options fill cells a row leaves empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from skycut.bulk.formats import RawRow
from skycut.errors import SkycutError, UsageError
from skycut.jobs.messages import CutoutTask
from skycut.soda.params import group_params, parse_soda_request
from skycut.soda.work import works_of

__all__ = ["OPTION_COLUMNS", "BadRow", "ParsedRows", "row_params", "tasks_from_rows"]

_STENCIL_COLUMNS = {"circle": "CIRCLE", "polygon": "POLYGON", "pos": "POS"}
# per-row options that may also be set for the whole job
OPTION_COLUMNS = {
    "band": "BAND",
    "time": "TIME",
    "detail": "DETAIL",
    "format": "RESPONSEFORMAT",
    "maskoutside": "MASKOUTSIDE",
}
_KNOWN = {"id", "ra", "dec", "radius", "range", "pol", "label", *_STENCIL_COLUMNS, *OPTION_COLUMNS}
_MAX_LABEL = 200


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that cannot become a cutout, and why.

    ``id`` and ``label`` are the row's cells of those names as written (empty
    when it has none), so the manifest can name the row it refused.
    """

    line: int
    row: str
    reason: str
    id: str = ""
    label: str = ""


@dataclass(frozen=True, slots=True)
class ParsedRows:
    """The good rows of a drop file as tasks, and the bad ones as reports.

    ``total_rows`` is every data row read: ``len(tasks) + len(bad)``.
    """

    tasks: list[CutoutTask]
    bad: list[BadRow]
    total_rows: int


def row_params(values: Mapping[str, str], options: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return the SODA parameters of one row (job-wide ``options`` fill empty cells).

    Raises
    ------
    UsageError
        If the row names no image, several stencils, or unknown columns.

    """
    if "__error__" in values:
        raise UsageError(values["__error__"])
    unknown = sorted(set(values) - _KNOWN)
    if unknown:
        raise UsageError(f"unknown column(s) {unknown}; known: {sorted(_KNOWN)}")
    cells = {k: v.strip() for k, v in values.items() if v is not None and v.strip()}
    if "id" not in cells:
        raise UsageError("the row has no id (the gs:// URI of the image)")
    pairs = [("ID", cells["id"])]
    stencils = [(name, cells[col]) for col, name in _STENCIL_COLUMNS.items() if col in cells]
    if "range" in cells:
        stencils.append(("POS", f"RANGE {cells['range']}"))
    position = [c for c in ("ra", "dec", "radius") if c in cells]
    if position:
        if len(position) != 3:
            raise UsageError("ra, dec and radius go together (degrees)")
        stencils.append(("CIRCLE", f"{cells['ra']} {cells['dec']} {cells['radius']}"))
    if len(stencils) > 1:
        raise UsageError("a row takes one stencil: circle, polygon, range, pos or ra/dec/radius")
    pairs += stencils
    for column, name in OPTION_COLUMNS.items():
        value = cells.get(column) or options.get(column)
        if value:
            pairs.append((name, value))
    pol = cells.get("pol") or options.get("pol")
    if pol:
        pairs += [("POL", p) for p in pol.replace(",", " ").split()]
    return pairs


def tasks_from_rows(
    rows: Iterable[RawRow],
    *,
    allowed_buckets: Sequence[str],
    options: Mapping[str, str],
) -> ParsedRows:
    """Check every row as a one-cutout SODA request; keep the good, report the bad.

    Good rows are numbered in file order, then sorted by image, so each job
    message (and so each worker) gets one image's cutouts together and reads
    its header once.
    """
    tasks: list[CutoutTask] = []
    bad: list[BadRow] = []
    total = 0
    for raw in rows:
        total += 1
        try:
            pairs = row_params(raw.values, options)
            request = parse_soda_request(group_params(pairs), allowed_buckets=allowed_buckets)
            works = works_of(request)  # the row is parsed here, once
            if len(works) != 1:
                raise UsageError("a row must describe exactly one cutout")
            label = raw.values.get("label", "").strip()[:_MAX_LABEL] or None
        except SkycutError as e:
            bad.append(
                BadRow(
                    line=raw.line,
                    row=raw.text,
                    reason=e.to_text(),
                    id=raw.values.get("id", "").strip(),
                    label=raw.values.get("label", "").strip()[:_MAX_LABEL],
                )
            )
            continue
        tasks.append(
            CutoutTask(index=len(tasks), work=works[0], label=label, row=raw.line)
        )
    tasks.sort(key=lambda t: (t.source_id, t.index))
    return ParsedRows(tasks=tasks, bad=bad, total_rows=total)
