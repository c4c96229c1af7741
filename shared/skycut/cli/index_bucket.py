"""``skycut index gs://bucket[/prefix]``: index the objects already in a bucket (a backfill).

Every object whose name starts with the prefix goes through the same
:class:`~skycut.index.indexer.Indexer` the image_index function runs, on
the same Firestore collection, with the same settings
(:func:`skycut.config.get_settings`, from ``SKYCUT_*`` variables and, for
the local stack, ``.skycut/env``). The Google client libraries and the
header readers are imported only when this command runs, so the HTTP-only
commands start without them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skycut.cli.backfill import backfill, indexing, write_report
from skycut.cli.config import apply_env_file, find_env_file
from skycut.cli.progress import TallyLine
from skycut.storage.events import ObjectEvent

if TYPE_CHECKING:
    from skycut.index.indexer import Indexer
    from skycut.index.store import ImageIndex

__all__ = ["add_index_command", "list_objects", "parse_location", "run_index"]

_DESCRIPTION = """\
Index the objects already in a bucket, as the image_index function does for
new uploads: batched (--workers at once), resumable (objects whose entry is
current are not read again, so running it again after an interruption does
only what is missing), with a progress line on stderr and a summary listing
the objects that cannot be indexed and why. Exits 1 if some objects failed
(an outage of Storage or Firestore); running it again retries them.
"""


def add_index_command(commands: Any) -> None:
    """Add ``index`` to the CLI's sub-commands (``commands`` is argparse's sub-parser action)."""
    index = commands.add_parser(
        "index", help="index the images already in a bucket (backfill)", description=_DESCRIPTION
    )
    index.add_argument("location", metavar="gs://BUCKET[/PREFIX]")
    index.add_argument("--workers", type=int, default=8, help="objects indexed at once")
    index.add_argument(
        "--project",
        help="Google Cloud project of the index (default: SKYCUT_PROJECT_ID); "
        "given, .skycut/env is read only if --env-file names it",
    )


def parse_location(text: str) -> tuple[str, str]:
    """Split ``gs://bucket/prefix`` into bucket and prefix (``""`` for the whole bucket).

    Raises
    ------
    ValueError
        If the text is not a ``gs://`` URL with a bucket.

    """
    bucket, _, prefix = text.removeprefix("gs://").partition("/")
    if not text.startswith("gs://") or not bucket:
        raise ValueError(f"{text!r} is not gs://BUCKET or gs://BUCKET/PREFIX")
    return bucket, prefix


def list_objects(storage: Any, bucket: str, prefix: str) -> list[ObjectEvent]:
    """Return the finalize event of every live object under ``prefix``, in name order."""
    return [
        ObjectEvent(
            "finalize",
            bucket,
            blob.name,
            int(blob.generation),
            int(blob.metageneration or 1),
            size=None if blob.size is None else int(blob.size),
        )
        for blob in storage.list_blobs(bucket, prefix=prefix or None)
    ]


def _indexer(clients: Any, bucket: str) -> tuple[Indexer, ImageIndex]:
    from skycut.index.factory import image_index_for, indexer_for

    # as functions/image_index builds it, for this bucket alone
    index = image_index_for(clients)
    return indexer_for(clients, index=index, buckets={bucket}), index


def run_index(args: argparse.Namespace, *, env_file: Path | None) -> int:
    """Run ``skycut index``; return the exit status (1: some objects failed, 2: bad arguments)."""
    try:
        bucket, prefix = parse_location(args.location)
    except ValueError as e:
        print(f"skycut index: {e}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("skycut index: --workers must be at least 1", file=sys.stderr)
        return 2
    apply_env_file(env_file or (None if args.project else find_env_file()))
    import requests
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import GoogleAuthError

    from skycut.clients import Clients
    from skycut.config import get_settings

    settings = get_settings()
    if args.project:
        settings = settings.model_copy(update={"project_id": args.project})
    clients = Clients(settings)
    where = f"gs://{bucket}/{prefix}"
    if bucket not in settings.source_buckets:
        print(
            f"skycut index: warning: {bucket} is not one of the service's sources buckets "
            f"({', '.join(settings.source_buckets)}; SKYCUT_SOURCE_BUCKETS)",
            file=sys.stderr,
        )
    print(
        f"listing {where} for index {settings.images_collection} of project {settings.project_id}",
        file=sys.stderr,
    )
    try:
        objects = list_objects(clients.storage, bucket, prefix)
        indexer, index = _indexer(clients, bucket)
    except gexc.NotFound:
        print(f"skycut index: no bucket {bucket}", file=sys.stderr)
        return 1
    except (gexc.GoogleAPIError, GoogleAuthError, requests.RequestException) as e:
        print(f"skycut index: cannot list {where}: {e}", file=sys.stderr)
        return 1

    # the summary lists unindexable objects; the indexer's warnings would repeat them
    logging.getLogger("skycut").addHandler(logging.NullHandler())
    report = backfill(
        objects,
        indexing(indexer, index),
        workers=args.workers,
        progress=TallyLine(f"index {where}"),
    )
    write_report(report, where, sys.stdout)
    return 1 if report.failed else 0
