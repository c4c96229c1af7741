"""``make load FILES=...``: upload your own FITS files to the running stack."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from emulators.sample import upload_files
from emulators.stack import REPO
from skycut.cli.config import read_env_file

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Upload files to ``gs://<sources bucket>/user/`` and print their IDs."""
    parser = argparse.ArgumentParser(description="Load FITS files into the running stack.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--prefix", default="user/", help="object name prefix (default user/)")
    parser.add_argument("--env-file", type=Path, default=REPO / ".skycut" / "env")
    args = parser.parse_args(argv)
    if not args.env_file.exists():
        print(f"{args.env_file} not found: start the stack first (make run)", file=sys.stderr)
        return 2
    env = {**os.environ, **read_env_file(args.env_file)}
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"not files: {missing}", file=sys.stderr)
        return 2
    ids = upload_files(env, args.files, bucket=env["SKYCUT_SOURCES_BUCKET"], prefix=args.prefix)
    for name, source_id in ids.items():
        print(f"{name}\t{source_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
