"""The non-spatial SODA filters: BAND and TIME intervals, POL states.

``BAND`` is a wavelength interval in metres, ``TIME`` an interval in MJD
(UTC), both DALI intervals ``lo hi`` with ``-Inf``/``+Inf`` for open ends
(SODA 1.0 §3.3.4 and §3.3.5); ``lo == hi`` selects a single value. ``POL`` values
are ObsCore ``pol_states`` names (SODA §3.3.6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from skycut.cutout.dali import format_number, parse_numbers
from skycut.errors import UsageError

__all__ = [
    "POL_STATES",
    "STOKES_CODES",
    "Interval",
    "PolState",
    "parse_band",
    "parse_interval",
    "parse_pol",
    "parse_time",
]

PolState = Literal[
    "I", "Q", "U", "V", "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX", "POLI", "POLA"
]
POL_STATES: tuple[PolState, ...] = get_args(PolState)
"""The ObsCore 1.1 ``pol_states`` names ``POL`` accepts."""

STOKES_CODES: dict[PolState, int] = {
    "I": 1, "Q": 2, "U": 3, "V": 4,
    "RR": -1, "LL": -2, "RL": -3, "LR": -4, "XX": -5, "YY": -6, "XY": -7, "YX": -8,
}  # fmt: skip
"""FITS ``STOKES`` axis codes (FITS 4.0 Table 29). ``POLI`` and ``POLA``
(polarised intensity and angle) have no standard code, so they match no
plane of a Stokes axis."""


@dataclass(frozen=True)
class Interval:
    """A closed interval ``[lo, hi]``, either end possibly infinite.

    Parameters
    ----------
    lo, hi
        The bounds, ``lo <= hi``; ``-inf``/``+inf`` for open ends.

    Raises
    ------
    skycut.errors.UsageError
        If a bound is NaN or ``lo > hi``.

    """

    lo: float
    hi: float

    def __post_init__(self) -> None:
        if math.isnan(self.lo) or math.isnan(self.hi):
            raise UsageError(f"interval bounds must be numbers: {self.to_soda()}")
        if self.lo > self.hi:
            raise UsageError(f"interval {self.to_soda()} has its lower bound above its upper")

    def to_soda(self) -> str:
        """Render as a DALI interval ``"lo hi"``, exactly, with ``-Inf``/``+Inf``."""
        return f"{format_number(self.lo)} {format_number(self.hi)}"

    def overlaps(self, lo: float, hi: float) -> bool:
        """Whether ``[lo, hi]`` shares at least one value with this interval."""
        return lo <= self.hi and hi >= self.lo


def parse_interval(text: str, *, what: str) -> Interval:
    """Parse a DALI interval ``lo hi``.

    Raises
    ------
    skycut.errors.UsageError
        If the text is not two numbers (or open ends) with ``lo <= hi``,
        or an open end is on the wrong side.

    """
    lo, hi = parse_numbers(text, what=what, count=2, open_ends=True)
    if lo == math.inf or hi == -math.inf:
        raise UsageError(
            f"{what} {text!r} has an open end on the wrong side; use -Inf for the lower "
            "bound and +Inf for the upper"
        )
    if lo > hi:
        raise UsageError(f"{what} {text!r} must be 'lo hi' with lo <= hi")
    return Interval(lo, hi)


def parse_band(text: str) -> Interval:
    """Parse ``BAND``: a wavelength interval in metres (e.g. ``5e-7 6e-7``).

    Raises
    ------
    skycut.errors.UsageError
        If malformed, or a bound is negative.

    """
    interval = parse_interval(text, what="BAND")
    if interval.lo < 0 and math.isfinite(interval.lo):
        raise UsageError(
            f"BAND {text!r} is a wavelength interval in metres and cannot be negative "
            "(e.g. BAND=5e-7 6e-7, or -Inf 6e-7)"
        )
    return interval


def parse_time(text: str) -> Interval:
    """Parse ``TIME``: an interval in MJD, UTC (e.g. ``60000.5 60001``).

    Raises
    ------
    skycut.errors.UsageError
        If malformed.

    """
    return parse_interval(text, what="TIME")


def parse_pol(text: str) -> PolState:
    """Parse one ``POL`` value.

    Raises
    ------
    skycut.errors.UsageError
        If it is not an ObsCore ``pol_states`` name (case-sensitive).

    """
    for state in POL_STATES:
        if text == state:
            return state
    raise UsageError(f"POL {text!r} is not a polarization state; use one of {' '.join(POL_STATES)}")
