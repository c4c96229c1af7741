"""What one function's code can run, found by following names from its entry point.

From ``functions/<name>/main.py`` the reach follows the functions it names
and the classes it names (every method of them: an object may be asked
anything). The clients built once in ``skycut.clients.Clients`` are the
exception: only the methods called on them are followed
(``clients.results.url(...)`` reaches ``ResultWriter.url``, not
``ResultWriter.write``), and an alias or a client handed on whole counts as
every method. Every call whose callee is known is recorded, so a parameter
can be traced back to what its callers pass.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from tests.infra.pycode import ClassInfo, Code, Def, Symbol, annotation_names, walk_code

__all__ = ["CLIENTS", "ClientsProp", "Reach", "assignments", "parents"]

CLIENTS = ("skycut.clients", "Clients")

# google.cloud module a Clients property imports -> the service of the client it builds
_GOOGLE_MODULES = {"firestore": "firestore", "pubsub_v1": "pubsub", "storage": "storage"}
_CLIENT_CONSTRUCTORS = {"Client", "PublisherClient", "SubscriberClient", "AsyncClient"}
_SELF = {"self", "cls"}


@dataclass(frozen=True)
class ClientsProp:
    """A ``Clients`` property: a Google client (``service``), or a skycut class built on one."""

    name: str
    factory: Def
    service: str | None = None
    cls: ClassInfo | None = None
    construction: ast.Call | None = None


def clients_props(code: Code) -> dict[str, ClientsProp]:
    """Return the properties of ``skycut.clients.Clients``, read from its source."""
    info = code.modules[CLIENTS[0]].classes[CLIENTS[1]]
    props = {}
    for name, d in info.methods.items():
        google = {
            alias.name
            for node in ast.walk(d.node)
            if isinstance(node, ast.ImportFrom) and node.module == "google.cloud"
            for alias in node.names
        }
        services = {_GOOGLE_MODULES[g] for g in google if g in _GOOGLE_MODULES}
        if len(services) == 1:
            props[name] = ClientsProp(name, d, service=services.pop())
            continue
        for cls in code.classes_named(d.module, annotation_names(d.node.returns)):
            symbol = Symbol("class", cls.module, cls.name)
            calls = [
                n
                for n in ast.walk(d.node)
                if isinstance(n, ast.Call) and code.resolve_expr(d.module, n.func) == symbol
            ]
            props[name] = ClientsProp(name, d, cls=cls, construction=calls[0] if calls else None)
    return props


def parents(root: ast.AST) -> dict[ast.AST, ast.AST]:
    """Return each node's parent."""
    return {child: parent for parent in ast.walk(root) for child in ast.iter_child_nodes(parent)}


