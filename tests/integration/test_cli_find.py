"""``skycut find`` against the stack's SIA endpoint, checked against the sample files' own WCS."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from astropy.io.votable import parse_single_table

from skycut.index.errors import UnindexableError
from skycut.index.footprint import image_footprint
from tests.integration.test_cli import skycut

pytestmark = pytest.mark.integration


def covering(stack: Any, ra: float, dec: float) -> dict[str, tuple[float, str]]:
    """ID → (MJD-OBS, FILTER) of the sample images whose outline holds (ra, dec).

    The outline is computed here from each local file's header, not read
    from the index the service answers from.
    """
    found = {}
    for name, image_id in stack.sample.ids.items():
        if not name.endswith(".fits"):
            continue
        with fits.open(Path(stack.config.sample_dir) / name) as hdul:
            for hdu in hdul:
                try:
                    footprint = image_footprint(hdu.header, source=name)
                except UnindexableError:
                    continue
                if footprint.contains(ra, dec):
                    cards = {**hdul[0].header, **hdu.header}
                    found[image_id] = (float(cards["MJD-OBS"]), str(cards["FILTER"]))
                break
    return found


def test_find_lists_the_images_covering_a_position_by_time(stack: Any) -> None:
    expected = covering(stack, 150.1, 2.2)
    assert len(expected) >= 4  # the COSMOS-like calexps and the coadd
    result = skycut(stack, "find", "150.1", "2.2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "collection", "band"]
    assert lines[-1] == f"{len(expected)} images"
    rows = [line.split() for line in lines[1:-1]]
    by_time = sorted(expected, key=lambda image_id: (expected[image_id][0], image_id))
    assert [row[0] for row in rows] == by_time
    for row in rows:
        mjd, band = expected[row[0]]
        assert row[2] == band
        assert float(row[5]) == pytest.approx(mjd, abs=1e-5)
        assert row[1] == ("deepcoadd" if "deepcoadd" in row[0] else "calexp")


def test_find_narrows_by_band_and_time(stack: Any) -> None:
    ra, dec = 53.1, -27.8  # the field observed many times
    epochs = covering(stack, ra, dec)
    expected = {i for i, (mjd, band) in epochs.items() if band == "r" and 61040 <= mjd <= 61300}
    assert 2 <= len(expected) < len(epochs)
    result = skycut(
        stack, "find", str(ra), str(dec), "--band", "r", "--time", "61040", "61300",
        "--format", "csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {row["obs_publisher_did"] for row in rows} == expected
    times = [float(row["t_min"]) for row in rows]
    assert times == sorted(times)
    assert all(row["s_region"].count(" ") >= 5 for row in rows)  # a polygon's numbers


def test_find_writes_the_service_votable(stack: Any) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "skycut.cli.main",
            "--env-file", str(stack.config.state_dir / "env"),
            "find", "150.1", "2.2", "--format", "votable",
        ],
        capture_output=True, timeout=180, check=True,
    )  # fmt: skip
    table = parse_single_table(io.BytesIO(done.stdout)).to_table()
    assert set(table["obs_publisher_did"]) == set(covering(stack, 150.1, 2.2))


def test_find_reports_the_service_error(stack: Any) -> None:
    refused = skycut(stack, "find", "150.1", "2.2", "--collection", "")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "refused the query" in refused.stderr
    assert "COLLECTION" in refused.stderr


def test_find_says_when_more_images_exist(stack: Any) -> None:
    result = skycut(stack, "find", "53.1", "-27.8", "--maxrec", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "3 images"
    assert "raise --maxrec" in result.stderr


def test_submit_of_rows_without_id_downloads_every_epoch_and_its_package(
    stack: Any, tmp_path: Path
) -> None:
    from skycut.sample.epochs import TARGET

    expected = covering(stack, *TARGET)
    rows = tmp_path / "target.csv"
    rows.write_text(f"ra,dec,radius,label\n{TARGET[0]},{TARGET[1]},0.0014,target\n")
    submitted = skycut(stack, "submit", str(rows), "--package", "epochs")
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().splitlines()[0]
    assert f"{len(expected)}/{len(expected)}" in submitted.stderr

    out = tmp_path / "results"
    downloaded = skycut(stack, "results", job_id, "--out", str(out))
    assert downloaded.returncode == 0, downloaded.stderr
    names = sorted(p.name for p in out.iterdir())
    assert "epochs-000002.fits" in names
    assert "filmstrip-000002.png" in names
    assert sum(n.startswith("cutout-") for n in names) == len(expected)
    manifest = list(csv.DictReader((out / "manifest.csv").read_text().splitlines()))
    assert sorted(m["id"] for m in manifest) == sorted(expected)
    assert [float(m["mjd"]) for m in manifest] == sorted(mjd for mjd, _ in expected.values())
    with fits.open(out / "epochs-000002.fits") as package:
        assert [h.header["SC_SRC"] for h in package[1:]] == [m["id"] for m in manifest]
