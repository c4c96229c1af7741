"""Turning drop-file rows into cutout tasks, each checked as a SODA request.

Columns (names case-insensitive):

``id``
    The image, ``gs://<bucket>/<object>``. Without it the row's stencil is
    cut from **every indexed image it overlaps** (:mod:`skycut.sia.covering`),
    one cutout per image, oldest first; ``collection``, ``dptype`` (and
    ``band``, ``time``) then choose among them.
``circle`` / ``polygon`` / ``range`` / ``pos``
    The stencil as the SODA parameter of that name takes it (``range`` is
    ``lon1 lon2 lat1 lat2``), or ``ra``, ``dec``, ``radius`` in degrees.
``band``, ``time``, ``pol``, ``detail``, ``format``, ``maskoutside``
    Optional, as SODA ``BAND``, ``TIME``, ``POL`` (several values separated
    by spaces), ``DETAIL``, ``RESPONSEFORMAT`` and ``MASKOUTSIDE``.
``collection``, ``dptype``
    Only for rows without ``id``: the images' collection(s) and data product
    type(s) (``image``, ``cube``), several separated by spaces. ``band`` and
    ``time`` of such a row also choose the images, as in SIA 2.0.
``label``
    Optional free text copied to the manifest (and result names).

Empty cells are absent values; job-wide options fill cells a row leaves empty.
A row without ``id`` that no image covers is reported as ``no_image``,
not dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from skycut.bulk.formats import RawRow
from skycut.errors import SkycutError, UsageError
from skycut.jobs.messages import CutoutTask, FoundImage
from skycut.sia.covering import ImageChoice, works_by_position
from skycut.sia.params import parse_dptype
from skycut.soda.params import SodaRequest, group_params, parse_soda_request
from skycut.soda.work import CutWork, works_of

if TYPE_CHECKING:
    from skycut.bulk.found import ImageFinder

__all__ = [
    "OPTION_COLUMNS",
    "BadRow",
    "ParsedRows",
    "RowRequest",
    "row_params",
    "tasks_from_rows",
]

_STENCIL_COLUMNS = {"circle": "CIRCLE", "polygon": "POLYGON", "pos": "POS"}
# per-row options that may also be set for the whole job
OPTION_COLUMNS = {
    "band": "BAND",
    "time": "TIME",
    "detail": "DETAIL",
    "format": "RESPONSEFORMAT",
    "maskoutside": "MASKOUTSIDE",
}
_CHOICE_COLUMNS = ("collection", "dptype")
_KNOWN = {
    "id", "ra", "dec", "radius", "range", "pol", "label",
    *_STENCIL_COLUMNS, *OPTION_COLUMNS, *_CHOICE_COLUMNS,
}  # fmt: skip
_MAX_LABEL = 200
RowStatus = Literal["error", "no_image"]


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that cannot become a cutout, and why.

    ``id`` and ``label`` are the row's cells of those names as written (empty
    when it has none), so the manifest can name the row it refused.
    ``status`` is ``no_image`` for a row without ``id`` that no indexed
    image covers, ``error`` for a row that is wrong.
    """

    line: int
    row: str
    reason: str
    id: str = ""
    label: str = ""
    status: RowStatus = "error"


@dataclass(frozen=True, slots=True)
class ParsedRows:
    """The good rows of a drop file as tasks, and the bad ones as reports.

    ``total_rows`` is every data row read. A row names one image or, without
    ``id``, makes one task per image covering it, so the job's outcomes
    (its progress total) are ``len(tasks) + len(bad)``.
    """

    tasks: list[CutoutTask]
    bad: list[BadRow]
    total_rows: int

    @property
    def outcomes(self) -> int:
        """One per cutout to make and one per row refused: what the manifest lists."""
        return len(self.tasks) + len(self.bad)


@dataclass(frozen=True, slots=True)
class RowRequest:
    """A row's SODA parameters, and for a row without ``id`` how its images are chosen."""

    params: list[tuple[str, str]]
    choice: ImageChoice | None = None