def assignments(root: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    """Yield ``(target, value)`` pairs; ``a, b = x, y`` pairs element by element."""
    for node in ast.walk(root):
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            pairs = [(node.target, node.value)]
        else:
            continue
        while pairs:
            target, value = pairs.pop()
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
                pairs += list(zip(target.elts, value.elts, strict=False))
            elif isinstance(target, ast.Tuple | ast.List):
                pairs += [(element, value) for element in target.elts]
            else:
                yield target, value


def _is_self(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Name) and expr.id in _SELF


class Reach:
    """The defs one function can run, the calls among them, and its uses of ``Clients``."""

    def __init__(self, code: Code, function: str) -> None:
        self.code = code
        self.props = clients_props(code)
        self.reached: dict[Def, Def | None] = {}  # def -> the def it was first reached from
        self.call_sites: dict[Def, list[tuple[Def, ast.Call]]] = defaultdict(list)
        self.raw_uses: dict[Def, set[str]] = defaultdict(set)
        self.problems: list[str] = []
        self._todo: list[Def] = []
        self._used: set[object] = set()
        self._backing = self._handed_clients()
        module = code.modules[code.entry_module(function)]
        for d in module.functions.values():
            self._reach(d, None)
        for cls in module.classes.values():
            self._use_class(cls, None)
        while self._todo:
            self._visit(self._todo.pop())

    def path(self, d: Def) -> list[Def]:
        """Return how the entry point reaches ``d``: ``[d, its caller, ..., entry]``."""
        out = [d]
        while (previous := self.reached.get(out[-1])) is not None and previous not in out:
            out.append(previous)
        return out

    # -- Clients -----------------------------------------------------------------------
    def is_clients(self, d: Def, expr: ast.expr) -> bool:
        """Tell whether ``expr`` is the ``Clients`` object (``self._clients``, ``clients``)."""
        if isinstance(expr, ast.Attribute):
            return expr.attr in {"clients", "_clients"}
        if not isinstance(expr, ast.Name):
            return False
        if expr.id == "clients" or ((d.module, d.cls) == CLIENTS and expr.id == "self"):
            return True
        return any(
            a.arg == expr.id
            and any(
                c.key == CLIENTS
                for c in self.code.classes_named(d.module, annotation_names(a.annotation))
            )
            for a in d.params()
        )

    def prop_of(
        self, d: Def, expr: ast.expr, aliases: Mapping[str, ClientsProp]
    ) -> ClientsProp | None:
        """Return the Clients property ``expr`` is (``clients.results``, or an alias of it)."""
        if isinstance(expr, ast.Name):
            return aliases.get(expr.id)
        if (
            isinstance(expr, ast.Attribute)
            and expr.attr in self.props
            and self.is_clients(d, expr.value)
        ):
            return self.props[expr.attr]
        return None

    def aliases(self, d: Def) -> dict[str, ClientsProp]:
        """Return the local names a def gives a Clients class (``writer = clients.results``)."""
        out: dict[str, ClientsProp] = {}
        for target, value in assignments(d.node):
            prop = self.prop_of(d, value, {})
            if prop is not None and prop.cls is not None and isinstance(target, ast.Name):
                out[target.id] = prop
        return out

    def services(self, d: Def) -> set[str]:
        """Return the Google services a def talks to through a raw client."""
        services = set(self.raw_uses.get(d, set()))
        cls = self.code.class_of(d)
        for klass in [] if cls is None else self.code.bases(cls):
            services |= self._backing.get(klass.key, set())
        if cls is None:
            services |= self._backing.get((d.module, d.qualname), set())
        return services

    def handed_on(self, d: Def, service: str) -> list[ast.Call]:
        """Return the calls of ``d`` that hand a raw ``service`` client on (``Store(client=c)``)."""
        return [
            node
            for node in ast.walk(d.node)
            if isinstance(node, ast.Call)
            and any(
                self._raw(d, a) == service for a in [*node.args, *(k.value for k in node.keywords)]
            )
        ]

    def _raw(self, d: Def, expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Attribute) and expr.attr in self.props:
            prop = self.props[expr.attr]
            if prop.service is not None and self.is_clients(d, expr.value):
                return prop.service
        return None

    def _handed_clients(self) -> dict[tuple[str, str], set[str]]:
        """Return the classes and functions handed a raw client (anywhere), with its service."""
        backing: dict[tuple[str, str], set[str]] = defaultdict(set)
        for module in self.code.modules.values():
            defs = [*module.functions.values()]
            defs += [m for c in module.classes.values() for m in c.methods.values()]
            for d in defs:
                for node in ast.walk(d.node):
                    if not isinstance(node, ast.Call):
                        continue
                    args = [*node.args, *(k.value for k in node.keywords)]
                    services = {s for a in args if (s := self._raw(d, a)) is not None}
                    symbol = self.code.resolve_expr(d.module, node.func)
                    if services and symbol is not None and symbol.kind in {"class", "function"}:
                        backing[(symbol.module, symbol.name)] |= services
        return backing

    # -- following names ---------------------------------------------------------------
    def _reach(self, d: Def | None, via: Def | None) -> None:
        if d is not None and d not in self.reached:
            self.reached[d] = via
            self._todo.append(d)

    def _use_class(self, cls: ClassInfo, via: Def | None) -> None:
        if cls.key == CLIENTS:
            return  # its properties are followed where they are used
        if cls.key not in self._used:
            self._used.add(cls.key)
            for klass in self.code.bases(cls):
                for d in klass.methods.values():
                    self._reach(d, via)

    def _use_symbol(self, symbol: Symbol | None, via: Def) -> None:
        if symbol is None:
            return
        if symbol.kind == "function":
            self._reach(self.code.function(symbol), via)
        elif symbol.kind == "class":
            self._use_class(self.code.cls(symbol), via)
        elif symbol.kind == "value" and symbol not in self._used:
            self._used.add(symbol)
            value = self.code.modules[symbol.module].values[symbol.name]
            for node in walk_code(value):
                if isinstance(node, ast.Name | ast.Attribute):
                    self._use_symbol(self.code.resolve_expr(symbol.module, node), via)

    def _use_prop(self, prop: ClientsProp, method: str | None, d: Def) -> None:
        if prop.service is not None:
            self.raw_uses[d].add(prop.service)
            return
        assert prop.cls is not None
        init = self.code.method(prop.cls, "__init__")
        if prop.name not in self._used:
            self._used.add(prop.name)
            if init is not None and prop.construction is not None:
                self.call_sites[init].append((prop.factory, prop.construction))
            self._reach(init, d)
        if method is None:
            for klass in self.code.bases(prop.cls):
                for m in klass.methods.values():
                    self._reach(m, d)
        else:
            self._reach(self.code.method(prop.cls, method), d)

    def _callee(self, d: Def, func: ast.expr, aliases: Mapping[str, ClientsProp]) -> Def | None:
        if isinstance(func, ast.Attribute):
            prop = self.prop_of(d, func.value, aliases)
            if prop is not None and prop.cls is not None:
                return self.code.method(prop.cls, func.attr)
            cls = self.code.class_of(d)
            if cls is not None and _is_self(func.value):
                return self.code.method(cls, func.attr)
        symbol = self.code.resolve_expr(d.module, func)
        if symbol is not None and symbol.kind == "function":
            return self.code.function(symbol)
        if symbol is not None and symbol.kind == "class":
            return self.code.method(self.code.cls(symbol), "__init__")
        return None

    def _visit(self, d: Def) -> None:
        up = parents(d.node)
        aliases = self.aliases(d)
        alias_values = {
            id(v) for t, v in assignments(d.node) if isinstance(t, ast.Name) and t.id in aliases
        }
        cls = self.code.class_of(d)
        for node in walk_code(d.node):
            parent = up.get(node)
            method = parent.attr if isinstance(parent, ast.Attribute) else None
            if isinstance(node, ast.Call):
                callee = self._callee(d, node.func, aliases)
                if callee is not None:
                    self.call_sites[callee].append((d, node))
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in _CLIENT_CONSTRUCTORS:
                    self.problems.append(f"{d}: builds a Google client; only skycut.clients may")
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id in aliases:
                    self._use_prop(aliases[node.id], method, d)
                else:
                    self._use_symbol(self.code.resolve(d.module, node.id), d)
            elif isinstance(node, ast.Attribute):
                prop = self.prop_of(d, node, {})
                if prop is not None:
                    if id(node) not in alias_values:
                        self._use_prop(prop, method, d)
                elif cls is not None and _is_self(node.value):
                    self._reach(self.code.method(cls, node.attr), d)
                else:
                    self._use_symbol(self.code.resolve_expr(d.module, node), d)
