"""The ``skycut`` command line against the running stack, as a user runs it."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
import uuid

import pytest
import requests
from astropy.io import fits
from google.cloud import firestore, storage

from skycut.index.firestore_index import FirestoreImageIndex
from skycut.index.record import ImageRecord, document_id
from skycut.soda.ids import SourceRef
from tests.integration.test_image_index import fits_bytes, wait_for

pytestmark = pytest.mark.integration

MOSAIC_REGION = "RANGE 150.07 150.12 2.2 2.25"  # across two r calexps: 251 x 251 at 0.0002


def skycut(stack, *args, timeout=180):
    env_file = stack.config.state_dir / "env"
    return subprocess.run(
        [sys.executable, "-m", "skycut.cli.main", "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def rows_file(stack, tmp_path):
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0002.fits"
    path = tmp_path / "stamps.csv"
    path.write_text(
        "id,ra,dec,radius,label\n"
        + "".join(f"{source},150.14,{2.23 + i / 1e4},0.001,star{i}\n" for i in range(3))
    )
    return path


@pytest.mark.parametrize("via", ["api", "drop"])
def test_submit_follow_list_and_download(stack, rows_file, tmp_path, via):
    submitted = skycut(stack, "submit", str(rows_file), "--via", via, "--package", "zip")
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().splitlines()[0]
    assert job_id.startswith("bulk-")
    assert "COMPLETED" in submitted.stderr, "progress was shown"
    assert "3/3" in submitted.stderr

    listed = skycut(stack, "jobs", "--last", "1")
    assert listed.stdout.split("\t")[:2] == [job_id, "COMPLETED"]

    out = tmp_path / "results"
    downloaded = skycut(stack, "results", job_id, "--out", str(out))
    assert downloaded.returncode == 0, downloaded.stderr
    names = sorted(p.name for p in out.iterdir())
    # named as stored, with the extension their type calls for
    assert names == [
        "cutout-000000.fits",
        "cutout-000001.fits",
        "cutout-000002.fits",
        "cutouts.zip",
        "manifest.csv",
        "manifest.xml",
    ]
    with fits.open(out / "cutout-000000.fits") as cut:
        assert cut[0].header["SC_ID"].endswith("calexp-r-0002.fits")
    manifest = list(csv.DictReader((out / "manifest.csv").read_text().splitlines()))
    assert [m["label"] for m in manifest] == ["star0", "star1", "star2"]


def test_bad_file_fails_with_the_reason(stack, tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(b"\xff\xfe\x00\x01")
    result = skycut(stack, "submit", str(path))
    assert result.returncode == 1
    assert "not UTF-8" in result.stderr


@pytest.mark.parametrize("owner", ["../x", "..", "a/b", "", "x y"])
def test_an_owner_that_is_not_one_folder_is_refused_before_anything_is_dropped(
    stack, rows_file, owner
):
    dropped = rows_file.with_name(f"stamps-{uuid.uuid4().hex[:8]}.csv")
    dropped.write_bytes(rows_file.read_bytes())
    started = time.monotonic()
    result = skycut(stack, "submit", str(dropped), "--via", "drop", "--owner", owner)
    assert result.returncode != 0
    assert f"--owner {owner!r} cannot be a folder of incoming/" in result.stderr
    assert not result.stdout, "no job id"
    assert time.monotonic() - started < 30
    names = [b.name for b in storage.Client().bucket(stack.config.drop_bucket).list_blobs()]
    assert not [name for name in names if name.endswith(dropped.name)]


def test_following_a_dropped_file_whose_job_is_not_the_callers_stops_and_says_why(stack, rows_file):
    # the bulk function makes the job someone else's; the caller (dev) never sees it
    started = time.monotonic()
    result = skycut(
        stack, "submit", str(rows_file), "--via", "drop", "--owner", "someone-else",
        "--appear-timeout", "5",
    )  # fmt: skip
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    job_id = result.stdout.strip()
    assert job_id.startswith("bulk-")
    assert f"job {job_id} did not appear within 5 s" in result.stderr
    assert f"gs://{stack.config.drop_bucket}/incoming/someone-else/stamps.csv" in result.stderr
    assert "check that --owner someone-else is the identity" in result.stderr
    assert "`skycut jobs`" in result.stderr

    followed = skycut(stack, "status", job_id, "--follow", "--appear-timeout", "2")
    assert followed.returncode == 1
    assert f"no job {job_id} of yours within 2 s" in followed.stderr


def test_without_a_service_the_cli_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("SKYCUT_URL", raising=False)
    result = subprocess.run(
        [sys.executable, "-m", "skycut.cli.main", "jobs"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={k: v for k, v in __import__("os").environ.items() if k != "SKYCUT_URL"},
        check=False,
    )
    assert result.returncode != 0
    assert "no service URL" in result.stderr


def test_index_backfills_a_prefix_and_redoes_only_what_is_missing(stack):
    config = stack.config
    bucket = storage.Client(project=config.project_id).bucket(config.sources_bucket)
    db = firestore.Client(project=config.project_id)
    index = FirestoreImageIndex(client=db, collection=config.images_collection)
    prefix = f"tests/cli-index-{uuid.uuid4().hex[:8]}/"
    centres = {f"{prefix}img-{k}.fits": (30.0 + k, -10.0) for k in range(3)}
    blobs = {}
    for name, centre in centres.items():
        blobs[name] = bucket.blob(name)
        blobs[name].upload_from_string(fits_bytes(centre, FILTER="r"))
    bucket.blob(f"{prefix}notes.txt").upload_from_string(b"not an image\n")
    sources = [SourceRef(bucket.name, name) for name in [*centres, f"{prefix}notes.txt"]]
    for source in sources:  # the event path indexes every upload first
        assert wait_for(index, source, lambda e: e is not None) is not None

    def indexed_at():
        docs = db.collection(config.images_collection)
        return {
            s.name: docs.document(document_id(s)).get().to_dict()["indexed_at"] for s in sources
        }

    before = indexed_at()
    where = f"gs://{bucket.name}/{prefix}"
    current = skycut(stack, "index", where, "--workers", "2")
    assert current.returncode == 0, current.stderr
    lines = current.stdout.splitlines()
    assert lines[0] == f"4 objects under {where}: 4 current"
    assert lines[1] == "not indexable (1):"
    assert lines[2] == f"  {where}notes.txt is not a FITS file"
    assert "4/4" in current.stderr
    assert indexed_at() == before  # nothing was read or written again

    gone = list(centres)[:2]
    for name in gone:  # as if the events about them had been lost
        db.collection(config.images_collection).document(
            document_id(SourceRef(bucket.name, name))
        ).delete()
    redone = skycut(stack, "index", where)
    assert redone.returncode == 0, redone.stderr
    assert redone.stdout.splitlines()[0] == f"4 objects under {where}: 2 indexed, 2 current"
    for name in gone:
        entry = index.get(SourceRef(bucket.name, name))
        assert isinstance(entry, ImageRecord)
        assert entry.stamp.generation == blobs[name].generation
        assert entry.footprint.contains(*centres[name])
    after = indexed_at()
    assert {n for n in after if after[n] != before[n]} == set(gone)


def test_index_of_an_empty_prefix_and_of_a_missing_bucket(stack):
    empty = skycut(stack, "index", f"gs://{stack.config.sources_bucket}/no-such-prefix/")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == f"0 objects under gs://{stack.config.sources_bucket}/no-such-prefix/\n"
    missing = skycut(stack, "index", "gs://no-such-bucket-here")
    assert missing.returncode == 1
    assert "no bucket no-such-bucket-here" in missing.stderr


def test_jobs_lists_cutout_and_mosaic_jobs_and_the_job_commands_take_either(stack, tmp_path):
    base = stack.config.base_url
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    cutout = requests.post(
        f"{base}/async", data={"ID": source, "CIRCLE": "150.05 2.24 0.001"},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert cutout.status_code == 303, cutout.text
    cutout_id = cutout.headers["Location"].rsplit("/", 1)[-1]
    pending = requests.post(
        f"{base}/mosaic", data={"POS": MOSAIC_REGION, "PIXSCALE": "0.0002", "ID": source},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert pending.status_code == 303, pending.text
    pending_id = pending.headers["Location"].rsplit("/", 1)[-1]
    submitted = skycut(
        stack, "mosaic", f"POS={MOSAIC_REGION}", "PIXSCALE=0.0002", "COLLECTION=calexp",
        "BAND=6.2e-7 6.2e-7", "--no-wait",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    mosaic_id = submitted.stdout.strip()

    listed = skycut(stack, "jobs", "--last", "3")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(r[0], r[3]) for r in rows] == [
        (mosaic_id, "mosaic"),
        (pending_id, "mosaic"),
        (cutout_id, "cutout"),
    ]
    assert [r[1] for r in rows[1:]] == ["PENDING", "PENDING"]
    assert [r[2] for r in rows] == sorted((r[2] for r in rows), reverse=True)  # newest first
    only_pending = skycut(stack, "jobs", "--phase", "PENDING", "--last", "2")
    assert [line.split("\t")[0] for line in only_pending.stdout.splitlines()] == [
        pending_id,
        cutout_id,
    ]

    # a mosaic job's id alone is enough for status, results and abort
    followed = skycut(stack, "status", mosaic_id, "--follow", "--timeout", "150")
    assert followed.returncode == 0, followed.stderr
    assert "COMPLETED" in followed.stderr
    out = tmp_path / "mosaic"
    downloaded = skycut(stack, "results", mosaic_id, "--out", str(out))
    assert downloaded.returncode == 0, downloaded.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mosaic.fits", "preview.png"]
    with fits.open(out / "mosaic.fits") as hdul:
        assert hdul[0].data.shape == (251, 251)
    for job_id in (pending_id, cutout_id):
        aborted = skycut(stack, "abort", job_id)
        assert aborted.returncode == 0, aborted.stderr
        shown = skycut(stack, "status", job_id)
        assert shown.stdout.split()[:2] == [job_id, "ABORTED"]
    missing = skycut(stack, "abort", "0" * 32)
    assert missing.returncode == 1
    assert "no job 00000000000000000000000000000000" in missing.stderr
    # delete takes either kind too: the job and its results are gone
    for job_id in (mosaic_id, cutout_id):
        deleted = skycut(stack, "delete", job_id)
        assert deleted.returncode == 0, deleted.stderr
        assert skycut(stack, "status", job_id).returncode == 1
    listed = {line.split("\t")[0] for line in skycut(stack, "jobs").stdout.splitlines()}
    assert pending_id in listed
    assert not listed & {mosaic_id, cutout_id}