def row_params(values: Mapping[str, str], options: Mapping[str, str]) -> RowRequest:
    """Return the SODA parameters of one row (job-wide ``options`` fill empty cells).

    Raises
    ------
    UsageError
        If the row has several stencils, unknown columns, no stencil and no
        ``id``, or ``collection``/``dptype`` beside an ``id``.

    """
    if "__error__" in values:
        raise UsageError(values["__error__"])
    unknown = sorted(set(values) - _KNOWN)
    if unknown:
        raise UsageError(f"unknown column(s) {unknown}; known: {sorted(_KNOWN)}")
    cells = {k: v.strip() for k, v in values.items() if v is not None and v.strip()}
    pairs = [("ID", cells["id"])] if "id" in cells else []
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
    chosen = [c for c in _CHOICE_COLUMNS if c in cells]
    if "id" in cells:
        if chosen:
            raise UsageError(
                f"{' and '.join(chosen)} choose the images of a row without id; "
                "this row names its image"
            )
        return RowRequest(params=pairs)
    if not stencils:
        raise UsageError(
            "the row has no id (the gs:// URI of the image) and no position to find the "
            "images covering it by (ra/dec/radius, circle, polygon, range or pos)"
        )
    return RowRequest(
        params=pairs,
        choice=ImageChoice(
            collections=tuple(cells.get("collection", "").split()),
            dptypes=tuple(parse_dptype(t) for t in cells.get("dptype", "").split()),
        ),
    )


def _works(
    request: SodaRequest, choice: ImageChoice | None, line: int, find: ImageFinder | None
) -> list[tuple[CutWork, FoundImage | None]]:
    """Return a row's cutouts: of its image, or of every image its stencil overlaps."""
    if choice is None:
        works = works_of(request)
        if len(works) != 1:
            raise UsageError("a row must describe exactly one cutout")
        return [(works[0], None)]
    if find is None:
        raise UsageError("rows without id need the image index, which is not available here")
    # a row has one stencil and at most one BAND and TIME: one combination
    return works_by_position(
        request, choice, lambda stencil, narrowed: find(line, stencil, narrowed)
    )


def tasks_from_rows(
    rows: Iterable[RawRow],
    *,
    allowed_buckets: Sequence[str],
    options: Mapping[str, str],
    find: ImageFinder | None = None,
    max_cutouts: int | None = None,
) -> ParsedRows:
    """Check every row as a SODA request; keep the good as tasks, report the bad.

    Parameters
    ----------
    rows
        The drop file's data rows.
    allowed_buckets
        The buckets an ``id`` may name.
    options
        Job-wide options filling cells a row leaves empty.
    find
        Finds the images of rows without ``id`` (None: such rows are refused).
    max_cutouts
        The most cutouts the rows may make together.

    Good rows are numbered in file order (a row without ``id``, one number
    per image it covers), then sorted by image, so each job message (and so
    each worker) gets one image's cutouts together and reads its header once.

    Raises
    ------
    UsageError
        If the rows make more than ``max_cutouts`` cutouts.

    """
    tasks: list[CutoutTask] = []
    bad: list[BadRow] = []
    total = 0
    for raw in rows:
        total += 1
        label = raw.values.get("label", "").strip()[:_MAX_LABEL]
        try:
            row = row_params(raw.values, options)
            request = parse_soda_request(
                group_params(row.params),
                allowed_buckets=allowed_buckets,
                require_complete=row.choice is None,
            )
            works = _works(request, row.choice, raw.line, find)  # the row is parsed here, once
        except SkycutError as e:
            bad.append(
                BadRow(
                    line=raw.line,
                    row=raw.text,
                    reason=e.to_text(),
                    id=raw.values.get("id", "").strip(),
                    label=label,
                )
            )
            continue
        if not works and row.choice is not None:
            narrowed = f" ({row.choice.describe()})" if row.choice.describe() else ""
            bad.append(
                BadRow(
                    line=raw.line,
                    row=raw.text,
                    reason=f"no indexed image{narrowed} covers {request.stencils[0].to_soda()}",
                    label=label,
                    status="no_image",
                )
            )
            continue
        for work, found in works:
            tasks.append(
                CutoutTask(
                    index=len(tasks), work=work, label=label or None, row=raw.line, image=found
                )
            )
        if max_cutouts is not None and len(tasks) > max_cutouts:
            raise UsageError(
                f"the rows make more than {max_cutouts} cutouts (rows without id make one "
                "per image covering them), over the limit per job; split the file"
            )
    tasks.sort(key=lambda t: (t.source_id, t.index))
    return ParsedRows(tasks=tasks, bad=bad, total_rows=total)
