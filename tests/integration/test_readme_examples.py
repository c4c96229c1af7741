"""The README's examples, run as a newcomer would paste them, against the running stack."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.io import fits

from emulators.stack import REPO

pytestmark = pytest.mark.integration

README = (REPO / "README.md").read_text()
DEFAULT_URL = "http://127.0.0.1:8080/api/image/soda"


def example(after: str, language: str) -> str:
    """The first fenced ``language`` block after the line starting with ``after``."""
    start = README.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.DOTALL).search(README, start)
    assert match is not None, f"no {language} example after {after!r}"
    return match.group(1)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_curl_example_gets_a_cutout_and_waits_for_the_async_results(base_url, tmp_path):
    script = example("With curl", "sh").replace(DEFAULT_URL, base_url)
    done = run(["bash", "-eu", "-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sync: HTTP 200" in done.stdout
    assert "job COMPLETED" in done.stdout  # not a job still EXECUTING
    assert done.stdout.count("<uws:result ") == 2
    with fits.open(tmp_path / "cutout.fits") as cutout:
        assert cutout["IMAGE"].data.size > 0


@pytest.mark.parametrize(
    ("change", "expect_file", "expect_text"),
    [
        (None, True, ""),
        (("deepcoadd-i-0001.fits", "no-such-image.fits"), False, "does not exist"),
        (("circle=(150.1, 2.2,", "circle=(10.0, 2.2,"), False, "no overlap"),
    ],
)
def test_pyvo_example_writes_the_cutout_or_says_why_not(
    base_url, tmp_path, change, expect_file, expect_text
):
    code = example("With pyvo", "python").replace(DEFAULT_URL, base_url)
    if change is not None:
        assert change[0] in code
        code = code.replace(*change)
    done = run([sys.executable, "-c", code], tmp_path)
    assert (tmp_path / "cutout.fits").exists() == expect_file
    if expect_file:
        assert done.returncode == 0, done.stderr
        with fits.open(tmp_path / "cutout.fits") as cutout:
            assert cutout["IMAGE"].data.size > 0
    else:
        assert expect_text in done.stdout + done.stderr


def test_the_commands_make_run_prints_work_as_pasted(stack, tmp_path):
    from emulators.stack import banner

    text = banner(stack)
    curl = next(line.strip() for line in text.splitlines() if line.strip().startswith("curl "))
    start = text.index(' -c "') - len(sys.executable) - 1
    python = text[start : text.index('"', text.index(' -c "') + 5) + 1].strip()
    for command in (curl, python):
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        with fits.open(tmp_path / "cutout.fits") as cutout:
            assert cutout["IMAGE"].data.size > 0
        (tmp_path / "cutout.fits").unlink()


def test_position_examples_find_and_cut_the_variable_stars_epochs(base_url, tmp_path, sample_dir):
    from tests.integration.test_by_position import covering_files

    script = example("### Finding images by position", "sh").replace(DEFAULT_URL, base_url)
    done = run(["bash", "-eu", "-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    everything = covering_files(sample_dir, 53.1, -27.8)
    r_band = [n for n in everything if n.split("-")[1] == "r"]
    january = [
        n
        for n in covering_files(sample_dir, 53.1, -27.8, mjd_range=(61041, 61072))
        if n.startswith("calexp-")
    ]
    lines = done.stdout.splitlines()
    assert lines[0] == str(len(r_band))
    assert "job COMPLETED" in done.stdout
    assert done.stdout.count("<uws:result ") == len(january) >= 3

    code = example("With pyvo, SIA", "python").replace(DEFAULT_URL, base_url)
    done = run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(r_band)
    with fits.open(tmp_path / "first-r-epoch.fits") as cutout:
        assert cutout[0].header["SC_ID"].rsplit("/", 1)[-1] in r_band
        assert cutout["IMAGE"].data.size > 0
