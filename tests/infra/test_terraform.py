"""infra/ parses, follows the module layout, and passes checkov."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest

from tests.infra.conftest import INFRA, Terraform, blocks, interpolation, scalar

_SKIP = re.compile(r"#\s*checkov:skip=(?P<check>[A-Z0-9_]+)(?::(?P<reason>.*))?")


@pytest.mark.parametrize(
    "path", sorted(INFRA.rglob("*.tf")), ids=lambda p: str(p.relative_to(INFRA))
)
def test_every_tf_file_parses(path: Path) -> None:
    parsed = hcl2.loads(path.read_text())
    assert parsed, f"{path} parsed to nothing"


_MODULES = [INFRA, *sorted(p for p in (INFRA / "modules").glob("*") if p.is_dir())]


@pytest.mark.parametrize("module", _MODULES, ids=lambda p: p.name)
def test_module_has_the_four_files(module: Path) -> None:
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (module / name).is_file(), f"{module} lacks {name}"


def test_variables_are_typed_and_described(tf: Terraform) -> None:
    for name, body in tf.variables.items():
        assert "type" in body, f"variable {name} has no type"
        description = scalar(body.get("description"))
        assert isinstance(description, str), f"variable {name} has no description"
        assert description.strip(), f"variable {name} has an empty description"
    for name, body in tf.outputs.items():
        assert scalar(body.get("description")), f"output {name} has no description"


def test_required_versions_are_pinned(tf: Terraform) -> None:
    terraform = scalar(tf.files["versions.tf"]["terraform"])
    assert scalar(terraform["required_version"]).startswith(">=")
    providers = scalar(terraform["required_providers"])
    for provider in ("google", "google-beta"):
        assert "<" in scalar(scalar(providers[provider])["version"]), f"{provider}: no upper bound"


def test_outputs_give_every_url_and_bucket_a_user_needs(tf: Terraform) -> None:
    assert {
        "gateway_url",
        "soda_base_url",
        "sia_url",
        "buckets",
        "drop_url",
        "function_urls",
    } <= set(tf.outputs)
    assert interpolation(tf.outputs["sia_url"]["value"]) == "${local.public_base_url}/sia/query"


def test_constrained_variables_are_validated(tf: Terraform) -> None:
    for name in (
        "project_id",
        "base_path",
        "source_buckets",
        "destruction_days",
        "result_ttl_days",
        "drop_ttl_days",
        "functions",
        "pubsub",
        "gateway",
        "tuning",
        "index",
        "source_bucket_projects",
    ):
        assert blocks(tf.variables[name].get("validation")), f"variable {name} is not validated"


def test_every_checkov_skip_gives_a_reason() -> None:
    for path in INFRA.rglob("*.tf"):
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            match = _SKIP.search(line)
            if match:
                reason = (match.group("reason") or "").strip()
                assert len(reason) > 20, f"{path.name}:{line_no}: skip without a reason"


def test_checkov_finds_no_failed_check() -> None:
    checkov = Path(sys.executable).parent / "checkov"
    run = subprocess.run(
        [
            str(checkov),
            "-d",
            str(INFRA),
            "--framework",
            "terraform",
            "--compact",
            "--quiet",
            "--skip-download",  # offline: no Prisma Cloud guidelines
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.stdout, run.stderr[-2000:]
    report = json.loads(run.stdout)
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]})"
        for c in report["results"].get("failed_checks", [])
    ]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] > 50, "checkov saw too few resources: was infra/ parsed?"
    assert summary["failed"] == 0, "\n".join(failed)


@pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary on this machine")
def test_terraform_fmt_finds_nothing_to_change() -> None:
    # `terraform validate` needs the providers, which `terraform init` cannot download
    # offline; the canonical format is what terraform itself can check here.
    run = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(INFRA)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
