"""``skycut mosaic``: run an asynchronous mosaic job, follow it, save the result.

The mosaic's parameters are given as the service takes them (``NAME=VALUE``,
those of ``<url>/mosaic/sync``, names repeated where the service allows it);
a header template file is uploaded as ``TEMPLATE``. The job is created with
``PHASE=RUN`` under ``<url>/mosaic``, its progress (units of every stage
done of all) shown as a bar, and its results saved into ``--out`` as the
stored files are named (``mosaic.fits`` and ``preview.png``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from skycut.cli.config import Target
from skycut.cli.jobs import JobsClient
from skycut.cli.progress import ProgressLine

__all__ = ["add_mosaic_command", "run_mosaic"]

_EXAMPLE = (
    'example: skycut mosaic "POS=RANGE 150.07 150.12 2.2 2.25" PIXSCALE=0.0002 '
    "COLLECTION=calexp BACKGROUND=match DETAIL=coverage,count --out results/"
)


def add_mosaic_command(commands: Any) -> None:
    """Add ``mosaic`` to the CLI's sub-commands (``commands`` is argparse's sub-parser action)."""
    mosaic = commands.add_parser(
        "mosaic",
        help="make a mosaic as an async job, follow it and save it",
        description=(
            "Run a mosaic job (<url>/mosaic) with the parameters of mosaic/sync given as "
            "NAME=VALUE (POS, PIXSCALE, CRVAL, WIDTH, HEIGHT, PROJECTION, ROTATION, FRAME, "
            "ID, COLLECTION, BAND, TIME, METHOD, COMBINE, BACKGROUND, DETAIL, "
            "RESPONSEFORMAT, COLOR=rgb with three BANDs, RUNID), show its progress and save "
            "its results."
        ),
        epilog=_EXAMPLE,
    )
    mosaic.add_argument("params", nargs="+", metavar="NAME=VALUE", help="a mosaic parameter")
    mosaic.add_argument("--template", type=Path, help="a FITS header file giving the grid")
    mosaic.add_argument("--out", type=Path, default=Path(), help="folder for the results (.)")
    mosaic.add_argument("--no-wait", action="store_true", help="print the job id and return")
    mosaic.add_argument("--timeout", type=float, default=3600)


def _pairs(params: list[str]) -> list[tuple[str, str]] | None:
    pairs = []
    for text in params:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            return None
        pairs.append((name.strip(), value))
    return pairs


def run_mosaic(args: Any, target: Target) -> int:
    """Run the job; return the exit status (1 if it did not complete, 2 for bad arguments)."""
    pairs = _pairs(args.params)
    if pairs is None:
        print(f"skycut: parameters are NAME=VALUE; {_EXAMPLE}", file=sys.stderr)
        return 2
    if args.template is not None and not args.template.is_file():
        print(f"skycut: {args.template} is not a file", file=sys.stderr)
        return 2
    client = JobsClient(target)
    job_id = client.submit_mosaic(pairs, template=args.template)
    print(job_id)
    if args.no_wait:
        return 0
    state = client.follow(job_id, ProgressLine(), timeout=args.timeout)
    if state is None or not state.finished:
        print(f"skycut: {job_id} did not finish within {args.timeout:g} s", file=sys.stderr)
        return 1
    if state.phase != "COMPLETED":
        print(f"skycut: {job_id} {state.phase}: {state.error or ''}".rstrip(), file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for result_id, url in sorted(state.results.items()):
        path, size = client.download(url, args.out, name=result_id)
        print(f"{path}\t{size}")
    return 0
