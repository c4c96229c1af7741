"""Loading the sample survey, or a user's own FITS files, into the sources bucket."""

from __future__ import annotations

import base64
import csv
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulators.resources import client_environment
from skycut.sample.survey import SurveyManifest, generate_survey

__all__ = ["LoadedSample", "load_sample", "upload_files"]

SAMPLE_PREFIX = "sample/"


@dataclass(frozen=True)
class LoadedSample:
    """The sample survey as loaded: its files and their IDs."""

    manifest: SurveyManifest
    ids: dict[str, str]
    example_id: str
    example_position: tuple[float, float]


def upload_files(
    env: Mapping[str, str], files: Sequence[Path], *, bucket: str, prefix: str
) -> dict[str, str]:
    """Upload files to ``gs://bucket/prefix<name>``; announce those already there.

    A file whose object is already there with the same content (the MD5 the
    store computed of it) is not sent again: its metadata is
    changed instead, so its object event reaches the indexer. Any other file,
    a replacement of the same size included, is uploaded.

    Returns
    -------
    dict
        File name → the ID a SODA request uses for it.

    """
    from google.cloud import storage  # type: ignore[attr-defined]

    ids = {}
    with client_environment(env):
        client = storage.Client(project=env.get("SKYCUT_PROJECT_ID"))
        target = client.bucket(bucket)
        for path in files:
            name = prefix + path.name
            blob = target.get_blob(name)
            if blob is None or not _holds(blob, path):
                target.blob(name).upload_from_filename(str(path), timeout=600)
            else:
                # kept from an earlier run, whose index the new Firestore emulator does not
                # hold: a metadata change sends the object's event to the indexer again
                blob.metadata = {**(blob.metadata or {}), "skycut-loaded": str(time.time())}
                blob.patch()
            ids[path.name] = f"gs://{bucket}/{name}"
    return ids


def _holds(blob: Any, path: Path) -> bool:
    # whether the stored object has the file's bytes: a replacement of the same size is
    # another file. An object without an MD5 (a composite one) is sent again.
    if blob.size != path.stat().st_size or not blob.md5_hash:
        return False
    md5 = hashlib.md5(usedforsecurity=False)  # as the store hashed it
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
    return bool(blob.md5_hash == base64.b64encode(md5.digest()).decode())


def load_sample(env: Mapping[str, str], *, sample_dir: Path, bucket: str) -> LoadedSample:
    """Generate the sample survey (once; it is cached) and upload it."""
    manifest = generate_survey(sample_dir)
    files = [image.path for image in manifest.images] + [manifest.catalogue, manifest.variables]
    ids = upload_files(env, files, bucket=bucket, prefix=SAMPLE_PREFIX)
    first = manifest.images[0]
    with manifest.catalogue.open() as f:
        rows = list(csv.DictReader(f))
    # the brightest catalogued star is the friendliest first cutout
    star = min(rows, key=lambda r: float(r["mag"]))
    return LoadedSample(
        manifest=manifest,
        ids=ids,
        example_id=ids[first.name],
        example_position=(float(star["ra"]), float(star["dec"])),
    )


def wait_until_indexed(
    env: Mapping[str, str], ids: Sequence[str], *, collection: str, timeout: float = 120.0
) -> None:
    """Wait until the image index holds an entry of every object in ``ids``.

    Raises
    ------
    TimeoutError
        If some are still missing after ``timeout`` seconds (the indexer's log says why).

    """
    from google.cloud import firestore

    from skycut.index.firestore_index import FirestoreImageIndex
    from skycut.soda.ids import parse_source_id

    buckets = env["SKYCUT_SOURCE_BUCKETS"].split(",")
    sources = [parse_source_id(i, allowed_buckets=buckets) for i in ids]
    with client_environment(env):
        index = FirestoreImageIndex(
            client=firestore.Client(project=env.get("SKYCUT_PROJECT_ID")), collection=collection
        )
        deadline = time.monotonic() + timeout
        while True:
            missing = [s.uri for s in sources if index.stored(s) is None]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not indexed after {timeout:.0f} s: {', '.join(missing)}")
            time.sleep(0.2)
