"""Which Settings field a value in the code comes from.

A bucket, topic or collection name is traced back through local
assignments, ``self`` attributes (wherever the class assigns them),
parameters (to what every reached call passes, or the default) and typed
values (a value annotated or built as a class the rules map, e.g. a
`SourceRef`'s ``bucket``) until it reaches ``settings.<field>``. A trace
that ends anywhere else is kept as a `Dead` end, so nothing is guessed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from tests.infra.pycode import Def, Symbol, annotation_names
from tests.infra.reach import Reach, assignments

__all__ = ["SETTINGS", "Dead", "Origin", "Tracer"]

SETTINGS = ("skycut.config", "Settings")


@dataclass(frozen=True)
class Dead:
    """A trace that ended without naming a setting, and where."""

    why: str


Origin = str | Dead


class Tracer:
    """Traces values of one function's reached code back to Settings fields."""

    def __init__(
        self, reach: Reach, resources: Mapping[str, str], types: Mapping[tuple[str, str], str]
    ) -> None:
        self.reach = reach
        self.code = reach.code
        self.resources = resources
        self.types = types
        self._memo: dict[tuple[int, Def], set[Origin]] = {}

    def origins(self, expr: ast.expr, d: Def) -> set[Origin]:
        """Return the resource settings ``expr`` (in ``d``) may name, and the dead ends."""
        key = (id(expr), d)
        if key not in self._memo:
            self._memo[key] = set()  # a cycle adds nothing
            self._memo[key] = self._trace(expr, d)
        return self._memo[key]

    def _is_settings(self, d: Def, expr: ast.expr) -> bool:
        if isinstance(expr, ast.Attribute):
            return expr.attr in {"settings", "_settings"}
        if isinstance(expr, ast.Call):
            symbol = self.code.resolve_expr(d.module, expr.func)
            return symbol == Symbol("function", SETTINGS[0], "get_settings")
        return isinstance(expr, ast.Name) and (
            expr.id == "settings"
            or any(
                a.arg == expr.id and SETTINGS[1] in annotation_names(a.annotation)
                for a in d.params()
            )
        )

    def _trace(self, expr: ast.expr, d: Def) -> set[Origin]:
        if isinstance(expr, ast.Attribute):
            if self._is_settings(d, expr.value):
                return {expr.attr} if expr.attr in self.resources else set()
            for type_name in self._types(expr.value, d):
                setting = self.types.get((type_name, expr.attr))
                if setting is not None:
                    return {setting}
            if isinstance(expr.value, ast.Name) and expr.value.id == "self":
                return self._self_attribute(d, expr.attr)
            return self.origins(expr.value, d)
        if isinstance(expr, ast.Name):
            return self._name(expr.id, d)
        out: set[Origin] = set()
        for child in ast.iter_child_nodes(expr):
            if isinstance(child, ast.expr) and not (
                isinstance(expr, ast.Call) and child is expr.func
            ):
                out |= self.origins(child, d)
        return out

    def _name(self, name: str, d: Def) -> set[Origin]:
        values = [v for t, v in assignments(d.node) if isinstance(t, ast.Name) and t.id == name]
        if values:
            out: set[Origin] = set()
            for value in values:
                out |= self.origins(value, d)
            return out
        own = [a.arg for a in d.own_params()]
        if name in own:
            return self._parameter(d, own.index(name))
        if name in {a.arg for a in d.params()}:
            return {Dead(f"{d}: {name} is a nested function's parameter")}
        symbol = self.code.resolve(d.module, name)
        if symbol is not None and symbol.kind == "value":
            return self.origins(self.code.modules[symbol.module].values[symbol.name], d)
        return {Dead(f"{d}: {name} is not traced")}

    def _parameter(self, d: Def, index: int) -> set[Origin]:
        param = d.own_params()[index]
        sites = self.reach.call_sites.get(d, [])
        if not sites:
            return {Dead(f"{d}: no reached call passes {param.arg}")}
        keyword_only = param in d.node.args.kwonlyargs
        positional = index - (1 if d.cls is not None else 0)  # self is not passed
        out: set[Origin] = set()
        for caller, call in sites:
            arg = next((k.value for k in call.keywords if k.arg == param.arg), None)
            if arg is None and not keyword_only and 0 <= positional < len(call.args):
                arg = call.args[positional]
            if arg is None:
                default = _default(d, param)
                if default is None:
                    out.add(Dead(f"{caller}: calls {d} without {param.arg}"))
                    continue
                arg, caller = default, d
            found = self.origins(arg, caller)
            out |= found or {Dead(f"{caller}: {ast.unparse(arg)} names no setting")}
        return out

    def _self_attribute(self, d: Def, attr: str) -> set[Origin]:
        cls = self.code.class_of(d)
        if cls is None:
            return {Dead(f"{d}: self outside a class")}
        out: set[Origin] = set()
        for klass in self.code.bases(cls):
            for m in klass.methods.values():
                for target, value in assignments(m.node):
                    if (
                        isinstance(target, ast.Attribute)
                        and target.attr == attr
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                    ):
                        out |= self.origins(value, m)
        prop = self.code.method(cls, attr)
        if prop is not None:
            for node in ast.walk(prop.node):
                if isinstance(node, ast.Return) and node.value is not None:
                    out |= self.origins(node.value, prop)
        return out or {Dead(f"{d}: self.{attr} is never assigned")}

    def _types(self, expr: ast.expr, d: Def) -> set[str]:
        """Return the class names a value is annotated or built as."""
        names: set[str] = set()
        if isinstance(expr, ast.Name):
            for a in d.params():
                if a.arg == expr.id:
                    names |= annotation_names(a.annotation)
            for node in ast.walk(d.node):
                if (
                    isinstance(node, ast.AnnAssign)
                    and isinstance(node.target, ast.Name)
                    and node.target.id == expr.id
                ):
                    names |= annotation_names(node.annotation)
            for target, value in assignments(d.node):
                if isinstance(target, ast.Name) and target.id == expr.id:
                    names |= self._value_types(value, d)
        elif isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            cls = self.code.class_of(d)
            if expr.value.id == "self" and cls is not None:
                for m in cls.methods.values():
                    for target, value in assignments(m.node):
                        if isinstance(target, ast.Attribute) and target.attr == expr.attr:
                            names |= self._value_types(value, m)
        return names

    def _value_types(self, value: ast.expr, d: Def) -> set[str]:
        if isinstance(value, ast.Name):
            return self._types(value, d)
        if not isinstance(value, ast.Call):
            return set()
        symbol = self.code.resolve_expr(d.module, value.func)
        if symbol is not None and symbol.kind == "class":
            return {symbol.name}
        if symbol is not None and symbol.kind == "function":
            return annotation_names(self.code.function(symbol).node.returns)
        return set()


def _default(d: Def, param: ast.arg) -> ast.expr | None:
    a = d.node.args
    positional = [*a.posonlyargs, *a.args]
    if param in positional:
        i = positional.index(param) - (len(positional) - len(a.defaults))
        return a.defaults[i] if i >= 0 else None
    return a.kw_defaults[a.kwonlyargs.index(param)]
