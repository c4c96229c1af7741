"""Each function's service account holds exactly the grants its code needs.

What a function needs is derived from its code (`tests.infra.access`): every
Cloud Storage, Pub/Sub and Firestore call reachable from
``functions/<name>/main.py``, and the Settings field naming the resource it
touches. What it holds is read from ``infra/`` (`tests.infra.grants`). A new
function, or a new call in an existing one, is covered without editing this
file.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import pytest

from tests.infra.access import FIRESTORE_PERMISSION, Derived, Rules, derive
from tests.infra.conftest import Terraform, function_env
from tests.infra.grants import PROJECT, ROLE_PERMISSIONS, Grant, function_grants
from tests.infra.pycode import FUNCTIONS_DIR, Code

FUNCTIONS = sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/main.py"))

# What the analysis cannot see in the code by itself, and why it holds.
RESOURCE_TYPES = {
    # parse_source_id refuses any bucket not in SKYCUT_SOURCE_BUCKETS
    ("SourceRef", "bucket"): "source_buckets",
    # BulkSubmitter.submit ignores objects of other buckets, and a bulk job's
    # SOURCE (which the sweep reads again) is the drop object it was made from
    ("DropObject", "bucket"): "drop_bucket",
}
FRESH_NAMES = {
    "skycut.bulk.upload:store_bulk_upload": "its object names carry a random uuid4",
}
RULES = Rules(resource_types=RESOURCE_TYPES, fresh_names=set(FRESH_NAMES))


@pytest.fixture(scope="session")
def code() -> Code:
    return Code()


@pytest.fixture(scope="session")
def derived(code: Code) -> dict[str, Derived]:
    return {function: derive(code, RULES, function) for function in FUNCTIONS}


def _needs(found: Derived) -> dict[str, dict[str, set[str]]]:
    """Return Terraform resource -> permission -> how the code gets to need it."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for access in found.accesses:
        resource = PROJECT if access.permission == FIRESTORE_PERMISSION else access.resource
        out[resource][access.permission].add(found.paths[access.where])
    return out


