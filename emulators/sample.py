"""Loading the sample survey, or a user's own FITS files, into the sources bucket."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    """Upload files to ``gs://bucket/prefix<name>``, skipping identical ones.

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
            if blob is None or blob.size != path.stat().st_size:
                target.blob(name).upload_from_filename(str(path), timeout=600)
            ids[path.name] = f"gs://{bucket}/{name}"
    return ids


def load_sample(env: Mapping[str, str], *, sample_dir: Path, bucket: str) -> LoadedSample:
    """Generate the sample survey (once; it is cached) and upload it."""
    manifest = generate_survey(sample_dir)
    files = [image.path for image in manifest.images] + [manifest.catalogue]
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
