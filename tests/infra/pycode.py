"""The skycut package and the function entry points, parsed for static analysis.

Only names are resolved (imports, re-exports, classes and their methods);
nothing is imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from emulators.stack import REPO

__all__ = [
    "FUNCTIONS_DIR",
    "PACKAGE_DIR",
    "ClassInfo",
    "Code",
    "Def",
    "ModuleInfo",
    "Symbol",
    "annotation_names",
    "walk_code",
]

PACKAGE_DIR = REPO / "shared" / "skycut"
FUNCTIONS_DIR = REPO / "functions"

FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Def:
    """One function or method (nested functions belong to the one they are in)."""

    module: str
    qualname: str
    cls: str | None
    node: FuncNode = field(compare=False, hash=False, repr=False)

    def __str__(self) -> str:
        return f"{self.module}:{self.qualname}"

    def params(self) -> list[ast.arg]:
        """Return every parameter, ``self`` included, of this def and the defs nested in it."""
        out: list[ast.arg] = []
        for node in ast.walk(self.node):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                a = node.args
                out += [*a.posonlyargs, *a.args, *a.kwonlyargs]
                out += [x for x in (a.vararg, a.kwarg) if x is not None]
        return out

    def own_params(self) -> list[ast.arg]:
        """Return this def's own positional and keyword parameters, in order."""
        a = self.node.args
        return [*a.posonlyargs, *a.args, *a.kwonlyargs]


@dataclass
class ClassInfo:
    """A top-level class and its methods."""

    module: str
    name: str
    node: ast.ClassDef
    methods: dict[str, Def] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """``(module, name)``."""
        return (self.module, self.name)


@dataclass(frozen=True)
class Symbol:
    """What a name resolves to: a function, a class, a module-level value or a module."""

    kind: str
    module: str
    name: str = ""


@dataclass
class ModuleInfo:
    """One parsed module: its top-level definitions and the names it imports."""

    name: str
    path: Path
    tree: ast.Module
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    functions: dict[str, Def] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    values: dict[str, ast.expr] = field(default_factory=dict)


def _module_name(path: Path) -> str:
    relative = path.relative_to(REPO / "shared" if PACKAGE_DIR in path.parents else REPO)
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parse(name: str, path: Path, text: str) -> ModuleInfo:
    tree = ast.parse(text, filename=str(path))
    module = ModuleInfo(name=name, path=path, tree=tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):  # imports inside functions count too (lazy imports)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    module.imports[alias.asname] = (alias.name, None)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([source] if source else [])])
            for alias in node.names:
                module.imports[alias.asname or alias.name] = (source, alias.name)
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            module.functions[stmt.name] = Def(name, stmt.name, None, stmt)
        elif isinstance(stmt, ast.ClassDef):
            info = ClassInfo(module=name, name=stmt.name, node=stmt)
            for item in stmt.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    info.methods[item.name] = Def(name, f"{stmt.name}.{item.name}", stmt.name, item)
            module.classes[stmt.name] = info
        elif isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    module.values[target.id] = stmt.value
    return module


def annotation_names(annotation: ast.expr | None) -> set[str]:
    """Return the class names an annotation mentions (``X | None`` gives ``{"X"}``)."""
    if annotation is None:
        return set()
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return set()
    names = set()
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names - {"None", "Optional", "Union"}


def walk_code(root: ast.AST) -> Iterator[ast.AST]:
    """Walk a syntax tree, leaving out annotations (they run nothing)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        for name, value in ast.iter_fields(node):
            if name in {"annotation", "returns"} or (
                isinstance(node, ast.AnnAssign) and name == "target"
            ):
                continue
            children = value if isinstance(value, list) else [value]
            stack.extend(c for c in children if isinstance(c, ast.AST))


class Code:
    """Every module of the skycut package and every ``functions/<name>/main.py``."""

    def __init__(self, *, extra: Mapping[str, str] | None = None) -> None:
        """Parse the repository's code, plus ``extra`` modules (repository path -> source)."""
        paths = sorted(PACKAGE_DIR.rglob("*.py")) + sorted(FUNCTIONS_DIR.glob("*/main.py"))
        sources = {p: p.read_text() for p in paths}
        sources |= {REPO / path: text for path, text in (extra or {}).items()}
        self.modules = {
            m.name: m for m in (_parse(_module_name(p), p, t) for p, t in sources.items())
        }

    @staticmethod
    def entry_module(function: str) -> str:
        """Return the module name of ``functions/<function>/main.py``."""
        return f"functions.{function}.main"

    def resolve(self, module: str, name: str, _depth: int = 0) -> Symbol | None:
        """Return what ``name`` means in ``module`` (None for names from outside skycut)."""
        info = self.modules.get(module)
        if info is None or _depth > 20:
            return None
        if name in info.functions:
            return Symbol("function", module, name)
        if name in info.classes:
            return Symbol("class", module, name)
        if name in info.values:
            return Symbol("value", module, name)
        if name in info.imports:
            source, symbol = info.imports[name]
            if symbol is None or f"{source}.{symbol}" in self.modules:
                target = source if symbol is None else f"{source}.{symbol}"
                return Symbol("module", target) if target in self.modules else None
            return self.resolve(source, symbol, _depth + 1)
        return None

    def resolve_expr(self, module: str, expr: ast.expr) -> Symbol | None:
        """Resolve a name or a dotted name through modules (``m.f``)."""
        if isinstance(expr, ast.Name):
            return self.resolve(module, expr.id)
        if isinstance(expr, ast.Attribute):
            base = self.resolve_expr(module, expr.value)
            if base is not None and base.kind == "module":
                return self.resolve(base.module, expr.attr)
        return None

    def function(self, symbol: Symbol) -> Def:
        """Return the def of a function symbol."""
        return self.modules[symbol.module].functions[symbol.name]

    def cls(self, symbol: Symbol) -> ClassInfo:
        """Return the class of a class symbol."""
        return self.modules[symbol.module].classes[symbol.name]

    def bases(self, info: ClassInfo) -> list[ClassInfo]:
        """Return the class and its skycut base classes, nearest first."""
        out = [info]
        for base in info.node.bases:
            symbol = self.resolve_expr(info.module, base)
            if symbol is not None and symbol.kind == "class":
                out += self.bases(self.cls(symbol))
        return out

    def method(self, info: ClassInfo, name: str) -> Def | None:
        """Return the method ``name`` of a class, looked up through its bases."""
        for klass in self.bases(info):
            if name in klass.methods:
                return klass.methods[name]
        return None

    def class_of(self, d: Def) -> ClassInfo | None:
        """Return the class a method belongs to."""
        return None if d.cls is None else self.modules[d.module].classes[d.cls]

    def classes_named(self, module: str, names: set[str]) -> list[ClassInfo]:
        """Return the skycut classes that names (e.g. from an annotation) resolve to."""
        out = []
        for name in sorted(names):
            symbol = self.resolve(module, name)
            if symbol is not None and symbol.kind == "class":
                out.append(self.cls(symbol))
        return out
