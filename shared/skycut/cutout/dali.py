"""DALI 1.1 number lists: parsing with messages a user can act on, and exact rendering.

Values are space-separated numbers (DALI §3.3); open interval ends are
written ``-Inf`` and ``+Inf`` exactly (values are case-sensitive, §3.1).
Rendering uses each float's shortest exact form, so ``parse(render(x)) == x``.
"""

from __future__ import annotations

import math
import re

from skycut.errors import UsageError

__all__ = ["DECIMAL", "format_number", "parse_numbers"]

_OPEN_ENDS = {"-Inf": -math.inf, "+Inf": math.inf}
DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
"""A number as DALI writes one: ASCII digits, an optional point and exponent.

Python's ``float`` takes more (``1_0``, ``nan``, ``infinity``, other scripts' digits),
which a parameter must not mean.
"""


def parse_numbers(
    text: str,
    *,
    what: str,
    count: int | None = None,
    minimum: int = 0,
    even: bool = False,
    open_ends: bool = False,
) -> list[float]:
    """Parse a space-separated list of numbers.

    Parameters
    ----------
    text
        The parameter value.
    what
        The value's name in error messages, e.g. ``"POS CIRCLE"``.
    count
        The exact number of values required, if fixed.
    minimum
        The least number of values accepted when ``count`` is not given.
    even
        Whether the number of values must be even (coordinate pairs).
    open_ends
        Whether ``-Inf`` and ``+Inf`` are allowed.

    Returns
    -------
    list of float
        The values, ``±math.inf`` for open ends.

    Raises
    ------
    skycut.errors.UsageError
        If the count is wrong or a value is not a finite number (or an
        allowed open end), saying what is expected.

    """
    parts = text.split()
    example = "e.g. -Inf 10" if open_ends else ""
    if count is not None and len(parts) != count:
        raise UsageError(f"{what} needs {count} numbers, got {len(parts)} in {text!r}")
    if count is None and len(parts) < minimum:
        raise UsageError(f"{what} needs at least {minimum} numbers, got {len(parts)} in {text!r}")
    if even and len(parts) % 2:
        raise UsageError(
            f"{what} needs longitude latitude pairs (an even count), got {len(parts)} numbers"
        )
    values = []
    for part in parts:
        if part in _OPEN_ENDS:
            if not open_ends:
                raise UsageError(f"{what} values must be finite numbers, got {part!r}")
            values.append(_OPEN_ENDS[part])
            continue
        if not DECIMAL.fullmatch(part):
            if part.lower().lstrip("+-") in ("inf", "infinity", "nan"):
                hint = f"; open ends are written -Inf or +Inf ({example})" if open_ends else ""
                raise UsageError(f"{what} values must be finite numbers, got {part!r}{hint}")
            raise UsageError(f"{what} has a value that is not a number: {part!r} in {text!r}")
        value = float(part)
        if not math.isfinite(value):
            hint = f"; open ends are written -Inf or +Inf ({example})" if open_ends else ""
            raise UsageError(f"{what} values must be finite numbers, got {part!r}{hint}")
        values.append(value)
    return values


def format_number(value: float) -> str:
    """Render a number exactly: its shortest round-tripping form, or ``-Inf``/``+Inf``."""
    value = float(value)  # numpy scalars' repr is "np.float64(...)"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)
