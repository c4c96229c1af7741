"""The import graph stays honest: no package cycles, no client library where none is used."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "skycut"


def is_composition_root(module: str) -> bool:
    """Tell whether a module may build the Clients bag: an entry point or a factory.

    The entry points are functions/*/main.py (outside the package) and the
    command line's commands; the factories they call give every other module
    the store, queue, writer or client it uses.
    """
    return module.endswith(".factory") or module.startswith("skycut.cli.")


def package_imports() -> dict[str, set[str]]:
    """skycut's sub-packages (and top-level modules) and the others each imports."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        unit = parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("skycut."):
                target = node.module.split(".")[1]  # type: ignore[union-attr]
                if target != unit:
                    edges[unit].add(target)
    return edges


def module_imports() -> dict[str, set[str]]:
    """Each skycut module and the skycut modules it imports (lazily or for typing too)."""
    out: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("skycut.")
        }
    return out


def test_no_two_packages_import_each_other() -> None:
    edges = package_imports()
    cycles = sorted(
        {tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges.get(b, set())}
    )
    assert cycles == []


def test_no_package_imports_itself_through_others() -> None:
    edges = package_imports()

    def reached(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for target in edges.get(todo.pop(), set()) - seen:
                seen.add(target)
                todo.append(target)
        return seen

    assert sorted(unit for unit in edges if unit in reached(unit)) == []


def test_only_the_composition_roots_use_the_clients_bag() -> None:
    users = {name for name, imported in module_imports().items() if "skycut.clients" in imported}
    assert {"skycut.api.factory", "skycut.worker.factory"} <= users
    assert sorted(name for name in users if not is_composition_root(name)) == []


def test_the_cutout_engine_imports_only_itself_and_the_errors() -> None:
    assert package_imports()["cutout"] <= {"errors"}


def test_the_command_line_loads_no_google_client_library() -> None:
    # the HTTP-only commands must start without Firestore, Pub/Sub or Storage
    code = (
        "import sys, skycut.cli.main\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('google.cloud.', 'grpc')))\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
