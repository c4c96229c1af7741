"""IVOA SIA 2.0 query parameters (SIA 2.0 §2, DALI 1.1 §3) parsed into a typed query.

Parameter names are case-insensitive, values case-sensitive (DALI 1.1 §3.1).
Every constraint may be repeated: the values of one name are alternatives
(OR), different names all apply (AND), so each constraint is a tuple of
alternatives and an empty tuple constrains nothing. A query without any
constraint is valid and selects every image, up to ``MAXREC``.

Decisions where SIA 2.0 and DALI leave room:

- ``POS`` is read by the SODA stencil parser (:func:`skycut.cutout.stencil.parse_stencil`):
  ``CIRCLE ra dec r``, ``RANGE lon1 lon2 lat1 lat2`` or ``POLYGON ...``, in degrees.
- Numeric intervals (``BAND`` in metres, ``TIME`` in MJD, ``FOV`` in
  degrees, ``SPATRES`` in arcseconds, ``EXPTIME`` in seconds) are ``lo hi`` with
  ``-Inf``/``+Inf`` for open ends; a single finite value means ``lo == hi``.
  Only ``TIME`` may be negative.
- ``MAXREC`` and ``RESPONSEFORMAT`` are single-valued; a repeat is refused
  with ``MultiValuedParamNotSupported``. A ``MAXREC`` above the service's
  limit is lowered to it (DALI 1.1 §3.2.2 lets a service do so).
- ``RESPONSEFORMAT`` accepts VOTable only: ``application/x-votable+xml``,
  ``votable`` or ``text/xml`` (type case-insensitive), optionally with
  ``;serialization=TABLEDATA|BINARY|BINARY2``.
- Empty values are refused rather than read as "no constraint", so a form
  left blank does not silently widen a query.

Parameters the service does not know are ignored (DALI 1.1 §3.1), and every
``UsageError`` names them, so a misspelt constraint is noticed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from skycut.cutout.dali import DECIMAL
from skycut.cutout.intervals import Interval, PolState, parse_pol
from skycut.cutout.stencil import Stencil, parse_stencil
from skycut.errors import MultiValuedParamNotSupportedError, UsageError
from skycut.soda.ignored import name_ignored

__all__ = [
    "VOTABLE",
    "DataProductType",
    "Serialization",
    "SiaQuery",
    "overlaps",
    "overlaps_any",
    "parse_dptype",
    "parse_sia_query",
]

VOTABLE = "application/x-votable+xml"
"""The one response format a SIA query answers with."""

DataProductType = Literal["image", "cube"]
Serialization = Literal["TABLEDATA", "BINARY", "BINARY2"]

_VOTABLE_NAMES = (VOTABLE, "votable", "text/xml")
_SERIALIZATIONS: tuple[Serialization, ...] = ("TABLEDATA", "BINARY", "BINARY2")
_DPTYPES: tuple[DataProductType, ...] = ("image", "cube")
_KNOWN = (
    "POS", "BAND", "TIME", "POL", "FOV", "SPATRES", "EXPTIME", "ID", "COLLECTION",
    "FACILITY", "INSTRUMENT", "DPTYPE", "CALIB", "TARGET", "FORMAT", "MAXREC",
    "RESPONSEFORMAT",
)  # fmt: skip
_MAX_VALUE_SHOWN = 200
_OPEN_ENDS = {"-Inf": -math.inf, "+Inf": math.inf}
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SiaQuery:
    """A validated SIA 2.0 query: per constraint, the alternatives any of which may match.

    Attributes
    ----------
    pos
        Sky regions (ICRS degrees); an image matches if it overlaps one.
    band
        Wavelength intervals (m).
    time
        Time intervals (MJD).
    pol
        Polarization states (ObsCore ``pol_states`` names).
    fov, spatres, exptime
        Field of view (deg), spatial resolution (arcsec), exposure time (s) intervals.
    ids, collections, facilities, instruments, targets, formats
        Exact strings to match ``obs_publisher_did``, ``obs_collection``,
        ``facility_name``, ``instrument_name``, ``target_name``, ``access_format``.
    dptype
        Data product types.
    calib
        Calibration levels, 0 to 4.
    maxrec
        How many records to return at most (0 asks for the table's metadata only).
    serialization
        The VOTable serialization asked for, or `None` for the service's choice.
    ignored
        Names of the parameters not read, in request order (named in errors).

    """

    pos: tuple[Stencil, ...] = ()
    band: tuple[Interval, ...] = ()
    time: tuple[Interval, ...] = ()
    pol: tuple[PolState, ...] = ()
    fov: tuple[Interval, ...] = ()
    spatres: tuple[Interval, ...] = ()
    exptime: tuple[Interval, ...] = ()
    ids: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    facilities: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    dptype: tuple[DataProductType, ...] = ()
    calib: tuple[int, ...] = ()
    targets: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    maxrec: int = 0
    serialization: Serialization | None = None
    ignored: tuple[str, ...] = ()

    @property
    def response_format(self) -> str:
        """The MIME type of the response."""
        return VOTABLE

    @property
    def is_unconstrained(self) -> bool:
        """Whether the query selects every image (up to ``maxrec``)."""
        return not any(
            (
                self.pos, self.band, self.time, self.pol, self.fov, self.spatres, self.exptime,
                self.ids, self.collections, self.facilities, self.instruments, self.dptype,
                self.calib, self.targets, self.formats,
            )
        )  # fmt: skip


def overlaps(interval: Interval, lo: float, hi: float) -> bool:
    """Whether ``[lo, hi]`` shares a value with ``interval``; either may have open ends.

    Parameters
    ----------
    interval
        A query interval.
    lo, hi
        An image's interval, ``-inf``/``+inf`` where unbounded.

    """
    return lo <= interval.hi and hi >= interval.lo


def overlaps_any(alternatives: Sequence[Interval], lo: float, hi: float) -> bool:
    """Whether ``[lo, hi]`` overlaps one of ``alternatives``; no alternatives constrain nothing."""
    return not alternatives or any(overlaps(i, lo, hi) for i in alternatives)


def _shown(text: str) -> str:
    return repr(text[:_MAX_VALUE_SHOWN] + ("..." if len(text) > _MAX_VALUE_SHOWN else ""))


def _fail(name: str, text: str, reason: str) -> UsageError:
    return UsageError(f"{name} {_shown(text)}: {reason}")


def _number(name: str, text: str, token: str, *, open_ends: bool) -> float:
    if open_ends and token in _OPEN_ENDS:
        return _OPEN_ENDS[token]
    if not DECIMAL.fullmatch(token):  # not float(): it takes 1_0, nan...
        hint = " (open ends are -Inf and +Inf)" if open_ends else ""
        raise _fail(name, text, f"{token!r} is not a finite decimal number{hint}")
    value = float(token)
    if not math.isfinite(value):
        raise _fail(name, text, f"{token!r} is out of range")
    return value


def _interval(name: str, text: str, *, negative: bool = False) -> Interval:
    """Parse ``lo hi`` or a single value; ``negative`` allows finite bounds below 0."""
    tokens = text.split()
    if len(tokens) == 1:
        value = _number(name, text, tokens[0], open_ends=False)
        lo, hi = value, value
    elif len(tokens) == 2:
        lo = _number(name, text, tokens[0], open_ends=True)
        hi = _number(name, text, tokens[1], open_ends=True)
    else:
        raise _fail(name, text, f"needs 'lo hi' or one value, got {len(tokens)} values")
    if lo == math.inf or hi == -math.inf:
        raise _fail(name, text, "open ends are -Inf for the lower bound and +Inf for the upper")
    if lo > hi:
        raise _fail(name, text, "the lower bound is above the upper")
    if not negative and math.isfinite(lo) and lo < 0:
        raise _fail(name, text, "cannot be negative")
    return Interval(lo, hi)


def _pos(text: str) -> Stencil:
    try:
        return parse_stencil(text)
    except UsageError as e:
        if repr(text) in e.message:
            raise
        raise _fail("POS", text, e.message) from e


def _string(name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.strip():
            raise _fail(name, text, "must not be empty")
        return text

    return parse


def parse_dptype(text: str) -> DataProductType:
    """Return a ``DPTYPE`` value (``image`` or ``cube``); raise ``UsageError`` otherwise."""
    for value in _DPTYPES:
        if text == value:
            return value
    raise _fail("DPTYPE", text, "must be image or cube")


def _calib(text: str) -> int:
    if not re.fullmatch(r"[0-4]", text):
        raise _fail("CALIB", text, "must be a calibration level 0, 1, 2, 3 or 4")
    return int(text)


def _all(
    params: Mapping[str, Sequence[str]], name: str, parse: Callable[[str], _T]
) -> tuple[_T, ...]:
    # a value given twice is one alternative
    return tuple(dict.fromkeys(parse(v) for v in params.get(name, ())))


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name, ())
    if len(values) > 1:
        raise MultiValuedParamNotSupportedError(
            f"{name} was given {len(values)} times; it takes one value"
        )
    return values[0] if values else None


def _maxrec(text: str | None, *, default: int, maximum: int) -> int:
    if text is None:
        return min(default, maximum)
    if not re.fullmatch(r"[0-9]+", text.strip()):
        raise _fail("MAXREC", text, "must be a non-negative integer")
    return min(int(text), maximum)


def _serialization(text: str) -> Serialization | None:
    base, *options = (part.strip() for part in text.split(";"))
    if base.lower() not in _VOTABLE_NAMES:
        raise _fail(
            "RESPONSEFORMAT",
            text,
            f"is not supported; SIA answers in VOTable ({VOTABLE}, votable or text/xml)",
        )
    serialization: Serialization | None = None
    for option in options:
        key, _, value = option.partition("=")
        chosen = next((s for s in _SERIALIZATIONS if s == value.strip().upper()), None)
        if key.strip().lower() != "serialization" or chosen is None:
            raise _fail(
                "RESPONSEFORMAT",
                text,
                f"{option!r} is not supported; the one option is "
                "serialization=TABLEDATA, BINARY or BINARY2",
            )
        serialization = chosen
    return serialization


def _grouped(params: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, values in params.items():
        grouped.setdefault(name.strip().upper(), []).extend(values)
    return grouped


def parse_sia_query(
    params: Mapping[str, Iterable[str]], *, default_maxrec: int, max_maxrec: int
) -> SiaQuery:
    """Validate SIA 2.0 query parameters.

    Parameters
    ----------
    params
        Values by parameter name (e.g. from :func:`skycut.soda.params.group_params`);
        names are matched case-insensitively and the values of names that differ
        only in case are merged.
    default_maxrec
        ``MAXREC`` when the query gives none.
    max_maxrec
        The most records the service returns; a larger ``MAXREC`` is lowered to it.

    Raises
    ------
    UsageError
        On any malformed value, naming the parameter and the value, and the
        parameters ignored as unknown.
    MultiValuedParamNotSupportedError
        If ``MAXREC`` or ``RESPONSEFORMAT`` is repeated.

    """
    grouped = _grouped(params)
    ignored = tuple(name for name in grouped if name and name not in _KNOWN)
    try:
        return _parse(
            grouped, default_maxrec=default_maxrec, max_maxrec=max_maxrec, ignored=ignored
        )
    except UsageError as e:
        name_ignored(e, ignored, known=_KNOWN)
        raise


def _parse(
    params: dict[str, list[str]], *, default_maxrec: int, max_maxrec: int, ignored: tuple[str, ...]
) -> SiaQuery:
    fmt = _single(params, "RESPONSEFORMAT")
    return SiaQuery(
        pos=_all(params, "POS", _pos),
        band=_all(params, "BAND", lambda v: _interval("BAND", v)),
        time=_all(params, "TIME", lambda v: _interval("TIME", v, negative=True)),
        pol=_all(params, "POL", parse_pol),
        fov=_all(params, "FOV", lambda v: _interval("FOV", v)),
        spatres=_all(params, "SPATRES", lambda v: _interval("SPATRES", v)),
        exptime=_all(params, "EXPTIME", lambda v: _interval("EXPTIME", v)),
        ids=_all(params, "ID", _string("ID")),
        collections=_all(params, "COLLECTION", _string("COLLECTION")),
        facilities=_all(params, "FACILITY", _string("FACILITY")),
        instruments=_all(params, "INSTRUMENT", _string("INSTRUMENT")),
        dptype=_all(params, "DPTYPE", parse_dptype),
        calib=_all(params, "CALIB", _calib),
        targets=_all(params, "TARGET", _string("TARGET")),
        formats=_all(params, "FORMAT", _string("FORMAT")),
        maxrec=_maxrec(_single(params, "MAXREC"), default=default_maxrec, maximum=max_maxrec),
        serialization=None if fmt is None else _serialization(fmt),
        ignored=ignored,
    )
