"""``skycut find RA DEC``: list the images covering a position, from the service's SIA endpoint.

``--band`` takes two wavelengths in metres (``-Inf``/``+Inf`` for open ends),
one wavelength, or a filter name of :data:`skycut.index.bands.DEFAULT_FILTERS`,
which asks for the images whose band holds that filter's central wavelength
(its edges touch the neighbouring filters', so the whole range would also
find those). ``--time`` takes MJDs or ISO dates (UTC), one instant or two
bounds. The table is sorted by time, then ID; ``--format csv`` writes every
column the service returned in that order, ``--format votable`` the
service's VOTable unchanged.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from skycut.cli.config import Target
from skycut.cli.sia import ImageSearch, SiaAnswer, SiaQueryError, Value, search_images
from skycut.cutout.dali import format_number
from skycut.index.bands import DEFAULT_FILTERS, filter_band

__all__ = ["add_find_command", "band_label", "image_search", "run_find", "write_table"]

_DESCRIPTION = """\
List the images covering a position, from the service's SIA 2.0 endpoint,
sorted by time. --band takes LO HI in metres, one wavelength, or a filter
name (the images whose band holds the filter's central wavelength);
--time takes MJDs or ISO dates (UTC), one instant or LO HI.
"""
_MJD_ZERO = datetime(1858, 11, 17, tzinfo=UTC)
_OPEN_ENDS = {"-inf": -math.inf, "+inf": math.inf, "inf": math.inf}


def add_find_command(commands: Any) -> None:
    """Add ``find`` to the CLI's sub-commands (``commands`` is argparse's sub-parser action)."""
    find = commands.add_parser(
        "find",
        help="list the images covering a position (SIA 2.0)",
        description=_DESCRIPTION,
    )
    find.add_argument("ra", type=float, help="right ascension, ICRS degrees")
    find.add_argument("dec", type=float, help="declination, ICRS degrees")
    find.add_argument(
        "--radius",
        type=float,
        default=0.0,
        metavar="DEG",
        help="degrees around the position (default: 0, the images covering the point)",
    )
    find.add_argument(
        "--band",
        nargs="+",
        metavar=("LO", "HI"),
        help="wavelengths in metres (LO HI, or one), or a filter name: u g r i z y J H Ks",
    )
    find.add_argument(
        "--time",
        nargs="+",
        metavar=("LO", "HI"),
        help="MJDs or ISO dates, UTC (LO HI, or one instant)",
    )
    find.add_argument(
        "--collection",
        action="append",
        default=[],
        dest="collections",
        metavar="NAME",
        help="only this collection (repeat for any of several)",
    )
    find.add_argument(
        "--maxrec", type=int, metavar="N", help="most images to list (default: the service's)"
    )
    find.add_argument(
        "--format",
        choices=("table", "csv", "votable"),
        default="table",
        help="a table to read (default), or every column as CSV, or the service's VOTable",
    )


def _number(text: str, *, what: str) -> float:
    if text.lower() in _OPEN_ENDS:
        return _OPEN_ENDS[text.lower()]
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if math.isnan(value):
        raise ValueError(f"{what} {text!r} is not a number")
    return value


def _bounds(values: Sequence[float], *, what: str) -> tuple[float, float]:
    lo, hi = values[0], values[-1]
    if lo > hi:
        raise ValueError(f"{what}: the lower bound {lo:g} is above the upper {hi:g}")
    return lo, hi


def _band(tokens: Sequence[str]) -> tuple[float, float]:
    named = filter_band(tokens[0]) if len(tokens) == 1 else None
    if named is not None:
        centre = (named[0] + named[1]) / 2
        return centre, centre
    if len(tokens) > 2:
        raise ValueError("--band takes LO HI in metres, one wavelength, or a filter name")
    try:
        return _bounds([_number(t, what="--band") for t in tokens], what="--band")
    except ValueError:
        if len(tokens) == 1:
            known = " ".join(DEFAULT_FILTERS)
            raise ValueError(
                f"--band {tokens[0]!r} is neither a wavelength in metres nor a filter ({known})"
            ) from None
        raise


def _mjd(text: str) -> float:
    try:
        return _number(text, what="--time")
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--time {text!r} is neither an MJD nor an ISO date") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (when - _MJD_ZERO) / timedelta(days=1)


def image_search(args: argparse.Namespace) -> ImageSearch:
    """Turn ``find``'s arguments into a search.

    Raises
    ------
    ValueError
        If an argument is out of range or unreadable; the message names it.

    """
    if not -90.0 <= args.dec <= 90.0:
        raise ValueError(f"DEC {args.dec:g} is outside [-90, 90]")
    if not 0.0 <= args.radius <= 180.0:
        raise ValueError(f"--radius {args.radius:g} is outside [0, 180] degrees")
    if args.maxrec is not None and args.maxrec < 0:
        raise ValueError("--maxrec cannot be negative")
    if args.time is not None and len(args.time) > 2:
        raise ValueError("--time takes one instant or LO HI")
    return ImageSearch(
        ra=args.ra % 360.0,
        dec=args.dec,
        radius=args.radius,
        band=None if args.band is None else _band(args.band),
        time=None if args.time is None else _bounds([_mjd(t) for t in args.time], what="--time"),
        collections=tuple(dict.fromkeys(args.collections)),
        maxrec=args.maxrec,
    )


def run_find(args: argparse.Namespace, target: Target, *, stdout: TextIO | None = None) -> int:
    """Run ``skycut find``; return the exit status (2: bad arguments, 1: the query failed)."""
    out = stdout or sys.stdout
    try:
        search = image_search(args)
    except ValueError as e:
        print(f"skycut find: {e}", file=sys.stderr)
        return 2
    try:
        answer = search_images(target, search)
    except SiaQueryError as e:
        print(f"skycut find: {e}", file=sys.stderr)
        return 1
    if args.format == "votable":
        out.flush()
        out.buffer.write(answer.content)
        out.buffer.flush()
    elif args.format == "csv":
        _write_csv(answer, out)
    else:
        write_table(_by_time(answer.rows), out)
    if answer.overflow:
        print(
            f"skycut find: more images match than the {len(answer.rows)} listed "
            "(raise --maxrec to see them)",
            file=sys.stderr,
        )
    return 0


def _by_time(rows: Sequence[Mapping[str, Value]]) -> list[Mapping[str, Value]]:
    def key(row: Mapping[str, Value]) -> tuple[float, str]:
        t_min = row.get("t_min")
        return (
            float(t_min) if isinstance(t_min, int | float) else math.inf,  # unknown times last
            str(row.get("obs_publisher_did")),
        )

    return sorted(rows, key=key)


def band_label(em_min: Value, em_max: Value) -> str:
    """Name a band: its filter if the built-in table has one of that range, else nm."""
    if not isinstance(em_min, int | float) or not isinstance(em_max, int | float):
        return ""
    for name, (lo, hi) in DEFAULT_FILTERS.items():
        if math.isclose(lo, em_min, rel_tol=1e-6) and math.isclose(hi, em_max, rel_tol=1e-6):
            return name
    lo_nm, hi_nm = (f"{v * 1e9:.1f}".removesuffix(".0") for v in (em_min, em_max))
    return f"{lo_nm} nm" if lo_nm == hi_nm else f"{lo_nm}-{hi_nm} nm"


def _date(mjd: Value) -> str:
    if not isinstance(mjd, int | float) or not math.isfinite(mjd):
        return ""
    try:
        when = _MJD_ZERO + timedelta(seconds=round(mjd * 86400))
    except OverflowError:
        return ""
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _cells(row: Mapping[str, Value]) -> list[str]:
    t_min, fov = row.get("t_min"), row.get("s_fov")
    xel1, xel2 = row.get("s_xel1"), row.get("s_xel2")
    return [
        str(row.get("obs_publisher_did") or ""),
        str(row.get("obs_collection") or ""),
        band_label(row.get("em_min"), row.get("em_max")),
        _date(t_min),
        f"{t_min:.5f}" if isinstance(t_min, int | float) else "",
        f"{fov:.4f}" if isinstance(fov, int | float) else "",
        f"{xel1}x{xel2}" if xel1 is not None and xel2 is not None else "",
    ]


_HEADINGS = ["ID", "collection", "band", "date (UTC)", "MJD", "fov (deg)", "pixels"]
_RIGHT = {4, 5, 6}


def write_table(rows: Sequence[Mapping[str, Value]], out: TextIO) -> None:
    """Print rows as an aligned table, one image a line, and how many there are."""
    if not rows:
        out.write("no images found\n")
        return
    lines = [_HEADINGS, *(_cells(row) for row in rows)]
    widths = [max(len(line[k]) for line in lines) for k in range(len(_HEADINGS))]
    for line in lines:
        cells = (
            cell.rjust(width) if k in _RIGHT else cell.ljust(width)
            for k, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        out.write("  ".join(cells).rstrip() + "\n")
    out.write(f"{len(rows)} image{'s' if len(rows) != 1 else ''}\n")


def _csv_value(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return " ".join(map(format_number, value))
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def _write_csv(answer: SiaAnswer, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(answer.fields)
    for row in _by_time(answer.rows):
        writer.writerow([_csv_value(row.get(name)) for name in answer.fields])
