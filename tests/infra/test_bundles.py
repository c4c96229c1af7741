"""The function bundles: deterministic zips that install and load on their own."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from emulators.stack import REPO

sys.path.insert(0, str(REPO / "scripts"))
import build_functions

FUNCTIONS = {
    "soda_api": "http",
    "cutout_worker": "cloudevent",
    "bulk_submit": "cloudevent",
    "image_index": "cloudevent",
    "mosaic_worker": "cloudevent",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles")
    build_functions.build_all(out)
    return out


def manifest(folder: Path) -> dict[str, dict[str, str]]:
    bundles: dict[str, dict[str, str]] = json.loads((folder / "manifest.json").read_text())[
        "bundles"
    ]
    return bundles


def test_one_bundle_per_function_named_by_its_hash(built: Path) -> None:
    bundles = manifest(built)
    assert {k: b["signature_type"] for k, b in bundles.items()} == FUNCTIONS
    for function, bundle in bundles.items():
        data = (built / bundle["zip"]).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert bundle["sha256"] == digest
        assert bundle["zip"] == f"{function}-{digest[: build_functions.HASH_CHARS]}.zip"
        assert bundle["entry_point"] == function
    assert sorted(p.name for p in built.glob("*.zip")) == sorted(b["zip"] for b in bundles.values())


def test_bundles_are_byte_identical_when_rebuilt(built: Path, tmp_path: Path) -> None:
    build_functions.build_all(tmp_path)
    assert manifest(tmp_path) == manifest(built)


def test_a_code_change_renames_the_bundle(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "main.py").write_text("x = 1\n")
    before = hashlib.sha256(build_functions.deterministic_zip(folder)).hexdigest()
    (folder / "main.py").write_text("x = 2\n")
    assert hashlib.sha256(build_functions.deterministic_zip(folder)).hexdigest() != before


def test_bundle_layout(built: Path) -> None:
    for function, bundle in manifest(built).items():
        with zipfile.ZipFile(built / bundle["zip"]) as zf:
            names = zf.namelist()
            infos = zf.infolist()
            main = zf.read("main.py")
        assert names == sorted(names), "entries must be sorted"
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {"main.py", "requirements.txt", "skycut/__init__.py", "skycut/py.typed"} <= set(
            names
        )
        assert main == (REPO / "functions" / function / "main.py").read_bytes()
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        shared = {
            "skycut/" + p.relative_to(REPO / "shared" / "skycut").as_posix()
            for p in (REPO / "shared" / "skycut").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }
        assert shared <= set(names)


def test_requirements_pin_the_runtime_dependencies_only(built: Path) -> None:
    texts = {(built / f / "requirements.txt").read_text() for f in FUNCTIONS}
    assert len(texts) == 1, "every bundle installs the same locked set"
    lines = texts.pop().splitlines()
    names = {re.split(r"[=;\s]", line, maxsplit=1)[0].lower() for line in lines}
    assert all("==" in line for line in lines), "every requirement is pinned"
    assert {
        "functions-framework",
        "astropy",
        "google-cloud-firestore",
        "pydantic-settings",
    } <= names
    assert not names & {"pytest", "checkov", "python-hcl2", "mypy", "ruff", "skycut"}


_LOAD = """
import json, sys
import functions_framework
target, signature = sys.argv[1], sys.argv[2]
app = functions_framework.create_app(target, "main.py", signature)
client = app.test_client()
if signature == "http":
    response = client.get("/api/image/soda/capabilities")
else:
    # a CloudEvent the function acknowledges without touching a back end
    response = client.post(
        "/",
        json={"message": {"attributes": {"eventType": "OBJECT_DELETE"}, "data": "",
                          "messageId": "1", "publishTime": "2026-11-21T12:00:00Z"},
              "subscription": "projects/p/subscriptions/s"},
        headers={"Content-Type": "application/json"},
    )
print(json.dumps({"status": response.status_code, "body": response.get_data(as_text=True)[:200]}))
"""


@pytest.fixture(scope="module")
def bundle_python(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the python of a fresh virtualenv holding one bundle's requirements.txt alone."""
    root = tmp_path_factory.mktemp("clean")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    with zipfile.ZipFile(built / manifest(built)["soda_api"]["zip"]) as zf:
        requirements = zf.read("requirements.txt")
    (root / "requirements.txt").write_bytes(requirements)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(root / "requirements.txt"),
        ],
        check=True,
        timeout=600,
    )
    return python


@pytest.mark.integration
@pytest.mark.parametrize("function", FUNCTIONS)
def test_bundles_install_in_a_clean_virtualenv_and_load(
    built: Path, bundle_python: Path, tmp_path: Path, function: str
) -> None:
    """pip installs a bundle's requirements.txt alone; functions-framework loads its target."""
    bundle = manifest(built)[function]
    signature = FUNCTIONS[function]
    folder = tmp_path / function
    with zipfile.ZipFile(built / bundle["zip"]) as zf:
        zf.extractall(folder)
    # nothing from this repository or its .venv may leak into the bundle's imports
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SKYCUT_", "PYTHON", "VIRTUAL_ENV"))
        and not k.endswith("_EMULATOR_HOST")
    }
    run = subprocess.run(
        [str(bundle_python), "-c", _LOAD, bundle["entry_point"], signature],
        cwd=folder,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["status"] == 200, result
    if signature == "http":
        assert "capabilities" in result["body"]
