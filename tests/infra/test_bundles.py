"""The function bundles: deterministic zips that install and load on their own."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import metadata
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


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_pins(text: str) -> dict[str, str]:
    """Return ``{distribution: pinned line}`` of a bundle's requirements.txt."""
    return {_normal(re.split(r"[=;\s]", line, maxsplit=1)[0]): line for line in text.splitlines()}


def bundle_requirements(built: Path) -> dict[str, dict[str, str]]:
    return {f: requirement_pins((built / f / "requirements.txt").read_text()) for f in FUNCTIONS}


def test_requirements_pin_the_runtime_dependencies_only(built: Path) -> None:
    requirements = bundle_requirements(built)
    core = set.intersection(*(set(r) for r in requirements.values()))
    for pins in requirements.values():
        assert all("==" in line for line in pins.values()), "every requirement is pinned"
        assert not set(pins) & {"pytest", "checkov", "python-hcl2", "mypy", "ruff", "skycut"}
    assert {
        "functions-framework",
        "astropy",
        "google-cloud-firestore",
        "pydantic-settings",
    } <= core
    # one locked set: a distribution two bundles install is pinned alike in both
    lines: dict[str, set[str]] = defaultdict(set)
    for pins in requirements.values():
        for name, line in pins.items():
            lines[name].add(line)
    assert {name: pins for name, pins in lines.items() if len(pins) > 1} == {}
    # bundles with the same extras install the same set
    by_extras: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for function, pins in requirements.items():
        by_extras[build_functions.FUNCTION_EXTRAS[function]].add("\n".join(sorted(pins.values())))
    assert all(len(texts) == 1 for texts in by_extras.values())


def test_every_function_is_given_its_extras() -> None:
    assert set(build_functions.FUNCTION_EXTRAS) == set(FUNCTIONS)
    declared = set(_extras())
    assert {e for es in build_functions.FUNCTION_EXTRAS.values() for e in es} <= declared


# What the mosaic extra brings, which the functions that make no mosaic must not deploy.
_MOSAIC_ONLY = {"reproject", "scipy", "dask", "dask-image", "zarr", "astropy-healpix", "pyavm"}


@pytest.mark.parametrize("function", ["bulk_submit", "cutout_worker", "image_index"])
def test_functions_that_make_no_mosaic_do_not_deploy_its_dependencies(
    built: Path, function: str
) -> None:
    assert "mosaic" not in build_functions.FUNCTION_EXTRAS[function]
    assert not set(bundle_requirements(built)[function]) & _MOSAIC_ONLY


# --- every third-party module a function's code can import is in its bundle -------------------
#
# From functions/<f>/main.py the imports are followed through the skycut package, module by
# module: every module the entry point can reach counts whole, the imports inside its functions
# (lazy imports) included, those under `if TYPE_CHECKING:` left out (they never run). Each
# third-party module named must be provided by a distribution in the bundle's requirements.txt;
# which distribution provides a module is read from the files each installed distribution owns
# (so `google.cloud.storage` is google-cloud-storage's, not any `google` namespace member's).

_SHARED = REPO / "shared"


