"""The IVOA schemas the tests validate against come with the repository, unmodified."""

import hashlib
import subprocess
from pathlib import Path

import pytest

from skycut import xsd

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "tests" / "data" / "ivoa-xsd"


def test_schemas_are_the_official_copies() -> None:
    listed = {}
    for line in (FOLDER / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        listed[name] = digest
    present = {p.name for p in FOLDER.glob("*.xsd")}
    assert present == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((FOLDER / name).read_bytes()).hexdigest() == digest, name


def test_default_folder_is_inside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKYCUT_XSD_DIR", raising=False)
    assert xsd.xsd_dir().resolve() == FOLDER


@pytest.mark.parametrize("name", ["uws", "availability", "capabilities", "votable"])
def test_every_schema_compiles_offline_from_the_repository(
    name: xsd.SchemaName, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKYCUT_XSD_DIR", raising=False)
    xsd.load_schema.cache_clear()
    try:
        assert xsd.load_schema(name) is not None
    finally:
        xsd.load_schema.cache_clear()


def test_override_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SKYCUT_XSD_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"catalog\.xml"):
        xsd.xsd_dir()


def test_nothing_tracked_reads_the_folder_beside_the_repository() -> None:
    # a plain clone has no ../shared: code, tests and build files must not reach for it
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "*.toml", "Makefile", "*.cfg", "*.sh", ".ci/*"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    offenders = [
        name
        for name in tracked
        if name != "tests/unit/test_xsd_files.py"
        and (
            "../shared" in (text := (REPO / name).read_text(errors="replace"))
            or '"shared" / "ivoa"' in text
        )
    ]
    assert offenders == []
