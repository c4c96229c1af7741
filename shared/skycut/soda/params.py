"""SODA request parameters: DALI name handling and stencil parsing.

Parameter names are case-insensitive and values case-sensitive (DALI 1.1
§3.1). Repeated single-valued parameters are refused (DALI §3.2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product

from skycut.cutout.stencil import Circle
from skycut.errors import MultiValuedParamNotSupportedError, UsageError
from skycut.soda.ids import SourceRef, parse_source_id

__all__ = [
    "FITS",
    "CutoutSpec",
    "SodaRequest",
    "group_params",
    "parse_circle",
    "parse_soda_request",
]

FITS = "application/fits"
_RESPONSE_FORMATS = {FITS: FITS, "fits": FITS, "image/fits": FITS}
_MAX_RUNID = 64


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def group_params(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group ``(name, value)`` pairs by upper-cased name, keeping value order.

    Raises
    ------
    UsageError
        If a name or value holds control characters (they could not be shown
        back in the job's XML).

    """
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise UsageError(f"parameter {name[:40]!r} contains control characters")
        grouped.setdefault(name.strip().upper(), []).append(value)
    return grouped


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise MultiValuedParamNotSupportedError(
            f"{name} was given {len(values)} times; it takes one value"
        )
    return values[0]


def _numbers(text: str, *, what: str, count: int) -> list[float]:
    parts = text.split()
    if len(parts) != count:
        raise UsageError(f"{what} needs {count} numbers, got {len(parts)} in {text!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError as e:
        raise UsageError(f"{what} has a value that is not a number in {text!r}") from e
    if not all(math.isfinite(v) for v in values):
        raise UsageError(f"{what} values must be finite numbers, got {text!r}")
    return values


def parse_circle(text: str, *, what: str = "CIRCLE") -> Circle:
    """Parse a DALI circle ``lon lat radius`` in degrees.

    Raises
    ------
    UsageError
        If the text is not three finite numbers with lon in [0, 360],
        lat in [-90, 90] and radius in (0, 180].

    """
    ra, dec, radius = _numbers(text, what=what, count=3)
    if not 0.0 <= ra <= 360.0:
        raise UsageError(f"{what} longitude {ra} is outside [0, 360] degrees")
    if not -90.0 <= dec <= 90.0:
        raise UsageError(f"{what} latitude {dec} is outside [-90, 90] degrees")
    if not 0.0 < radius <= 180.0:
        raise UsageError(f"{what} radius {radius} is outside (0, 180] degrees")
    return Circle(ra=ra % 360.0, dec=dec, radius=radius)


def _parse_pos(text: str) -> Circle:
    shape, _, rest = text.strip().partition(" ")
    if shape == "CIRCLE":
        return parse_circle(rest, what="POS CIRCLE")
    if shape in ("RANGE", "POLYGON"):
        raise UsageError(f"POS {shape} is not supported yet; use POS=CIRCLE <ra> <dec> <radius>")
    raise UsageError(
        f"POS {text!r} must start with CIRCLE, RANGE or POLYGON, e.g. POS=CIRCLE 150.1 2.2 0.01"
    )


@dataclass(frozen=True, slots=True)
class CutoutSpec:
    """One combination of source and stencil: one cutout, one result."""

    source: SourceRef
    circle: Circle


@dataclass(frozen=True, slots=True)
class SodaRequest:
    """A validated SODA request."""

    sources: tuple[SourceRef, ...]
    circles: tuple[Circle, ...]
    response_format: str = FITS
    run_id: str | None = None

    def combinations(self) -> list[CutoutSpec]:
        """Every ID-stencil combination, in request order (SODA §6)."""
        return [CutoutSpec(source=s, circle=c) for s, c in product(self.sources, self.circles)]


def parse_soda_request(
    params: dict[str, list[str]],
    *,
    allowed_buckets: Sequence[str],
    require_complete: bool = True,
) -> SodaRequest:
    """Validate grouped SODA parameters.

    Parameters
    ----------
    params
        Parameters grouped by :func:`group_params`.
    allowed_buckets
        Buckets an ``ID`` may name.
    require_complete
        Require at least one ID and one stencil (true for sync and for running
        a job; false while an async job is still being built up).

    Raises
    ------
    UsageError
        On any malformed or missing value.

    """
    sources = tuple(
        parse_source_id(v, allowed_buckets=allowed_buckets) for v in params.get("ID", [])
    )
    circles = tuple(
        [parse_circle(v) for v in params.get("CIRCLE", [])]
        + [_parse_pos(v) for v in params.get("POS", [])]
    )
    for name in ("BAND", "TIME", "POL", "POLYGON"):
        if params.get(name):
            raise UsageError(f"{name} is not supported yet by this service")
    fmt_text = _single(params, "RESPONSEFORMAT")
    response_format = FITS
    if fmt_text is not None:
        if fmt_text not in _RESPONSE_FORMATS:
            raise UsageError(f"RESPONSEFORMAT {fmt_text!r} is not supported; use {FITS}")
        response_format = _RESPONSE_FORMATS[fmt_text]
    run_id = _single(params, "RUNID")
    if run_id is not None and len(run_id) > _MAX_RUNID:
        raise UsageError(f"RUNID is longer than {_MAX_RUNID} characters")
    if require_complete:
        if not sources:
            raise UsageError("ID is required: the gs:// URI of the image to cut")
        if not circles:
            raise UsageError("a stencil is required, e.g. POS=CIRCLE <ra> <dec> <radius>")
    return SodaRequest(
        sources=sources, circles=circles, response_format=response_format, run_id=run_id
    )
