"""Check pinned requirements against the advisories PyPI lists for each latest release.

pip-audit asks PyPI's per-release JSON (``/pypi/NAME/VERSION/json``) or osv.dev
for each pin's advisories. Where neither is served it audits nothing. The
project JSON (``/pypi/NAME/json``) may still be served: its top-level
``vulnerabilities`` apply to the project's latest release (``info.version``)
only. So this script can audit a pin only when it is that latest release; it
reports every advisory not withdrawn for such a pin, and lists the older pins
as not auditable here rather than pretending they are clean::

    python scripts/audit_latest.py requirements.txt --ignore GHSA-xxxx-xxxx-xxxx

Exit status: 0 when nothing is found, 1 when an advisory not ignored applies
to a pin, 2 when no project's JSON could be fetched (the index is unreachable
or the file holds no pins), so a network failure never passes for a clean audit.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Advisory",
    "FetchFailure",
    "Finding",
    "Pin",
    "Project",
    "Report",
    "assess",
    "exit_code",
    "fetch_all",
    "fetch_project",
    "main",
    "normalize_name",
    "parse_pins",
    "read_project",
    "render",
    "same_version",
]

INDEX_URL = "https://pypi.org/pypi"
WORKERS = 16
TIMEOUT_SECONDS = 20.0
RETRIES = 2
_RETRY_STATUSES = {429, 500, 502, 503, 504}
_COMMENT = re.compile(r"(^|\s)#.*$")
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?"
    r"\s*==\s*(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)$"
)
_RELEASE = re.compile(r"^v?(\d+(?:\.\d+)*)(.*)$")


@dataclass(frozen=True, slots=True)
class Pin:
    """One ``name==version`` line of a requirements file."""

    name: str
    version: str
    marker: str = ""


@dataclass(frozen=True, slots=True)
class Advisory:
    """One entry of a project JSON's ``vulnerabilities`` list."""

    id: str
    aliases: tuple[str, ...] = ()
    fixed_in: tuple[str, ...] = ()
    summary: str = ""
    withdrawn: bool = False

    def ids(self) -> frozenset[str]:
        """Return the advisory's id and aliases: an ignore list may name any of them."""
        return frozenset((self.id, *self.aliases))


@dataclass(frozen=True, slots=True)
class Project:
    """What a project JSON says: the latest release and the advisories that apply to it."""

    latest: str
    advisories: tuple[Advisory, ...] = ()


@dataclass(frozen=True, slots=True)
class FetchFailure:
    """A project whose JSON could not be had, and why.

    ``answered`` is true when the index gave an HTTP answer (a 404, say), false
    when it could not be reached at all.
    """

    reason: str
    answered: bool = True


@dataclass(frozen=True, slots=True)
class Finding:
    """An advisory that applies to a pin."""

    pin: Pin
    advisory: Advisory
    ignored: bool


