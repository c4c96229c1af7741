"""``skycut``: find images, submit bulk cutout files and mosaics, follow them, download results.

Works against the local stack (it reads ``.skycut/env``) and against a
deployment (``--url`` and, to drop files directly, ``--drop-bucket``;
``skycut index`` talks to Firestore and Cloud Storage directly, so it
takes ``--project`` instead).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from skycut.cli.config import resolve_target
from skycut.cli.find import add_find_command, run_find
from skycut.cli.index_bucket import add_index_command, run_index
from skycut.cli.jobs import JobsClient
from skycut.cli.mosaic import add_mosaic_command, run_mosaic
from skycut.cli.progress import ProgressLine

__all__ = ["main"]

_OPTIONS = ("detail", "format", "band", "time", "pol", "maskoutside", "package", "package_size")
# A dropped file's job appears within seconds once the bulk function has read the file (a
# file of the largest size takes longer); one that never appears is not the caller's to see.
_APPEAR_TIMEOUT = 120.0
_APPEAR_HELP = (
    "seconds to wait for a job that is not there yet, a dropped file's (default %(default)g)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skycut",
        description="Find images, submit bulk cutout files, follow them, download results.",
    )
    parser.add_argument("--url", help="service base URL (default: SKYCUT_URL or .skycut/env)")
    parser.add_argument("--drop-bucket", help="drop bucket (default: SKYCUT_DROP_BUCKET)")
    parser.add_argument("--token", help="bearer token for API Gateway (default: SKYCUT_TOKEN)")
    parser.add_argument("--env-file", type=Path, help="a stack's env file (default: .skycut/env)")
    commands = parser.add_subparsers(dest="command", required=True)

    submit = commands.add_parser("submit", help="submit a CSV, VOTable or JSON Lines file")
    submit.add_argument("file", type=Path)
    submit.add_argument(
        "--via",
        choices=("api", "drop"),
        default="api",
        help="POST it to the async API (default) or upload it to the drop bucket",
    )
    submit.add_argument(
        "--owner",
        default="dev",
        help="with --via drop: your identity, the folder under incoming/ the file goes to "
        "(default dev, the local stack's); the service shows you only your own jobs",
    )
    for option in _OPTIONS:
        submit.add_argument(
            f"--{option.replace('_', '-')}",
            dest=option,
            help=f"job-wide {option} for rows that do not set it",
        )
    submit.add_argument("--no-wait", action="store_true", help="print the job id and return")
    submit.add_argument("--timeout", type=float, default=3600)
    submit.add_argument("--appear-timeout", type=float, default=_APPEAR_TIMEOUT, help=_APPEAR_HELP)

    status = commands.add_parser("status", help="show (and follow) a job, cutout or mosaic")
    status.add_argument("job_id")
    status.add_argument("--follow", action="store_true")
    status.add_argument("--timeout", type=float, default=3600)
    status.add_argument("--appear-timeout", type=float, default=_APPEAR_TIMEOUT, help=_APPEAR_HELP)

    listing = commands.add_parser(
        "jobs",
        help="list your cutout and mosaic jobs, newest first",
        description="One job a line: id, phase, creation time (UTC) and kind (cutout or mosaic).",
    )
    listing.add_argument("--phase", action="append", default=[])
    listing.add_argument("--last", type=int)

    results = commands.add_parser("results", help="download a job's results (cutout or mosaic)")
    results.add_argument("job_id")
    results.add_argument("--out", type=Path, default=Path())
    results.add_argument("--manifest-only", action="store_true")

    abort = commands.add_parser("abort", help="abort a job, cutout or mosaic")
    abort.add_argument("job_id")

    delete = commands.add_parser(
        "delete", help="delete a job, cutout or mosaic, and its results (aborted if running)"
    )
    delete.add_argument("job_id")

    add_find_command(commands)
    add_index_command(commands)
    add_mosaic_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "index":  # Firestore and Storage, not the service's URL
        return run_index(args, env_file=args.env_file)
    target = resolve_target(
        url=args.url, drop_bucket=args.drop_bucket, token=args.token, env_file=args.env_file
    )
    if args.command == "find":
        return run_find(args, target)
    if args.command == "mosaic":
        return run_mosaic(args, target)
    client = JobsClient(target)
    if args.command == "submit":
        options = {k: str(getattr(args, k)) for k in _OPTIONS if getattr(args, k) is not None}
        if not args.file.is_file():
            print(f"skycut: {args.file} is not a file", file=sys.stderr)
            return 2
        job_id = (
            client.submit_api(args.file, options)
            if args.via == "api"
            else client.submit_drop(args.file, options, owner=args.owner)
        )
        print(job_id)
        if args.no_wait:
            return 0
        appear = min(args.timeout, args.appear_timeout)
        missing = (
            f"no job {job_id} of yours within {appear:g} s"
            if args.via == "api"
            else f"job {job_id} did not appear within {appear:g} s of dropping "
            f"gs://{target.drop_bucket}/incoming/{args.owner}/{args.file.name}. The service "
            f"shows you only your own jobs: check that --owner {args.owner} is the identity it "
            f"knows you by, that {target.drop_bucket} is the drop bucket it watches, and "
            f"`skycut jobs`; if it appears later, `skycut status {job_id} --follow`"
        )
        return _follow(client, job_id, args.timeout, appear, missing=missing)
    if args.command == "status":
        if args.follow:
            appear = min(args.timeout, args.appear_timeout)
            return _follow(
                client,
                args.job_id,
                args.timeout,
                appear,
                missing=f"no job {args.job_id} of yours within {appear:g} s (see `skycut jobs`)",
            )
        state = client.state(args.job_id)
        if state is None:
            print(f"skycut: no job {args.job_id}", file=sys.stderr)
            return 1
        ProgressLine(sys.stdout)(state)
        return 0
    if args.command == "jobs":
        # the kind is the last column, so scripts reading the first three are unchanged
        for ref in client.list(phases=args.phase, last=args.last):
            print(f"{ref.job_id}\t{ref.phase}\t{ref.created}\t{ref.kind}")
        return 0
    if args.command == "results":
        return _download(client, args.job_id, args.out, manifest_only=args.manifest_only)
    if args.command == "abort":
        client.abort(args.job_id)
        return 0
    if args.command == "delete":
        client.delete(args.job_id)
        return 0
    return 2


def _follow(
    client: JobsClient, job_id: str, timeout: float, appear_timeout: float, *, missing: str
) -> int:
    state = client.follow(job_id, ProgressLine(), timeout=timeout, appear_timeout=appear_timeout)
    if state is None:  # it never appeared
        print(f"skycut: {missing}", file=sys.stderr)
        return 1
    if not state.finished:
        print(f"skycut: {job_id} did not finish within {timeout:g} s", file=sys.stderr)
        return 1
    if state.error:
        print(f"skycut: {state.error}", file=sys.stderr)
    return 0 if state.phase == "COMPLETED" else 1


def _download(client: JobsClient, job_id: str, out: Path, *, manifest_only: bool) -> int:
    state = client.state(job_id)
    if state is None:
        print(f"skycut: no job {job_id}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    wanted = {
        k: v
        for k, v in state.results.items()
        if not manifest_only or k.startswith("manifest") or k == "errors"
    }
    for result_id, url in sorted(wanted.items()):
        path, size = client.download(url, out, name=result_id)
        print(f"{path}\t{size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