def _granted(grants: list[Grant], function: str, resource: str) -> set[str]:
    return {
        p
        for g in grants
        if g.function == function and g.resource == resource
        for p in ROLE_PERMISSIONS.get(g.role, frozenset())
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_code_names_every_resource_it_touches(
    derived: dict[str, Derived], function: str
) -> None:
    assert derived[function].unresolved == []


# A function added tomorrow: what the derivation must see in it, untold.
_NEW_FUNCTION = """
from skycut.clients import Clients
from skycut.config import get_settings
from skycut.soda.ids import parse_source_id
from skycut.storage.gcs import GcsRangeReader


def _index(clients, uri):
    settings = clients.settings
    source = parse_source_id(uri, allowed_buckets=settings.source_buckets)
    header = GcsRangeReader(client=clients.storage, source=source).read_range(0, 2880)
    bucket = clients.storage.bucket(settings.results_bucket)
    bucket.blob("index/" + source.name).upload_from_string(header)
    clients.jobs.load(uri)


def image_index(event):
    _index(Clients(get_settings()), event["id"])
"""


def test_a_new_function_is_derived_without_being_named() -> None:
    code = Code(extra={"functions/image_index/main.py": _NEW_FUNCTION})
    found = derive(code, RULES, "image_index")
    assert found.unresolved == []
    assert {r: set(p) for r, p in _needs(found).items()} == {
        "source_buckets": {"storage.objects.get"},
        "results_bucket": {"storage.objects.create", "storage.objects.delete"},
        PROJECT: {FIRESTORE_PERMISSION},
    }


# A function that builds its own store on the raw Firestore client.
_HANDS_ON = """
from skycut.clients import Clients
from skycut.config import get_settings
from skycut.index.firestore_index import FirestoreImageIndex


def lookup(event):
    settings = get_settings()
    clients = Clients(settings)
    index = FirestoreImageIndex(client=clients.firestore, collection={collection})
    return index.get(event)
"""


@pytest.mark.parametrize(
    ("collection", "touched"),
    [("settings.images_collection", {"images_collection"}), ('"images"', set())],
)
def test_a_client_handed_on_touches_what_it_is_built_for(
    collection: str, touched: set[str]
) -> None:
    code = Code(extra={"functions/lookup/main.py": _HANDS_ON.format(collection=collection)})
    found = derive(code, RULES, "lookup")
    firestore = {a.resource for a in found.accesses if a.service == "firestore"}
    assert firestore == touched
    # a collection no setting names is reported, not guessed
    assert bool(found.unresolved) == (not touched)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_access_is_granted(tf: Terraform, derived: dict[str, Derived], function: str) -> None:
    grants = function_grants(tf)
    env = function_env(tf, function)
    missing = []
    for resource, permissions in sorted(_needs(derived[function]).items()):
        if resource != PROJECT and f"SKYCUT_{resource.upper()}" not in env:
            missing.append(f"{resource}: SKYCUT_{resource.upper()} is not set for {function}")
            continue
        granted = _granted(grants, function, resource)
        for permission, where in sorted(permissions.items()):
            if permission not in granted:
                missing.append(f"{permission} on {resource}, for {min(where, key=len)}")
    assert missing == [], f"{function} lacks:\n" + "\n".join(missing)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_grant_is_surplus(tf: Terraform, derived: dict[str, Derived], function: str) -> None:
    grants = [g for g in function_grants(tf) if g.function == function]
    needs = _needs(derived[function])
    surplus = []
    for grant in grants:
        if grant.role not in ROLE_PERMISSIONS:
            surplus.append(f"{grant.address}: {grant.role} is not in ROLE_PERMISSIONS")
            continue
        if grant.resource is None:
            surplus.append(f"{grant.address}: {grant.role} on nothing a setting of the code names")
            continue
        others = {
            p
            for g in grants
            if g != grant and g.resource == grant.resource
            for p in ROLE_PERMISSIONS.get(g.role, frozenset())
        }
        supplies = ROLE_PERMISSIONS[grant.role] & (set(needs.get(grant.resource, {})) - others)
        if not supplies:
            surplus.append(f"{grant.address}: {grant.role} on {grant.resource} is never used")
            continue
        narrower = sorted(
            role
            for role, permissions in ROLE_PERMISSIONS.items()
            if permissions < ROLE_PERMISSIONS[grant.role] and supplies <= permissions
        )
        if narrower:
            surplus.append(f"{grant.address}: {grant.role} where {narrower[0]} would do")
    assert surplus == [], f"{function} holds more than its code uses:\n" + "\n".join(surplus)


def test_grants_are_per_member(tf: Terraform) -> None:
    authoritative = [
        f"{t}.{n}" for t, n in tf.resources if t.endswith(("_iam_binding", "_iam_policy"))
    ]
    assert authoritative == [], "authoritative IAM would remove grants made outside Terraform"


def test_rules_name_real_code(code: Code) -> None:
    classes = {name for m in code.modules.values() for name in m.classes}
    for class_name, _attribute in RESOURCE_TYPES:
        assert class_name in classes
    for where in FRESH_NAMES:
        module, _, qualname = where.partition(":")
        assert qualname in code.modules[module].functions, f"{where} no longer exists"


# -- the first apply on a fresh project -------------------------------------------------
_ADDRESS = re.compile(r"\b(data\.)?(google(?:_\w+)?)\.(\w+)")
_LOCAL = re.compile(r"\blocal\.(\w+)")


def _dependencies(tf: Terraform) -> dict[str, set[str]]:
    """Return each resource's address -> the addresses it refers to (locals followed)."""

    def refs(value: Any, seen: set[str]) -> set[str]:
        text = json.dumps(value)
        out = {f"{d or ''}{t}.{n}" for d, t, n in _ADDRESS.findall(text)}
        for name in set(_LOCAL.findall(text)) - seen:
            if name in tf.locals:
                out |= refs(tf.locals[name], seen | {name})
        return out

    graph = {f"{t}.{n}": refs(body, set()) for (t, n), body in tf.resources.items()}
    graph |= {f"data.{t}.{n}": refs(body, set()) for (t, n), body in tf.data.items()}
    return graph


def test_every_resource_waits_for_the_apis(tf: Terraform) -> None:
    """A first apply on a fresh project creates nothing before its API is on."""
    graph = _dependencies(tf)
    apis = "google_project_service.this"

    def waits(address: str) -> bool:
        seen: set[str] = set()
        todo = [address]
        while todo:
            for d in graph.get(todo.pop(), set()) - seen:
                seen.add(d)
                todo.append(d)
        return apis in seen

    # reading the project needs only cloudresourcemanager, enabled by hand first (README)
    exempt = {apis, "data.google_project.this"}
    early = sorted(a for a in graph if a not in exempt and not waits(a))
    assert early == [], "created before the APIs are enabled"
