"""scripts/audit_latest.py: which pins it can audit, what it reports, how it exits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import audit_latest
from audit_latest import FetchFailure, Pin, Project, assess, exit_code, parse_pins, read_project

# the shape `uv export --all-groups --no-emit-project --no-header` writes
EXPORTED = """\
aiohttp==3.14.5 \\
    --hash=sha256:0133c3c3b54a0bf1e71fa5c1ad95c93f07fd54e24ef1fe182f5122e1573d2bf1 \\
    --hash=sha256:225c579c23b68b343cccea27a7e06e3bd8ec23a09c30b427eb3f1e4ca6239b20
    # via
    #   checkov
    #   s3fs
Jinja2==3.1.6 \\
    --hash=sha256:85ece4451f492d0c13c5dd7c13a64681a86afae63a5f347908daf103ce6d2f67
    # via flask
soupsieve==2.10 ; python_full_version < '3.11.5' \\
    --hash=sha256:deadbeef
soupsieve==4.1.2 ; python_full_version >= '3.11.5' \\
    --hash=sha256:deadbeef
ruamel.yaml.clib==0.2.12 ; platform_python_implementation == 'CPython'
google_cloud_storage[grpc]==3.1.0  # an inline comment
"""

# PyPI lists the ecdsa timing attack twice, once per database, each aliasing the other
ECDSA_ADVISORIES = [
    {
        "id": "PYSEC-2026-1325",
        "aliases": ["CVE-2024-23342", "GHSA-wj6h-64fc-37mp"],
        "fixed_in": [],
        "summary": None,
        "details": "python-ecdsa is subject to a Minerva timing attack on the P-256 curve.",
        "withdrawn": None,
    },
    {
        "id": "GHSA-wj6h-64fc-37mp",
        "aliases": ["CVE-2024-23342", "PYSEC-2026-1325"],
        "fixed_in": [],
        "summary": "Minerva timing attack on P-256 in python-ecdsa",
        "withdrawn": None,
    },
]


def project_json(version: str, vulnerabilities: list[dict[str, Any]] | None = None) -> Any:
    return {"info": {"name": "x", "version": version}, "vulnerabilities": vulnerabilities or []}


def advisory(
    id_: str, *, fixed_in: list[str] | None = None, withdrawn: str | None = None
) -> dict[str, Any]:
    return {
        "id": id_,
        "aliases": [f"CVE-{id_}"],
        "fixed_in": fixed_in or [],
        "summary": f"summary of {id_}",
        "withdrawn": withdrawn,
    }


def test_every_pin_of_an_exported_lock_is_read_with_its_normalised_name() -> None:
    assert parse_pins(EXPORTED) == [
        Pin("aiohttp", "3.14.5"),
        Pin("jinja2", "3.1.6"),
        Pin("soupsieve", "2.10", "python_full_version < '3.11.5'"),
        Pin("soupsieve", "4.1.2", "python_full_version >= '3.11.5'"),
        Pin("ruamel-yaml-clib", "0.2.12", "platform_python_implementation == 'CPython'"),
        Pin("google-cloud-storage", "3.1.0"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "requests>=2.32",
        "numpy==2.*",
        "legacy===1.0-weird",
        "pkg @ https://example.org/pkg-1.0.tar.gz",
        "-e .",
        "--index-url https://pypi.org/simple",
        "    --hash=sha256:deadbeef",
        "# numpy==2.0",
        "",
    ],
)
def test_lines_that_are_not_exact_pins_are_skipped(line: str) -> None:
    assert parse_pins(line + "\n") == []


def test_a_pin_repeated_is_audited_once() -> None:
    assert parse_pins("Flask==3.1.0\nflask==3.1.0\n") == [Pin("flask", "3.1.0")]


@pytest.mark.parametrize(
    ("pinned", "latest", "same"),
    [
        ("1.0", "1.0.0", True),
        ("2.9.0.post0", "2.9.0.post0", True),
        ("3.0RC1", "3.0rc1", True),
        ("1.4.30", "1.5.52", False),
        ("1.10", "1.1", False),
    ],
)
def test_versions_compare_as_releases(pinned: str, latest: str, same: bool) -> None:
    assert audit_latest.same_version(pinned, latest) is same


def test_advisories_on_the_latest_release_are_findings_with_their_fix() -> None:
    projects = {
        "jinja2": read_project(project_json("3.1.6", [advisory("GHSA-1", fixed_in=["3.1.7"])]))
    }
    report = assess([Pin("jinja2", "3.1.6")], projects)
    assert [(f.pin.name, f.advisory.id, f.advisory.fixed_in) for f in report.findings] == [
        ("jinja2", "GHSA-1", ("3.1.7",))
    ]
    assert exit_code(report) == 1
    assert "FINDING jinja2==3.1.6: GHSA-1 (CVE-GHSA-1), fixed in 3.1.7" in "\n".join(
        audit_latest.render(report)
    )


def test_withdrawn_advisories_are_not_findings() -> None:
    data = project_json("3.1.6", [advisory("GHSA-1", withdrawn="2026-01-02T00:00:00Z")])
    report = assess([Pin("jinja2", "3.1.6")], {"jinja2": read_project(data)})
    assert report.audited == [Pin("jinja2", "3.1.6")]
    assert report.findings == []
    assert exit_code(report) == 0


def test_one_issue_listed_under_two_databases_is_one_finding() -> None:
    report = assess(
        [Pin("ecdsa", "0.19.2")], {"ecdsa": read_project(project_json("0.19.2", ECDSA_ADVISORIES))}
    )
    [finding] = report.findings
    assert finding.advisory.id == "PYSEC-2026-1325"
    assert "fixed in no fixed release: python-ecdsa is subject" in audit_latest.render(report)[0]


@pytest.mark.parametrize("ignored_id", ["GHSA-wj6h-64fc-37mp", "CVE-2024-23342", "PYSEC-2026-1325"])
def test_an_ignored_id_or_alias_keeps_the_finding_visible_but_passes(ignored_id: str) -> None:
    report = assess(
        [Pin("ecdsa", "0.19.2")],
        {"ecdsa": read_project(project_json("0.19.2", ECDSA_ADVISORIES))},
        ignore={ignored_id},
    )
    assert [f.ignored for f in report.findings] == [True]
    assert exit_code(report) == 0
    assert audit_latest.render(report)[-1].endswith("0 findings (1 ignored)")


def test_older_pins_are_listed_as_not_auditable_and_their_advisories_not_applied() -> None:
    # the advisory is on 2.5.5; whether 2.4.6 has it cannot be told from this JSON
    projects = {"numpy": read_project(project_json("2.5.5", [advisory("GHSA-2")]))}
    report = assess([Pin("numpy", "2.4.6")], projects)
    assert report.outdated == [(Pin("numpy", "2.4.6"), "2.5.5")]
    assert report.findings == []
    assert exit_code(report) == 0
    assert audit_latest.render(report) == [
        "numpy==2.4.6: not auditable here (pinned 2.4.6, latest 2.5.5)",
        "1 pins, 0 audited against latest-release advisories, 1 not auditable here, 0 findings",
    ]


def test_the_summary_counts_every_kind_of_pin() -> None:
    pins = [Pin("a", "1.0"), Pin("b", "1.0"), Pin("c", "1.0"), Pin("d", "1.0")]
    projects: dict[str, Project | FetchFailure] = {
        "a": read_project(project_json("1.0", [advisory("GHSA-a")])),
        "b": read_project(project_json("1.0")),
        "c": read_project(project_json("2.0")),
        "d": FetchFailure("HTTP 404"),
    }
    report = assess(pins, projects)
    assert audit_latest.render(report)[-1] == (
        "4 pins, 2 audited against latest-release advisories, "
        "2 not auditable here (1 could not be fetched), 1 findings"
    )
    assert "d==1.0: not auditable here (could not fetch: HTTP 404)" in audit_latest.render(report)


def test_an_unreachable_index_is_an_error_not_a_clean_audit() -> None:
    down = FetchFailure("Name or service not known", answered=False)
    report = assess([Pin("a", "1.0"), Pin("b", "2.0")], {"a": down, "b": down})
    assert exit_code(report) == 2


def test_a_file_without_pins_is_an_error() -> None:
    assert exit_code(assess(parse_pins("# nothing here\n"), {})) == 2


def test_a_project_json_without_a_latest_release_is_refused() -> None:
    with pytest.raises(ValueError, match=r"info\.version"):
        read_project({"info": {}, "vulnerabilities": []})
