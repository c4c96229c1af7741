import subprocess
import sys
from pathlib import Path

import pytest

from emulators.load import split_file_list
from emulators.stack import REPO

NAMES = ["a.fits", "b.fits", "my image 2.fits", "c d.fits", "it's.fits"]


@pytest.fixture
def files(tmp_path, monkeypatch):
    for name in NAMES:
        (tmp_path / name).write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.fits b.fits", ["a.fits", "b.fits"]),
        ("my image 2.fits", ["my image 2.fits"]),
        ('"my image 2.fits" a.fits', ["my image 2.fits", "a.fits"]),
        (r"my\ image\ 2.fits", ["my image 2.fits"]),
        (
            "a.fits my image 2.fits c d.fits b.fits",
            ["a.fits", "my image 2.fits", "c d.fits", "b.fits"],
        ),
        ('"it\'s.fits"', ["it's.fits"]),
        ("*.fits", sorted(NAMES)),
        ("a.fits missing.fits", ["a.fits", "missing.fits"]),
    ],
)
def test_file_list_is_split_as_a_shell_would_keeping_names_with_spaces(files, text, expected):
    assert split_file_list(text) == [Path(name) for name in expected]


def test_unclosed_quote_is_an_error(files):
    with pytest.raises(ValueError, match="quotation"):
        split_file_list('"my image 2.fits')


def test_make_load_keeps_file_names_with_spaces_whole(files, tmp_path):
    # a stand-in for uv: `uv run --frozen CMD...` runs CMD; anything else (uv sync) does nothing
    uv = tmp_path / "uv"
    uv.write_text('#!/bin/sh\n[ "$1" = run ] || exit 0\nshift 2\nexec "$@"\n')
    uv.chmod(0o755)
    listed = f'{files}/my image 2.fits "{files}/c d.fits" {files}/missing.fits'
    done = subprocess.run(
        ["make", "-s", "-C", str(REPO), "load", f"UV={uv}", f"FILES={listed}"],
        capture_output=True,
        text=True,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        check=False,
        timeout=60,
    )
    # the files that exist are taken whole; the one that does not is named whole
    assert done.returncode == 2, done.stderr
    assert f"not files: ['{files}/missing.fits']" in done.stderr