def _extras() -> dict[str, list[str]]:
    """Return pyproject.toml's ``[project.optional-dependencies]``, as distribution names."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {
        extra: [_normal(re.split(r"[<>=!~;\[\s]", req, maxsplit=1)[0]) for req in reqs]
        for extra, reqs in project.get("optional-dependencies", {}).items()
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.Module, package: str) -> Iterator[str]:
    """Yield the dotted names ``tree`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                parts = package.split(".")
                source = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [source])])
            yield source
            yield from (f"{source}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))


def _skycut_module(name: str) -> tuple[Path, str] | None:
    """Return the source of skycut module ``name`` and the package its relative imports use."""
    path = _SHARED.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py", name
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py"), name.rpartition(".")[0]
    return None


def third_party_imports(entry: Path) -> dict[str, set[str]]:
    """Return the third-party modules the code reached from ``entry`` imports, and by whom."""
    return _reach(entry)[0]


def skycut_modules(entry: Path) -> set[str]:
    """Return the skycut modules the code reached from ``entry`` imports."""
    return _reach(entry)[1] - {"main"}


def _reach(entry: Path) -> tuple[dict[str, set[str]], set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    todo: list[tuple[str, Path, str]] = [("main", entry, "")]
    seen: set[str] = set()
    while todo:
        name, path, package = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in _imported_names(ast.parse(path.read_text()), package):
            top = imported.partition(".")[0]
            if top == "skycut":
                parts = imported.split(".")
                for i in range(1, len(parts) + 1):  # a package's __init__ runs first
                    found = _skycut_module(".".join(parts[:i]))
                    if found is not None:
                        todo.append((".".join(parts[:i]), *found))
            elif top not in sys.stdlib_module_names:
                out[imported].add(name)
    return out, seen


@cache
def _module_owners() -> dict[str, frozenset[str]]:
    """Return ``{module or package: the installed distributions with files in it}``."""
    owners: dict[str, set[str]] = defaultdict(set)
    for dist in metadata.distributions():
        name = _normal(dist.metadata["Name"])
        for file in dist.files or []:
            parts = file.parts
            if not parts or ".." in parts or parts[0].endswith((".dist-info", ".data")):
                continue
            stem = parts[-1].split(".", 1)[0]
            if not parts[-1].endswith((".py", ".so", ".pyd")) or not stem.isidentifier():
                continue
            dotted = [*parts[:-1], stem] if stem != "__init__" else list(parts[:-1])
            for i in range(1, len(dotted) + 1):
                owners[".".join(dotted[:i])].add(name)
    return {module: frozenset(dists) for module, dists in owners.items()}


def _providers(module: str) -> frozenset[str]:
    """Return the distributions providing ``module`` (its longest installed prefix)."""
    owners = _module_owners()
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        found = owners.get(".".join(parts[:i]))
        if found:
            return found
    return frozenset()


def missing_imports(entry: Path, requirements: Iterable[str]) -> dict[str, list[str]]:
    """Return the modules ``entry``'s code imports that no required distribution provides.

    Maps each to the skycut modules importing it (``main`` is the entry point).
    """
    bundle = {_normal(r) for r in requirements}
    return {
        module: sorted(importers)
        for module, importers in sorted(third_party_imports(entry).items())
        if not _providers(module) & bundle
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_module_a_function_can_import_is_in_its_bundle(built: Path, function: str) -> None:
    entry = REPO / "functions" / function / "main.py"
    assert missing_imports(entry, bundle_requirements(built)[function]) == {}


def test_a_bundle_without_the_mosaic_extra_misses_the_mosaic_imports() -> None:
    """The check above fails when a function that makes mosaics loses its extra."""
    core = requirement_pins(build_functions.requirements_from_lock(build_functions.find_uv()))
    missing = missing_imports(REPO / "functions" / "mosaic_worker" / "main.py", core)
    assert {m.partition(".")[0] for m in missing} == {"reproject", "scipy"}
    assert "skycut.mosaic.reproject_tile" in missing["reproject"]


def test_the_sweep_recovers_mosaic_jobs_without_reaching_the_mosaic_code() -> None:
    """cutout_worker's sweep takes over mosaic jobs, and imports no reprojection to do it."""
    entry = REPO / "functions" / "cutout_worker" / "main.py"
    reached = skycut_modules(entry)
    assert "skycut.mosaic.job.recovery" in reached
    assert not {"skycut.mosaic.reproject_tile", "skycut.mosaic.job.runner"} & reached
    imported = {m.partition(".")[0] for m in third_party_imports(entry)}
    assert not imported & {"reproject", "scipy"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_bundle_carries_an_extra_its_code_does_not_import(function: str) -> None:
    imported = third_party_imports(REPO / "functions" / function / "main.py")
    extras = _extras()
    for extra in build_functions.FUNCTION_EXTRAS[function]:
        unused = [d for d in extras[extra] if not any(d in _providers(m) for m in imported)]
        assert unused == [], f"{function} carries [{extra}] but imports none of {unused}"


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
def bundle_python(
    built: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[bytes], Path]]:
    """Return the fresh virtualenv of a requirements.txt, holding it alone.

    Bundles with the same extras share one (`test_requirements_pin_the_runtime_dependencies_only`).
    Every bundle's virtualenv is installed at once, side by side: pip mostly waits on files.
    """
    distinct = {(built / f / "requirements.txt").read_bytes() for f in FUNCTIONS}
    with ThreadPoolExecutor(max_workers=len(distinct)) as pool:
        pythons = {
            r: pool.submit(_clean_venv, tmp_path_factory.mktemp("clean"), r) for r in distinct
        }
        yield lambda requirements: pythons[requirements].result()


def _clean_venv(root: Path, requirements: bytes) -> Path:
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    (root / "requirements.txt").write_bytes(requirements)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            # as Google's Python buildpack installs a function's requirements.txt: it compiles
            # afterwards, ignoring compile errors, so compiling here would prove nothing more
            "--no-compile",
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
    built: Path, bundle_python: Callable[[bytes], Path], tmp_path: Path, function: str
) -> None:
    """pip installs a bundle's requirements.txt alone; functions-framework loads its target."""
    bundle = manifest(built)[function]
    signature = FUNCTIONS[function]
    folder = tmp_path / function
    with zipfile.ZipFile(built / bundle["zip"]) as zf:
        zf.extractall(folder)
        python = bundle_python(zf.read("requirements.txt"))
    # nothing from this repository or its .venv may leak into the bundle's imports
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SKYCUT_", "PYTHON", "VIRTUAL_ENV"))
        and not k.endswith("_EMULATOR_HOST")
    }
    run = subprocess.run(
        [str(python), "-c", _LOAD, bundle["entry_point"], signature],
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
