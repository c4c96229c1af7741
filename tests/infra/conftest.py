"""The Terraform in ``infra/``, parsed once, with helpers to read it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

from emulators.stack import REPO

INFRA = REPO / "infra"
OPENAPI_TEMPLATE = INFRA / "openapi.yaml.tftpl"


def scalar(value: Any) -> Any:
    """Unwrap the one-element lists some hcl2 versions put around every attribute."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def blocks(value: Any) -> list[dict[str, Any]]:
    """Return a nested block as a list of block bodies, whatever the hcl2 version."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return [b for b in value if isinstance(b, dict)]


def interpolation(value: Any) -> str:
    """Return an attribute's expression text without its ``${...}`` wrapper."""
    text = str(scalar(value))
    match = re.fullmatch(r"\$\{(.*)\}", text, flags=re.DOTALL)
    return match.group(1) if match else text


@dataclass
class Terraform:
    """The blocks of one Terraform module, by kind."""

    files: dict[str, dict[str, Any]]
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Terraform:
        """Parse every ``*.tf`` file of ``folder``."""
        files = {p.name: hcl2.loads(p.read_text()) for p in sorted(folder.glob("*.tf"))}
        module = cls(files=files)
        for parsed in files.values():
            for kind, target in (("resource", module.resources), ("data", module.data)):
                for entry in parsed.get(kind, []):
                    for rtype, named in entry.items():
                        for name, body in named.items():
                            assert (rtype, name) not in target, f"{rtype}.{name} defined twice"
                            target[(rtype, name)] = body
            for entry in parsed.get("variable", []):
                module.variables.update(entry)
            for entry in parsed.get("output", []):
                module.outputs.update(entry)
            for entry in parsed.get("locals", []):
                for key, value in entry.items():
                    if not key.startswith("__"):
                        assert key not in module.locals, f"local.{key} defined twice"
                        module.locals[key] = scalar(value)
        return module

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        """Return one resource's body."""
        return self.resources[(rtype, name)]

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        """Return the resources of one type, by name."""
        return {n: body for (t, n), body in self.resources.items() if t == rtype}

    def default(self, variable: str) -> Any:
        """Return a variable's default value."""
        return scalar(self.variables[variable]["default"])

    def resolve_prefix(self, text: str) -> str:
        """Replace ``${local.prefix}`` by the default name prefix."""
        return text.replace("${local.prefix}", self.default("name_prefix"))


def settings_env(tf: Terraform) -> dict[str, str]:
    """Return the SKYCUT_* variables every function gets, with their expressions."""
    return {k: v for k, v in tf.locals["settings_env"].items() if not k.startswith("__")}


def function_env(tf: Terraform, function: str) -> dict[str, str]:
    """Return the SKYCUT_* variables one function gets, with their expressions."""
    expression = interpolation(tf.locals["functions"][function]["env"])
    env: dict[str, str] = {}
    if "local.settings_env" in expression:
        env.update(settings_env(tf))
    env.update(dict(re.findall(r"'(SKYCUT_\w+)':\s*'((?:[^'\\]|\\.)*)'", expression)))
    return env


@pytest.fixture(scope="session")
def tf() -> Terraform:
    return Terraform.load(INFRA)
