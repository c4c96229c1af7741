"""What each function's code does to which cloud resource, derived from the code itself.

In every def a function can run (`tests.infra.reach`) that talks to Cloud
Storage, Pub/Sub or Firestore through a client built by ``skycut.clients``,
the client calls are the accesses (``download_as_bytes`` needs
``storage.objects.get``...), and the resource each touches is traced back to
the Settings field naming it (`tests.infra.trace`). Storage calls touch the
buckets the def itself names (``client.bucket(x)``) or, in a method, those
its class's ``__init__`` names. What cannot be traced is reported, never
guessed.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

from tests.infra.pycode import Code, Def
from tests.infra.reach import Reach, parents
from tests.infra.trace import SETTINGS, Dead, Origin, Tracer

__all__ = [
    "FIRESTORE_PERMISSION",
    "SIGNING_SETTING",
    "Access",
    "Derived",
    "Rules",
    "derive",
]

# Settings fields that name a resource, by the service it belongs to.
_RESOURCE_SUFFIXES = {
    "_bucket": "storage",
    "_buckets": "storage",
    "_topic": "pubsub",
    "_collection": "firestore",
}

_GET, _LIST = "storage.objects.get", "storage.objects.list"
_CREATE, _DELETE = "storage.objects.create", "storage.objects.delete"

# google-cloud-storage calls -> the permissions they need on the bucket.
STORAGE_OPS: dict[str, tuple[str, ...]] = {
    "download_as_bytes": (_GET,),
    "download_as_string": (_GET,),
    "download_as_text": (_GET,),
    "download_to_file": (_GET,),
    "download_to_filename": (_GET,),
    "reload": (_GET,),
    "exists": (_GET,),
    "get_blob": (_GET,),
    "list_blobs": (_LIST,),
    # an upload replaces any object of the same name, which needs delete too
    "upload_from_string": (_CREATE, _DELETE),
    "upload_from_file": (_CREATE, _DELETE),
    "upload_from_filename": (_CREATE, _DELETE),
    "compose": (_GET, _CREATE, _DELETE),
    "copy_blob": (_GET, _CREATE, _DELETE),
    "rewrite": (_GET, _CREATE, _DELETE),
    "patch": ("storage.objects.update",),
    "delete": (_DELETE,),
    "delete_blob": (_DELETE,),
    "delete_blobs": (_DELETE,),
    # a signed URL acts with the signer's rights
    "generate_signed_url": (_GET,),
    "get_bucket": ("storage.buckets.get",),
    "lookup_bucket": ("storage.buckets.get",),
}
_UPLOADS = {"upload_from_string", "upload_from_file", "upload_from_filename"}
_BUCKET_CALLS = {"bucket", "get_bucket", "lookup_bucket"}

PUBSUB_OPS: dict[str, tuple[str, ...]] = {
    "publish": ("pubsub.topics.publish",),
    "get_topic": ("pubsub.topics.get",),
}

FIRESTORE_PERMISSION = "datastore.entities"

# V4 signing on Cloud Functions has no key: the storage client calls IAM
# signBlob as SKYCUT_SIGNING_SERVICE_ACCOUNT (skycut.storage.gcs.UrlSigner).
SIGNING_SETTING = "signing_service_account"
_SIGN_PERMISSION = "iam.serviceAccounts.signBlob"


@dataclass(frozen=True)
class Access:
    """One permission a function's code needs on one resource (a Settings field)."""

    service: str
    resource: str
    permission: str
    where: str


@dataclass(frozen=True)
class Rules:
    """What the code's types mean, which the analysis cannot see by itself.

    Parameters
    ----------
    resource_types
        ``(class name, attribute)`` -> the Settings field naming the resource
        that attribute of such a value always is, e.g. ``("SourceRef", "bucket")``.
    fresh_names
        Defs (``module:qualname``) whose uploads never replace an object, so
        need no delete permission.

    """

    resource_types: Mapping[tuple[str, str], str]
    fresh_names: Collection[str] = ()


@dataclass
class Derived:
    """What one function's code was found to do."""

    function: str
    accesses: set[Access] = field(default_factory=set)
    unresolved: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)


