"""The ``skycut`` command line against the running stack, as a user runs it."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from astropy.io import fits

pytestmark = pytest.mark.integration


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
