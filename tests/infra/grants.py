"""The IAM grants ``infra/`` gives each function's service account, and what the roles allow.

A grant's resource is named by the Settings field whose Terraform value
points at the same resource: ``bucket = google_storage_bucket.results.name``
is on what ``SKYCUT_RESULTS_BUCKET = google_storage_bucket.results.name``
names, so on ``results_bucket``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.infra.conftest import Terraform, function_env, interpolation, scalar

__all__ = ["PROJECT", "ROLE_PERMISSIONS", "Grant", "function_grants"]

PROJECT = "project"

_OBJECTS = "storage.objects."
# The permissions of each predefined role that matter here (Google's IAM roles
# reference). A role infra/ grants to a function must be listed; the legacy
# object roles are left out on purpose (Google advises against them).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "roles/storage.objectViewer": frozenset({_OBJECTS + "get", _OBJECTS + "list"}),
    "roles/storage.objectCreator": frozenset({_OBJECTS + "create"}),
    "roles/storage.objectUser": frozenset(
        _OBJECTS + p for p in ("get", "list", "create", "delete", "update", "restore")
    ),
    "roles/storage.objectAdmin": frozenset(
        _OBJECTS + p
        for p in ("get", "list", "create", "delete", "update", "restore", "getIamPolicy")
    ),
    "roles/storage.legacyBucketReader": frozenset({"storage.buckets.get", _OBJECTS + "list"}),
    "roles/pubsub.publisher": frozenset({"pubsub.topics.publish"}),
    "roles/pubsub.viewer": frozenset(
        {"pubsub.topics.get", "pubsub.topics.list", "pubsub.subscriptions.get"}
    ),
    "roles/pubsub.editor": frozenset(
        {"pubsub.topics.get", "pubsub.topics.publish", "pubsub.topics.update"}
    ),
    "roles/datastore.user": frozenset({"datastore.entities"}),
    "roles/iam.serviceAccountTokenCreator": frozenset(
        {"iam.serviceAccounts.signBlob", "iam.serviceAccounts.getAccessToken"}
    ),
}

# resource type -> (attribute naming the resource, suffixes of the Settings fields it may be)
_TARGETS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "google_storage_bucket_iam_member": ("bucket", ("_bucket", "_buckets")),
    "google_pubsub_topic_iam_member": ("topic", ("_topic",)),
    "google_service_account_iam_member": ("service_account_id", ("_service_account",)),
    "google_project_iam_member": (None, ()),
}

_REFERENCE = re.compile(r"(?:data\.)?google_\w+\.\w+(?:\[[\"'][^\"']*[\"']\])?|var\.\w+|local\.\w+")
_FUNCTION_SA = re.compile(r"google_service_account\.function\[[\"'](\w+)[\"']\]")
_QUOTED = re.compile(r"[\"'](\w+)[\"']")


@dataclass(frozen=True)
class Grant:
    """One role a function's service account holds on one resource."""

    address: str
    function: str
    resource: str | None
    role: str


def _references(text: str) -> set[str]:
    return set(_REFERENCE.findall(text))


def _members(body: dict[str, object], functions: set[str]) -> set[str]:
    """Return the functions whose service account a grant's member is."""
    member = interpolation(body.get("member", ""))
    named = set(_FUNCTION_SA.findall(member))
    for_each = interpolation(body.get("for_each", ""))
    if "each." in member:
        if re.search(r"google_service_account\.function\b(?!\[)", for_each):
            named |= functions
        elif "google_service_account.function[each.key]" in member:
            named |= set(_QUOTED.findall(for_each)) & functions
    return named


def _resource(tf: Terraform, rtype: str, body: dict[str, object], function: str) -> str | None:
    """Return the Settings field naming what a grant is on (``project`` for the project)."""
    attribute, suffixes = _TARGETS.get(rtype, ("", ()))
    if attribute is None:
        return PROJECT
    if not attribute or attribute not in body:
        return None
    target = interpolation(body[attribute])
    if "each." in target:
        target += " " + interpolation(body.get("for_each", ""))
    references = _references(target)
    candidates = {
        name.removeprefix("SKYCUT_").lower()
        for name, value in function_env(tf, function).items()
        if name.lower().endswith(suffixes)
        and _references(value)
        and _references(value) <= references
    }
    return candidates.pop() if len(candidates) == 1 else None


def function_grants(tf: Terraform) -> list[Grant]:
    """Return every IAM grant whose member is a function's own service account."""
    functions = {k for k in tf.locals["function_names"] if not k.startswith("__")}
    grants = []
    for (rtype, name), body in sorted(tf.resources.items()):
        if not rtype.endswith(("_iam_member", "_iam_binding", "_iam_policy")):
            continue
        for function in sorted(_members(body, functions)):
            grants.append(
                Grant(
                    address=f"{rtype}.{name}",
                    function=function,
                    resource=_resource(tf, rtype, body, function),
                    role=str(scalar(body.get("role", ""))),
                )
            )
    return grants