def _resources(code: Code) -> dict[str, str]:
    """Return the Settings fields that name a resource, with the service of each."""
    body = code.modules[SETTINGS[0]].classes[SETTINGS[1]].node.body
    fields = {
        n.target.id for n in body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    return {
        name: service
        for name in fields
        for suffix, service in _RESOURCE_SUFFIXES.items()
        if name.endswith(suffix)
    }


class _Accesses:
    def __init__(self, code: Code, rules: Rules, function: str) -> None:
        self.reach = Reach(code, function)
        self.code = code
        self.rules = rules
        self.resources = _resources(code)
        self.tracer = Tracer(self.reach, self.resources, rules.resource_types)
        self.derived = Derived(function, unresolved=list(self.reach.problems))
        for d in sorted(self.reach.reached, key=str):
            services = self.reach.services(d)
            if "storage" in services:
                self._storage(d)
            if "pubsub" in services:
                self._pubsub(d)
            if "firestore" in services:
                self._add("firestore", self._collections(d), FIRESTORE_PERMISSION, d, "Firestore")

    def _add(self, service: str, origins: set[Origin], permission: str, d: Def, what: str) -> None:
        dead = sorted(o.why for o in origins if isinstance(o, Dead))
        settings = {o for o in origins if isinstance(o, str)}
        if dead or not settings:
            why = "; ".join(dead) or "no Settings field names it"
            self.derived.unresolved.append(f"{d}: {what}: which {service} resource? ({why})")
        for setting in sorted(settings):
            if self.resources.get(setting) != service:
                self.derived.unresolved.append(f"{d}: {what} on {setting}, not a {service} name")
                continue
            self.derived.accesses.add(Access(service, setting, permission, str(d)))
            self.derived.paths[str(d)] = " <- ".join(map(str, self.reach.path(d)))

    def _ops(
        self, d: Def, table: Mapping[str, tuple[str, ...]]
    ) -> Iterator[tuple[ast.Call | None, str]]:
        """Yield the client methods a def calls or hands on (``self._call(blob.reload)``)."""
        aliases = self.reach.aliases(d)
        up = parents(d.node)
        for node in ast.walk(d.node):
            if isinstance(node, ast.Attribute) and node.attr in table:
                prop = self.reach.prop_of(d, node.value, aliases)
                if prop is not None and prop.cls is not None:
                    continue  # a skycut class's method: its own def is analysed
                call = up.get(node)
                yield (
                    (call if isinstance(call, ast.Call) and call.func is node else None),
                    node.attr,
                )

    def _storage(self, d: Def) -> None:
        buckets = self._buckets(d)
        for call, op in self._ops(d, STORAGE_OPS):
            permissions = list(STORAGE_OPS[op])
            keywords = [] if call is None else call.keywords
            if op in _UPLOADS and (
                str(d) in self.rules.fresh_names
                or any(
                    k.arg == "if_generation_match"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value == 0
                    for k in keywords
                )
            ):
                permissions.remove(_DELETE)
            origins = buckets
            if op in _BUCKET_CALLS:
                arg = call.args[0] if call is not None and call.args else None
                origins = (
                    self.tracer.origins(arg, d) if arg is not None else {Dead(f"{op}: no bucket")}
                )
            for permission in permissions:
                self._add("storage", origins, permission, d, op)
            if op == "generate_signed_url":
                self.derived.accesses.add(Access("iam", SIGNING_SETTING, _SIGN_PERMISSION, str(d)))

    def _pubsub(self, d: Def) -> None:
        for call, op in self._ops(d, PUBSUB_OPS):
            topic = None if call is None else _topic_arg(call)
            origins: set[Origin] = {Dead(f"{op}: no topic")}
            if topic is not None:
                origins = self.tracer.origins(topic, d)
            for permission in PUBSUB_OPS[op]:
                self._add("pubsub", origins, permission, d, op)

    def _named_in(self, d: Def, calls: set[str]) -> set[Origin]:
        """Return what the first argument of the def's ``calls`` traces to."""
        out: set[Origin] = set()
        for node in ast.walk(d.node):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in calls
            ):
                arg = node.args[0] if node.args else None
                out |= (
                    self.tracer.origins(arg, d)
                    if arg is not None
                    else {Dead(f"{d}: {calls} unnamed")}
                )
        return out

    def _init(self, d: Def) -> Def | None:
        cls = self.code.class_of(d)
        init = None if cls is None else self.code.method(cls, "__init__")
        return None if init == d else init

    def _buckets(self, d: Def) -> set[Origin]:
        """Return the buckets a def's storage calls touch: its own, or its object's."""
        init = self._init(d)
        out = self._named_in(d, _BUCKET_CALLS)
        out |= set() if init is None else self._named_in(init, _BUCKET_CALLS)
        return out or {Dead(f"{d}: no bucket() call in it or its class's __init__")}

    def _collections(self, d: Def) -> set[Origin]:
        """Return the collections a Firestore def touches, or its object was built for.

        A def that hands the raw client on (``Index(client=clients.firestore,
        collection=settings.images_collection)``) touches what it builds the
        receiver for: the settings among that call's arguments.
        """
        out = self._named_in(d, {"collection"})
        for call in self.reach.handed_on(d, "firestore"):
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                out |= self.tracer.origins(arg, d)
        init = self._init(d) or (d if d.qualname.endswith(".__init__") else None)
        for caller, call in self.reach.call_sites.get(init, []) if init else []:
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                out |= self.tracer.origins(arg, caller)
        return {o for o in out if isinstance(o, str)} or out


def _topic_arg(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "topic":
            return keyword.value
        if keyword.arg == "request" and isinstance(keyword.value, ast.Dict):
            for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "topic":
                    return value
    return call.args[0] if call.args else None


def derive(code: Code, rules: Rules, function: str) -> Derived:
    """Return what ``functions/<function>/main.py`` can do to which resource."""
    return _Accesses(code, rules, function).derived
