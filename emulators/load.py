"""``make load FILES=...``: upload your own FITS files to the running stack."""

from __future__ import annotations

import argparse
import glob
import os
import shlex
import sys
from pathlib import Path

from emulators.sample import upload_files
from emulators.stack import REPO
from skycut.cli.config import read_env_file

__all__ = ["main", "split_file_list"]


def split_file_list(text: str, *, most_words: int = 10) -> list[Path]:
    """Split one string of file names as a shell would, quotes and wildcards included.

    ``make load FILES=...`` hands its whole list over as one string, split here rather
    than by make's shell. A name with spaces can be quoted (``'a.fits "my image.fits"'``);
    left unquoted, words that are not files themselves but together name one (up to
    ``most_words`` of them) are taken as that file. A word that names no file but is a
    wildcard pattern becomes the files it matches, in order.

    Raises
    ------
    ValueError
        If a quote is not closed.

    """
    words = shlex.split(text)
    paths: list[Path] = []
    while words:
        taken = _words_of_one_name(words, most_words)
        name = " ".join(words[:taken])
        del words[:taken]
        # glob.glob, since Path.glob takes no absolute pattern
        matches = [] if Path(name).exists() else sorted(glob.glob(name))  # noqa: PTH207
        paths.extend(Path(p) for p in (matches or [name]))
    return paths


def _words_of_one_name(words: list[str], most_words: int) -> int:
    # how many of the leading words name one file: one, unless it names nothing and
    # several together name a file
    if not Path(words[0]).exists():
        for n in range(min(len(words), most_words), 1, -1):
            if Path(" ".join(words[:n])).is_file():
                return n
    return 1


def main(argv: list[str] | None = None) -> int:
    """Upload files to ``gs://<sources bucket>/user/`` and print their IDs."""
    parser = argparse.ArgumentParser(
        prog="python -m emulators.load", description="Load FITS files into the running stack."
    )
    parser.add_argument("files", nargs="*", type=Path, help="files to upload")
    parser.add_argument(
        "--file-list",
        default="",
        metavar="TEXT",
        help="more files, as one string split as a shell would: quote names with spaces",
    )
    parser.add_argument("--prefix", default="user/", help="object name prefix (default user/)")
    parser.add_argument("--env-file", type=Path, default=REPO / ".skycut" / "env")
    args = parser.parse_args(argv)
    try:
        files = [*args.files, *split_file_list(args.file_list)]
    except ValueError as e:
        parser.error(f"--file-list: {e}")
    if not files:
        parser.error("no files given: make load FILES='a.fits \"my image.fits\"'")
    missing = [f for f in files if not f.is_file()]
    if missing:
        print(f"not files: {[str(f) for f in missing]}", file=sys.stderr)
        return 2
    if not args.env_file.exists():
        print(f"{args.env_file} not found: start the stack first (make run)", file=sys.stderr)
        return 2
    env = {**os.environ, **read_env_file(args.env_file)}
    ids = upload_files(env, files, bucket=env["SKYCUT_SOURCES_BUCKET"], prefix=args.prefix)
    for name, source_id in ids.items():
        print(f"{name}\t{source_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
