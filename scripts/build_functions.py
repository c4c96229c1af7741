"""Build the Cloud Functions source bundles: one zip per ``functions/<name>``.

Each bundle holds, at its root, the function's ``main.py``, the ``skycut``
package copied from ``shared/skycut`` and a ``requirements.txt`` pinned from
``uv.lock``: the runtime dependencies plus the extras of ``pyproject.toml``
that `FUNCTION_EXTRAS` gives the function, and nothing else. The zip is
deterministic (sorted entries, fixed timestamps and modes), so the same
sources always give the same bytes, and it is named
``<function>-<sha256 prefix>.zip``: Terraform uploads it under that name, so
any change to the code or the lock redeploys the function and nothing else
does.

``manifest.json`` in the output folder lists the bundles; ``infra/`` reads it
(``var.bundle_dir``) to know which object each function deploys::

    python scripts/build_functions.py --out build/functions
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["FUNCTION_EXTRAS", "Bundle", "build_all", "main", "requirements_from_lock"]

REPO = Path(__file__).resolve().parent.parent
HASH_CHARS = 16
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}
_SIGNATURES = {"http": "http", "cloud_event": "cloudevent"}

# The extras each function's bundle installs besides the core dependencies. A function missing
# here is refused, so a new one is given its extras on purpose. tests/infra/test_bundles.py
# checks that every third-party import a function's code can reach is in its bundle, and that
# no function carries an extra its code does not import.
FUNCTION_EXTRAS: dict[str, tuple[str, ...]] = {
    "bulk_submit": (),
    # its sweep recovers stalled mosaic jobs by publishing their stages again
    # (skycut.mosaic.job.recovery): the mosaic_worker does the work, this function needs none of it
    "cutout_worker": (),
    "image_index": (),
    "mosaic_worker": ("mosaic",),
    "soda_api": ("mosaic",),  # <base>/mosaic/sync makes the mosaic in the request
}


@dataclass(frozen=True, slots=True)
class Bundle:
    """One built function bundle, as recorded in ``manifest.json``."""

    function: str
    entry_point: str
    signature_type: str
    zip: str
    sha256: str


def find_uv() -> str:
    """Return the uv executable: on PATH, else the Makefile's bootstrap copy."""
    found = shutil.which("uv")
    if found:
        return found
    bootstrap = REPO / ".skycut" / "bootstrap" / "bin" / "uv"
    if bootstrap.exists():
        return str(bootstrap)
    raise SystemExit("uv not found: put it on PATH or run `make env` first")


def requirements_from_lock(uv: str, project: Path = REPO, *, extras: tuple[str, ...] = ()) -> str:
    """Return the pinned runtime requirements of ``project`` from its ``uv.lock``.

    Only the ``[project] dependencies`` and the optional dependencies of
    ``extras`` are exported: no dependency group (dev, emulators, infra) and
    not the project itself, which the bundle carries as source.
    """
    result = subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--no-default-groups",
            "--no-emit-project",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--format",
            "requirements-txt",
            *(f"--extra={extra}" for extra in extras),
        ],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    )
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    if not any(line.startswith("functions-framework==") for line in lines):
        raise SystemExit("uv export gave no functions-framework pin; is uv.lock current?")
    return "\n".join(lines) + "\n"


def entry_point_of(main_py: Path) -> tuple[str, str]:
    """Return ``(name, signature type)`` of the one decorated function in ``main_py``."""
    tree = ast.parse(main_py.read_text(), filename=str(main_py))
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Attribute)
                and isinstance(decorator.value, ast.Name)
                and decorator.value.id == "functions_framework"
                and decorator.attr in _SIGNATURES
            ):
                found.append((node.name, _SIGNATURES[decorator.attr]))
    if len(found) != 1:
        raise SystemExit(f"{main_py}: expected one functions_framework entry point, got {found}")
    return found[0]


def _files(root: Path) -> list[Path]:
    """Return the files under ``root`` worth shipping, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix not in _SKIP_SUFFIXES:
                out.append(path)
    return sorted(out)


def deterministic_zip(folder: Path) -> bytes:
    """Zip ``folder``'s files with sorted names, fixed times and fixed modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in _files(folder):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            info.create_system = 3  # Unix, so the mode above is honoured
            zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


def stage(function_dir: Path, shared: Path, requirements: str, dest: Path) -> None:
    """Lay out one bundle in ``dest``: main.py, skycut/ and requirements.txt at its root."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for path in _files(function_dir):
        target = dest / path.relative_to(function_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    for path in _files(shared):
        target = dest / "skycut" / path.relative_to(shared)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (dest / "requirements.txt").write_text(requirements)


def build_all(out: Path, *, repo: Path = REPO, uv: str | None = None) -> list[Bundle]:
    """Build every ``functions/<name>`` bundle into ``out`` and write ``manifest.json``.

    Returns
    -------
    list of Bundle
        The bundles, in function-name order.

    """
    uv = uv or find_uv()
    requirements: dict[tuple[str, ...], str] = {}
    shared = repo / "shared" / "skycut"
    out.mkdir(parents=True, exist_ok=True)
    # the output is a build product: keep it out of git without touching the repo's .gitignore
    (out / ".gitignore").write_text("*\n")
    bundles = []
    for function_dir in sorted(p for p in (repo / "functions").iterdir() if p.is_dir()):
        main_py = function_dir / "main.py"
        if not main_py.exists():
            continue
        function = function_dir.name
        if function not in FUNCTION_EXTRAS:
            raise SystemExit(
                f"{function}: no entry in FUNCTION_EXTRAS (scripts/build_functions.py)"
            )
        extras = FUNCTION_EXTRAS[function]
        if extras not in requirements:
            requirements[extras] = requirements_from_lock(uv, repo, extras=extras)
        entry_point, signature = entry_point_of(main_py)
        staging = out / function
        stage(function_dir, shared, requirements[extras], staging)
        data = deterministic_zip(staging)
        digest = hashlib.sha256(data).hexdigest()
        for stale in out.glob(f"{function}-*.zip"):
            stale.unlink()
        name = f"{function}-{digest[:HASH_CHARS]}.zip"
        (out / name).write_bytes(data)
        bundles.append(
            Bundle(
                function=function,
                entry_point=entry_point,
                signature_type=signature,
                zip=name,
                sha256=digest,
            )
        )
    manifest = {"bundles": {b.function: asdict(b) for b in bundles}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return bundles


def main(argv: list[str] | None = None) -> int:
    """Build the bundles and print where they are."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "build" / "functions", help="output folder"
    )
    parser.add_argument("--uv", default=None, help="uv executable (default: PATH, then bootstrap)")
    args = parser.parse_args(argv)
    for bundle in build_all(args.out.resolve(), uv=args.uv):
        print(f"{bundle.function:>14}  {args.out / bundle.zip}")
    print(f"{'manifest':>14}  {args.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