@dataclass(slots=True)
class Report:
    """The outcome for every pin of a requirements file."""

    pins: list[Pin] = field(default_factory=list)
    audited: list[Pin] = field(default_factory=list)
    #: pins older (or newer) than their project's latest release, with that release
    outdated: list[tuple[Pin, str]] = field(default_factory=list)
    #: pins whose project JSON could not be fetched, with the reason
    unfetched: list[tuple[Pin, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def normalize_name(name: str) -> str:
    """Return ``name`` normalised as PEP 503 says (``Foo.Bar_baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> list[Pin]:
    r"""Return the exact pins of a requirements file, in order and without duplicates.

    Comments are dropped, ``\`` continuations joined and options (``--hash``,
    ``-e``, ``--index-url``...) ignored. A pin keeps its environment marker
    but is kept whatever the marker says: the lock pins it, so it is audited.
    Anything that is not ``name==version`` (ranges, URLs, ``===``) is skipped.
    """
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = _COMMENT.sub("", raw).rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)

    pins: list[Pin] = []
    seen: set[tuple[str, str]] = set()
    for line in logical:
        # options follow the requirement (`name==1.0 ; marker --hash=...`) or replace it
        requirement = re.split(r"(?:^|\s)--?[A-Za-z]", line.strip(), maxsplit=1)[0]
        spec, _, marker = requirement.partition(";")
        match = _PIN.match(spec.strip())
        if match is None:
            continue
        pin = Pin(normalize_name(match["name"]), match["version"], marker.strip())
        if (pin.name, pin.version) not in seen:
            seen.add((pin.name, pin.version))
            pins.append(pin)
    return pins


def same_version(a: str, b: str) -> bool:
    """Return whether two version strings name the same release.

    The release segment compares numerically with trailing zeros ignored
    (``1.0 == 1.0.0``, as PEP 440 says); the rest compares case-insensitively.
    """
    return _canonical(a) == _canonical(b)


def _canonical(version: str) -> str:
    text = version.strip().lower()
    match = _RELEASE.match(text)
    if match is None:
        return text
    release = [int(part) for part in match[1].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return ".".join(map(str, release)) + match[2]


def read_project(data: Mapping[str, Any]) -> Project:
    """Return the latest release and its advisories from a project JSON.

    Raises
    ------
    ValueError
        If the JSON names no latest release.

    """
    info = data.get("info")
    latest = info.get("version") if isinstance(info, Mapping) else None
    if not isinstance(latest, str) or not latest:
        raise ValueError("project JSON has no info.version")
    advisories = []
    for entry in data.get("vulnerabilities") or ():
        if not isinstance(entry, Mapping) or not entry.get("id"):
            continue
        advisories.append(
            Advisory(
                id=str(entry["id"]),
                aliases=tuple(str(a) for a in entry.get("aliases") or ()),
                fixed_in=tuple(str(v) for v in entry.get("fixed_in") or ()),
                summary=str(entry.get("summary") or entry.get("details") or ""),
                withdrawn=bool(entry.get("withdrawn")),
            )
        )
    return Project(latest=latest, advisories=tuple(advisories))


def assess(
    pins: Iterable[Pin],
    projects: Mapping[str, Project | FetchFailure],
    *,
    ignore: Collection[str] = (),
) -> Report:
    """Decide, for every pin, whether it is audited and which advisories apply to it.

    Parameters
    ----------
    pins
        The pins, with names normalised.
    projects
        Each pinned project's JSON as read by `read_project`, or why it could
        not be fetched, by normalised name.
    ignore
        Advisory ids (or aliases) that are findings but do not fail the audit.

    Returns
    -------
    Report
        Every pin, sorted into audited, outdated or unfetched; an advisory
        listed under several ids is one finding.

    """
    report = Report()
    for pin in pins:
        report.pins.append(pin)
        project = projects.get(pin.name, FetchFailure("not fetched"))
        if isinstance(project, FetchFailure):
            report.unfetched.append((pin, project.reason))
        elif not same_version(pin.version, project.latest):
            report.outdated.append((pin, project.latest))
        else:
            report.audited.append(pin)
            seen: set[str] = set()
            for advisory in project.advisories:
                # PyPI lists one issue once per database (PYSEC, GHSA), each aliasing the other
                if advisory.withdrawn or not advisory.ids().isdisjoint(seen):
                    continue
                seen |= advisory.ids()
                ignored = not advisory.ids().isdisjoint(ignore)
                report.findings.append(Finding(pin, advisory, ignored))
    return report


def exit_code(report: Report) -> int:
    """Return 2 if nothing could be checked, 1 on a finding not ignored, else 0."""
    if len(report.unfetched) == len(report.pins):
        return 2
    if any(not f.ignored for f in report.findings):
        return 1
    return 0


def render(report: Report) -> list[str]:
    """Return the report as lines: findings, pins not auditable, then the summary."""
    lines = []
    for finding in report.findings:
        pin, advisory = finding.pin, finding.advisory
        aliases = f" ({', '.join(advisory.aliases)})" if advisory.aliases else ""
        fixed = ", ".join(advisory.fixed_in) or "no fixed release"
        summary = advisory.summary.strip().splitlines()[0][:120] if advisory.summary else ""
        label = "ignored" if finding.ignored else "FINDING"
        lines.append(
            f"{label} {pin.name}=={pin.version}: {advisory.id}{aliases}, fixed in {fixed}"
            + (f": {summary}" if summary else "")
        )
    for pin, latest in report.outdated:
        lines.append(f"{_spec(pin)}: not auditable here (pinned {pin.version}, latest {latest})")
    for pin, reason in report.unfetched:
        lines.append(f"{_spec(pin)}: not auditable here (could not fetch: {reason})")
    real = sum(not f.ignored for f in report.findings)
    ignored = len(report.findings) - real
    not_auditable = len(report.outdated) + len(report.unfetched)
    lines.append(
        f"{len(report.pins)} pins, {len(report.audited)} audited against latest-release "
        f"advisories, {not_auditable} not auditable here"
        + (f" ({len(report.unfetched)} could not be fetched)" if report.unfetched else "")
        + f", {real} findings"
        + (f" ({ignored} ignored)" if ignored else "")
    )
    return lines


def _spec(pin: Pin) -> str:
    return f"{pin.name}=={pin.version}" + (f" ; {pin.marker}" if pin.marker else "")


def fetch_project(
    name: str,
    *,
    index_url: str = INDEX_URL,
    timeout: float = TIMEOUT_SECONDS,
    retries: int = RETRIES,
) -> Project | FetchFailure:
    """Fetch and read one project's JSON, retrying network errors and busy answers.

    A 404 is not retried: the project is not on the index.
    """
    request = urllib.request.Request(
        f"{index_url}/{name}/json",
        headers={"Accept": "application/json", "User-Agent": "skycut-audit-latest"},
    )
    reason, answered = "", False
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(2.0**attempt)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return read_project(json.load(response))
        except urllib.error.HTTPError as e:
            reason, answered = f"HTTP {e.code}", True
            if e.code not in _RETRY_STATUSES:
                break
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, resets
            reason = str(getattr(e, "reason", e)) or type(e).__name__
            answered = False
        except ValueError as e:  # not JSON, or no latest release in it
            reason = f"unreadable project JSON: {e}"
            answered = True
    return FetchFailure(reason, answered=answered)


def fetch_all(
    names: Iterable[str], *, workers: int = WORKERS, timeout: float = TIMEOUT_SECONDS
) -> dict[str, Project | FetchFailure]:
    """Fetch every project's JSON, ``workers`` at a time.

    The first project is fetched alone: if the index cannot be reached for it,
    every project gets that failure at once instead of each waiting out its
    own timeouts and retries.
    """
    unique = sorted(set(names))
    if not unique:
        return {}
    first = fetch_project(unique[0], timeout=timeout)
    if isinstance(first, FetchFailure) and not first.answered:
        return dict.fromkeys(unique, first)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rest = pool.map(lambda n: fetch_project(n, timeout=timeout), unique[1:])
        return {unique[0]: first, **dict(zip(unique[1:], rest, strict=True))}


def main(argv: list[str] | None = None) -> int:
    """Audit a requirements file's pins; return the exit status."""
    parser = argparse.ArgumentParser(
        description="Check pins against the advisories PyPI lists for each latest release."
    )
    parser.add_argument("requirements", type=Path, help="file of name==version pins")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="ID",
        help="advisory id or alias that does not fail the audit (repeatable)",
    )
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS, help="seconds a fetch")
    args = parser.parse_args(argv)

    pins = parse_pins(args.requirements.read_text())
    projects = fetch_all((p.name for p in pins), timeout=args.timeout)
    report = assess(pins, projects, ignore=set(args.ignore))
    print("\n".join(render(report)))
    status = exit_code(report)
    if status == 2:
        why = "no project JSON could be fetched" if pins else f"no pins in {args.requirements}"
        print(f"audit_latest: nothing audited: {why}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
