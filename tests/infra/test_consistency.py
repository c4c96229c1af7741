"""The Terraform agrees with the code it deploys.

Settings the functions read are set, every Flask route is behind the
gateway and nothing else is, every Firestore query the store makes has its
index, and what is deleted by lifecycle or TTL outlives the jobs that point
at it.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from astropy.io import fits

from emulators import stack as local_stack
from emulators.stack import REPO, Stack, StackConfig
from skycut.api.app import ROUTES
from skycut.collection_rules import CollectionRule
from skycut.config import DEFAULT_COLLECTIONS, Settings
from skycut.index.firestore_index import CELLS_SUFFIX, FirestoreImageIndex, posting
from skycut.index.footprint import image_footprint
from skycut.index.metadata import image_metadata
from skycut.index.outline import _MAX_VERTICES
from skycut.index.record import ImageRecord, ObjectStamp, Unindexable
from skycut.jobs.firestore_store import _RESULTS, FirestoreJobStore
from skycut.jobs.progress import PROGRESS_COLLECTION, RECEIPTS_COLLECTION, receipt_document
from skycut.jobs.records import JobRecord, StoredResult
from skycut.soda.ids import SourceRef
from skycut.storage.events import _NOTIFICATION_KINDS
from skycut.uws.model import ExecutionPhase, Job
from tests.infra.conftest import (
    OPENAPI_TEMPLATE,
    Terraform,
    blocks,
    function_env,
    interpolation,
    scalar,
    settings_env,
)

FUNCTIONS = {"soda_api", "cutout_worker", "bulk_submit", "image_index", "mosaic_worker"}

# Settings fields Terraform leaves unset on purpose, and why.
UNSET_ON_PURPOSE = {
    "dev_identity": "only read when trust_gateway_identity is false; soda_api sets it true, "
    "and the worker and bulk_submit never ask who is calling",
    "results_public_base_url": "must stay unset in production: results are private and "
    "served through V4 signed URLs",
}

# SKYCUT_* variables Terraform sets ahead of the Python side reading them.
AHEAD_OF_THE_CODE: dict[str, str] = {}

# Settings only some functions need, and which.
ONLY_FOR = {
    "signing_service_account": ({"soda_api"}, "only the API hands out result URLs"),
}


# -- settings ----------------------------------------------------------------------
def test_functions_resource_deploys_each_function_with_its_env(tf: Terraform) -> None:
    body = tf.resource("google_cloudfunctions2_function", "this")
    assert interpolation(body["for_each"]) == "local.functions"
    service = blocks(body["service_config"])[0]
    assert interpolation(service["environment_variables"]) == "each.value.env"
    assert set(tf.locals["functions"]) - {"__start_line__", "__end_line__"} == FUNCTIONS


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_setting_is_set_for_every_function(tf: Terraform, function: str) -> None:
    env = function_env(tf, function)
    expected = {
        f"SKYCUT_{name.upper()}"
        for name in Settings.model_fields
        if name not in UNSET_ON_PURPOSE and function in ONLY_FOR.get(name, (FUNCTIONS, ""))[0]
    }
    assert expected - set(env) == set(), "settings the functions read but Terraform does not set"
    for name in UNSET_ON_PURPOSE:
        assert f"SKYCUT_{name.upper()}" not in env, f"{name} must stay unset in production"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_terraform_sets_no_unknown_setting(tf: Terraform, function: str) -> None:
    known = {f"SKYCUT_{name.upper()}" for name in Settings.model_fields} | set(AHEAD_OF_THE_CODE)
    assert set(function_env(tf, function)) - known == set()


def test_unset_on_purpose_lists_real_fields() -> None:
    assert set(UNSET_ON_PURPOSE) <= set(Settings.model_fields)


def test_only_the_api_trusts_the_gateway_identity(tf: Terraform) -> None:
    for function in FUNCTIONS:
        value = function_env(tf, function)["SKYCUT_TRUST_GATEWAY_IDENTITY"]
        assert value == ("true" if function == "soda_api" else "false")
    # and the gateway is the API's only door: its invoker is the gateway's account
    invoker = tf.resource("google_cloud_run_v2_service_iam_member", "gateway_invokes_api")
    assert interpolation(invoker["member"]) == "google_service_account.gateway.member"
    assert scalar(invoker["role"]) == "roles/run.invoker"


def test_terraform_defaults_match_the_code_defaults(tf: Terraform) -> None:
    """A deployment with default variables behaves like the local stack."""
    defaults = Settings.model_construct()
    tuning_type = str(tf.variables["tuning"]["type"])
    tuning = dict(re.findall(r"'(\w+)':\s*'\$\{optional\(number,\s*([0-9.]+)\)\}'", tuning_type))
    assert len(tuning) >= 7, tuning_type
    for name, value in tuning.items():
        assert float(value) == float(getattr(defaults, name)), name
        assert settings_env(tf)[f"SKYCUT_{name.upper()}"] == f"${{tostring(var.tuning.{name})}}"
    assert tf.default("destruction_days") == defaults.destruction_days
    assert tf.default("base_path") == defaults.base_path
    assert tf.resolve_prefix(tf.locals["jobs_collection"]) == defaults.jobs_collection
    assert tf.resolve_prefix(tf.locals["service_collection"]) == defaults.service_collection
    assert tf.resolve_prefix(tf.locals["images_collection"]) == defaults.images_collection
    topics = tf.locals["topic_names"]
    assert tf.resolve_prefix(topics["jobs"]) == defaults.job_topic
    assert function_env(tf, "cutout_worker")["SKYCUT_JOB_TOPIC"] == (
        '${google_pubsub_topic.this["jobs"].name}'
    )


_RULE = re.compile(r"\{'pattern': '([^']*)', 'collection': '([^']*)', 'calib_level': (\d+|null)\}")


def test_index_defaults_match_the_code_defaults(tf: Terraform) -> None:
    """Unless told otherwise, a deployment names collections and bands as the local stack does."""
    defaults = Settings.model_construct()
    index_type = str(scalar(tf.variables["index"]["type"]))
    rules = [
        CollectionRule(pattern, collection, None if level == "null" else int(level))
        for pattern, collection, level in _RULE.findall(index_type)
    ]
    assert rules == list(DEFAULT_COLLECTIONS) == defaults.collections
    assert re.search(r"'filters': \"\$\{optional\(map\(.*\),\{\}\)\}\"", index_type)
    assert defaults.filters == {}
    env = settings_env(tf)
    assert env["SKYCUT_COLLECTIONS"] == "${jsonencode(var.index.collections)}"
    assert env["SKYCUT_FILTERS"] == "${jsonencode(var.index.filters)}"


def test_rendered_settings_parse(tf: Terraform, monkeypatch: pytest.MonkeyPatch) -> None:
    """The values Terraform writes are ones Settings accepts (e.g. the bucket list)."""
    sample = {
        "SKYCUT_SOURCE_BUCKETS": "survey-a,survey-b",
        "SKYCUT_TRUST_GATEWAY_IDENTITY": "true",
        "SKYCUT_DESTRUCTION_DAYS": "7",  # tostring(7) in Terraform
        "SKYCUT_SIGNED_URL_SECONDS": "3600",
        "SKYCUT_SYNC_TIMEOUT_SECONDS": "60",
        "SKYCUT_HEADER_CHUNK_BYTES": "65536",
        "SKYCUT_MAX_BULK_ROWS": "100000",
        "SKYCUT_TASKS_PER_MESSAGE": "50",
        "SKYCUT_PUBLIC_BASE_URL": "https://skycut-soda-1a2b3c.ew.gateway.dev/api/image/soda",
        # jsonencode() of var.index: a rule without calib_level has null, numbers in full
        "SKYCUT_COLLECTIONS": '[{"calib_level":null,"collection":"x","pattern":"gs://a/*"},'
        '{"calib_level":3,"collection":"deepcoadd","pattern":"sample/deepcoadd-*"}]',
        "SKYCUT_FILTERS": '{"N708":[0.000000708,0.00000072]}',
    }
    assert set(sample) <= set(function_env(tf, "soda_api"))
    for key, value in sample.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.source_buckets == ["survey-a", "survey-b"]
    assert settings.trust_gateway_identity is True
    assert settings.collections == [
        CollectionRule("gs://a/*", "x"),
        CollectionRule("sample/deepcoadd-*", "deepcoadd", calib_level=3),
    ]
    assert settings.filters == {"N708": (7.08e-7, 7.2e-7)}
    assert 'join(",",var.source_buckets)' in settings_env(tf)["SKYCUT_SOURCE_BUCKETS"]


# -- routes --------------------------------------------------------------------------
_CONVERTER = re.compile(r"<(?:(?P<conv>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


def _expand(rule: str) -> list[str]:
    """Return a Flask rule as OpenAPI paths: <x> -> {x}, <any(a, b):x> -> one path each."""
    match = _CONVERTER.search(rule)
    if match is None:
        return [rule]
    head, tail = rule[: match.start()], rule[match.end() :]
    if match.group("conv") == "any":
        options = [o.strip().strip("'\"") for o in match.group("args").split(",")]
        return [p for o in options for p in _expand(head + o + tail)]
    return _expand(head + "{" + match.group("name") + "}" + tail)


def flask_operations(base_path: str) -> set[tuple[str, str]]:
    """Return every (path, method) the Flask app answers, under ``base_path``."""
    operations = set()
    for rule, _endpoint, methods in ROUTES:
        for path in _expand(rule):
            operations |= {(base_path + path, m.lower()) for m in methods}
    return operations


def template_variables(tf: Terraform) -> dict[str, str]:
    """Return the names templatefile() passes to the OpenAPI template."""
    expression = interpolation(tf.locals["openapi"])
    assert "openapi.yaml.tftpl" in expression
    return dict.fromkeys(re.findall(r"'(\w+)':", expression), "")


def render_openapi(tf: Terraform, **overrides: str) -> dict[str, Any]:
    """Render the template as Terraform would, with sample values."""
    values = {
        "title": "skycut SODA",
        "base_path": tf.default("base_path"),
        "backend_address": "https://skycut-soda-api-123456789.europe-west1.run.app",
        "deadline": "660",
        "jwt_issuer": "https://accounts.google.com",
        "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
        "jwt_audiences": "aud-1,aud-2",
        "vosi_security": "[]",
        **overrides,
    }
    text = OPENAPI_TEMPLATE.read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == set(template_variables(tf)), "template and templatefile() disagree"
    for name in placeholders:
        text = text.replace("${" + name + "}", values[name])
    assert "${" not in text
    assert "%{" not in text
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def openapi_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "delete", "patch", "head", "options"}
    return {(path, m) for path, item in document["paths"].items() for m in item if m in methods}


def test_every_route_is_behind_the_gateway_and_nothing_else(tf: Terraform) -> None:
    base_path = tf.default("base_path")
    assert base_path == Settings.model_construct().base_path
    flask = flask_operations(base_path)
    gateway = openapi_operations(render_openapi(tf))
    assert flask - gateway == set(), "Flask routes the gateway does not serve"
    assert gateway - flask == set(), "gateway paths no Flask route answers"


def test_openapi_keeps_paths_and_authenticates(tf: Terraform) -> None:
    document = render_openapi(tf)
    assert document["swagger"] == "2.0"
    backend = document["x-google-backend"]
    assert backend["path_translation"] == "APPEND_PATH_TO_ADDRESS"
    assert backend["address"].startswith("https://")
    (scheme,) = document["securityDefinitions"].values()
    assert {"x-google-issuer", "x-google-jwks_uri", "x-google-audiences"} <= set(scheme)
    assert document["security"] == [{next(iter(document["securityDefinitions"])): []}]
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for path, item in document["paths"].items():
        wanted = set(re.findall(r"\{(\w+)\}", path))
        for op in item.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == wanted, f"{path}: path parameters {declared} != {wanted}"


@pytest.mark.parametrize(("anonymous", "security"), [("[]", []), ('[{"jwt": []}]', [{"jwt": []}])])
def test_only_vosi_and_the_page_files_may_be_anonymous(
    tf: Terraform, anonymous: str, security: list[Any]
) -> None:
    # the web page's files hold no data; every call the page makes carries the caller's token
    document = render_openapi(tf, vosi_security=anonymous)
    for path, item in document["paths"].items():
        for op in item.values():
            if path.endswith(("/availability", "/capabilities", "/ui/", "/ui/{name}")):
                assert op["security"] == security
            else:
                assert "security" not in op, f"{path} overrides the JWT requirement"


def test_gateway_backend_is_the_api_function(tf: Terraform) -> None:
    backend = tf.locals["api_backend_url"]
    assert "local.function_names.soda_api" in backend
    assert backend.endswith(".run.app")
    assert "'backend_address': '${local.api_backend_url}'" in interpolation(tf.locals["openapi"])


# -- Firestore -----------------------------------------------------------------------
@dataclass(frozen=True)
class RecordedQuery:
    """A query as the code built it: collection, filters and orderings."""

    collection: str
    filters: tuple[tuple[str, str], ...] = ()
    orders: tuple[tuple[str, str], ...] = ()


@dataclass
class _Query:
    """Records where()/order_by() calls; stream() logs the query and yields nothing."""

    log: list[RecordedQuery]
    query: RecordedQuery
    children: dict[str, Any] = field(default_factory=dict)

    def where(self, *, filter: Any) -> _Query:
        q = replace(
            self.query, filters=(*self.query.filters, (filter.field_path, filter.op_string))
        )
        return _Query(self.log, q)

    def order_by(self, field_path: str, direction: str = "ASCENDING") -> _Query:
        return _Query(
            self.log, replace(self.query, orders=(*self.query.orders, (field_path, direction)))
        )

    def stream(self) -> Iterator[Any]:
        self.log.append(self.query)
        return iter(())

    def document(self, _doc_id: str) -> _Document:
        return _Document(self.log)


@dataclass
class _Document:
    log: list[RecordedQuery]

    def collection(self, name: str) -> _Query:
        return _Query(self.log, RecordedQuery(collection=name))


@dataclass
class QueryRecorder:
    """Stands in for firestore.Client: records the queries the code makes on it."""

    log: list[RecordedQuery] = field(default_factory=list)

    def collection(self, name: str) -> _Query:
        return _Query(self.log, RecordedQuery(collection=name))

    def get_all(self, _refs: list[Any]) -> Iterator[Any]:
        """Reads by document id are no queries: they need no index."""
        return iter(())


def store_queries(collection: str) -> list[RecordedQuery]:
    """Run every query method of FirestoreJobStore in each of its forms against a recorder."""
    recorder = QueryRecorder()
    store = FirestoreJobStore(client=recorder, collection=collection)  # type: ignore[arg-type]
    store.list_for(owner="alice")
    store.list_for(owner="alice", after=datetime(2026, 1, 1, tzinfo=UTC))
    store.list_for(owner="alice", phases={ExecutionPhase.COMPLETED}, last=3)
    store.results("job-1")
    store.active()
    store.unannounced()
    store.expired(datetime(2026, 1, 1, tzinfo=UTC))
    return recorder.log


def index_queries(collection: str) -> list[RecordedQuery]:
    """Run every query method of FirestoreImageIndex against a recorder."""
    recorder = QueryRecorder()
    index = FirestoreImageIndex(client=recorder, collection=collection)
    list(index.with_cells([1, -2]))  # postings (read by id), then ancestors (a query)
    list(index.in_collections(["deepcoadd"]))
    list(index.images())
    return recorder.log


def all_queries() -> list[RecordedQuery]:
    """Return every query the code makes, on the collections of the default settings."""
    defaults = Settings.model_construct()
    return store_queries(defaults.jobs_collection) + index_queries(defaults.images_collection)


def _query_sites() -> set[str]:
    """Return Class.method of every function in the package that builds a query."""
    sites = set()
    for path in sorted((REPO / "shared" / "skycut").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)] + [tree]:
            for fn in getattr(cls, "body", []):
                if not isinstance(fn, ast.FunctionDef):
                    continue
                for node in ast.walk(fn):
                    if (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr in {"where", "order_by", "collection_group"}
                        # numpy.where is no query
                        and not (
                            isinstance(node.func.value, ast.Name)
                            and node.func.value.id in {"np", "numpy"}
                        )
                    ):
                        owner = cls.name if isinstance(cls, ast.ClassDef) else path.stem
                        sites.add(f"{owner}.{fn.name}")
    return sites


def test_the_recorder_covers_every_query_in_the_code() -> None:
    # A new query elsewhere must be added to store_queries() or index_queries() (and get
    # its index).
    assert _query_sites() == {
        "FirestoreJobStore.list_for",
        "FirestoreJobStore.results",
        "FirestoreJobStore.active",
        "FirestoreJobStore.unannounced",
        "FirestoreJobStore.expired",
        "FirestoreImageIndex.with_cells",
        "FirestoreImageIndex.in_collections",
        "FirestoreImageIndex.images",
    }


_EQUALITY = {"==", "in", "array_contains", "array-contains", "array_contains_any"}
_ARRAY = {"array_contains", "array-contains", "array_contains_any"}


def collection_of(tf: Terraform, body: dict[str, Any]) -> str:
    """Return the collection a Firestore resource is on, with the default prefix."""
    text = interpolation(body["collection"])
    match = re.fullmatch(r"local\.(\w+)", text)
    return tf.resolve_prefix(tf.locals[match.group(1)] if match else text)


def required_index(query: RecordedQuery) -> list[tuple[str, str]] | None:
    """Return the composite index a query needs, or None if single-field indexes do."""
    equalities = [f for f, op in query.filters if op in _EQUALITY]
    ranges = [f for f, op in query.filters if op not in _EQUALITY]
    fields = {f for f, _ in query.filters} | {f for f, _ in query.orders}
    if len(fields) <= 1:
        return None
    orders = list(query.orders)
    for f in ranges:  # Firestore orders by the range field first if the query does not
        if f not in [o for o, _ in orders]:
            orders.insert(0, (f, "ASCENDING"))
    return [(f, "ASCENDING") for f in equalities] + orders


def terraform_indexes(tf: Terraform) -> list[tuple[str, list[tuple[str, str]]]]:
    out = []
    for body in tf.of_type("google_firestore_index").values():
        collection = collection_of(tf, body)
        fields = [(scalar(f["field_path"]), scalar(f["order"])) for f in blocks(body["fields"])]
        out.append((collection, fields))
    return out


def test_every_firestore_query_has_an_index(tf: Terraform) -> None:
    defaults = Settings.model_construct()
    assert tf.resolve_prefix(tf.locals["jobs_collection"]) == defaults.jobs_collection
    assert tf.resolve_prefix(tf.locals["images_collection"]) == defaults.images_collection
    assert (
        tf.resolve_prefix(tf.locals["image_cells_collection"])
        == defaults.images_collection + CELLS_SUFFIX
    )
    indexes = terraform_indexes(tf)
    queries = all_queries()
    assert {q.collection for q in queries} == {
        defaults.jobs_collection,
        "results",
        defaults.images_collection,
    }
    for query in queries:
        needed = required_index(query)
        if needed is None:
            continue
        n_eq = len([f for f, op in query.filters if op in _EQUALITY])
        assert any(
            c == query.collection
            and set(fields[:n_eq]) == set(needed[:n_eq])
            and all(o == "ASCENDING" for _, o in fields[:n_eq])
            and fields[n_eq:] == needed[n_eq:]
            for c, fields in indexes
        ), f"no composite index for {query} (needs {needed})"


Indexes = list[dict[str, Any]] | None


def field_settings(tf: Terraform) -> dict[tuple[str, str], Indexes]:
    """Return (collection, field) -> the single-field indexes Terraform sets on it.

    ``[]`` is an exemption (an empty ``index_config``); fields with a TTL only
    are left out (they keep the automatic indexes).
    """
    out: dict[tuple[str, str], Indexes] = {}
    for body in tf.of_type("google_firestore_field").values():
        if "index_config" in body:
            config = blocks(body["index_config"])[0]
            out[(collection_of(tf, body), scalar(body["field"]))] = blocks(
                config.get("indexes", [])
            )
    return out


def effective_indexes(
    settings: dict[tuple[str, str], Indexes], collection: str, path: str
) -> Indexes:
    """Return the indexes a field has: its own setting, else its nearest map's; None = automatic.

    A map field's setting applies to its sub-fields unless they have their own.
    """
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        key = (collection, ".".join(parts[:n]))
        if key in settings:
            return settings[key]
    return None


def test_every_single_field_query_keeps_its_index(tf: Terraform) -> None:
    """An exemption never takes away the index a query needs (cells, obs_collection, state)."""
    settings = field_settings(tf)
    for query in all_queries():
        for path, op in query.filters:
            indexes = effective_indexes(settings, query.collection, path)
            if indexes is None:
                continue  # Firestore's automatic ascending, descending and array indexes
            if op in _ARRAY:
                wanted = [i for i in indexes if scalar(i.get("array_config")) == "CONTAINS"]
            else:
                wanted = [
                    i for i in indexes if scalar(i.get("order")) in {"ASCENDING", "DESCENDING"}
                ]
            assert wanted, f"{query.collection}.{path} ({op}) has no single-field index"
            assert all(scalar(i["query_scope"]) == "COLLECTION" for i in wanted)


def _image_documents() -> list[dict[str, Any]]:
    """Return an indexed image's document and an unindexable object's, as the index writes them."""
    header = fits.Header()
    header.update(
        NAXIS=2, NAXIS1=300, NAXIS2=200, CTYPE1="RA---TAN", CTYPE2="DEC--TAN",
        CRVAL1=150.0, CRVAL2=2.0, CRPIX1=150.5, CRPIX2=100.5, CDELT1=-1e-4, CDELT2=1e-4,
        FILTER="r",
    )  # fmt: skip
    uri = "gs://skycut-sources/sample/calexp-1.fits"
    common = {
        "source": SourceRef("skycut-sources", "sample/calexp-1.fits"),
        "stamp": ObjectStamp(3),
        "indexed_at": datetime(2026, 12, 1, tzinfo=UTC),
    }
    image = ImageRecord(
        **common,
        hdu=0,
        extname=None,
        size=2_883_456,
        footprint=image_footprint(header, source=uri),
        metadata=image_metadata(header, uri=uri),
    )
    return [image.to_document(), Unindexable(**common, reason="not FITS").to_document()]


def test_unindexed_fields_are_never_queried(tf: Terraform) -> None:
    settings = field_settings(tf)
    defaults = Settings.model_construct()
    unindexed = {key for key, indexes in settings.items() if indexes == []}
    images = defaults.images_collection
    # the task list and parameters of a job; an image's footprint, facts and unindexable reason
    assert {(images, "footprint"), (images, "metadata"), (images, "reason")} <= unindexed
    # s_region, and the postings of the cells (read by id only)
    assert {(images, "region"), (images + CELLS_SUFFIX, "images")} <= unindexed
    assert (defaults.jobs_collection, "tasks") in unindexed
    for query in all_queries():
        for path, _ in (*query.filters, *query.orders):
            assert effective_indexes(settings, query.collection, path) != [], (
                f"{query.collection}.{path} is queried but exempt from indexing"
            )
    # each setting names a field the code writes
    documents = {
        defaults.jobs_collection: [JobRecord(job=_job()).to_document()],
        images: _image_documents(),
        images + CELLS_SUFFIX: [posting("0" * 40, ObjectStamp(1))],
    }
    for collection, path in settings:
        head, _, sub = path.partition(".")
        written = [d for d in documents[collection] if head in d]
        assert written, f"{collection}.{path}: no document has {head}"
        assert not sub or any(sub in d[head] for d in written), f"{collection}.{path}"


def test_an_image_document_fits_firestores_index_limit(tf: Terraform) -> None:
    """With the exemptions, the largest footprint leaves a document far below 40,000 entries."""
    images = Settings.model_construct().images_collection
    document = _image_documents()[0]
    # the most vertices an outline keeps, stored as ra, dec, ra, dec, ... (all distinct)
    document["footprint"]["vertices"] = [float(i) for i in range(2 * _MAX_VERTICES)]

    def entries(settings: dict[tuple[str, str], Indexes], value: Any, path: str) -> int:
        if isinstance(value, dict):
            return sum(entries(settings, v, f"{path}.{k}") for k, v in value.items())
        indexes = effective_indexes(settings, images, path)
        if indexes == []:
            return 0
        if isinstance(value, list):
            return len(value)  # array-contains: one entry per distinct element
        return 2 if indexes is None else len(indexes)  # ascending and descending by default

    def total(settings: dict[tuple[str, str], Indexes]) -> int:
        return sum(entries(settings, v, k) for k, v in document.items())

    assert total(field_settings(tf)) < 100
    # without the exemptions such a footprint would not fit
    assert total({}) > 40_000


def _job() -> Job:
    now = datetime.now(UTC)
    return Job(
        job_id="j",
        owner="o",
        phase=ExecutionPhase.PENDING,
        creation_time=now,
        destruction=now + timedelta(days=7),
    )


def _result() -> StoredResult:
    now = datetime.now(UTC)
    return StoredResult(
        result_id="cutout-000000",
        index=0,
        status="ok",
        bucket="b",
        object_name="o",
        mime_type="application/fits",
        size=1,
        created=now,
        expires=now + timedelta(days=7),
    )


def test_ttl_policies_cover_every_document_that_carries_a_destruction(tf: Terraform) -> None:
    """Jobs and their result documents (a sub-collection the job's TTL does not reach)."""
    ttl = {
        (
            tf.resolve_prefix(
                interpolation(body["collection"]).replace(
                    "local.jobs_collection", tf.locals["jobs_collection"]
                )
            ),
            scalar(body["field"]),
        )
        for body in tf.of_type("google_firestore_field").values()
        if "ttl_config" in body
    }
    documents = {
        Settings.model_construct().jobs_collection: JobRecord(job=_job()).to_document(),
        _RESULTS: _result().to_document(),
        # progress shards are written with the same destruction (ProgressCounter.add_once)
        PROGRESS_COLLECTION: receipt_document(done=1, failed=0, expires=_result().expires),
        RECEIPTS_COLLECTION: receipt_document(done=1, failed=0, expires=_result().expires),
    }
    expected = set()
    for collection, document in documents.items():
        assert isinstance(document["destruction"], datetime), "TTL needs a timestamp field"
        expected.add((collection, "destruction"))
    assert ttl == expected


# -- lifecycles ----------------------------------------------------------------------
def _delete_ages(tf: Terraform, bucket: str) -> list[str]:
    body = tf.resource("google_storage_bucket", bucket)
    return [
        interpolation(scalar(blocks(rule["condition"])[0]["age"]))
        for rule in blocks(body["lifecycle_rule"])
        if scalar(blocks(rule["action"])[0]["type"]) == "Delete"
        and "age" in blocks(rule["condition"])[0]
    ]


@pytest.mark.parametrize(
    ("bucket", "variable"), [("results", "result_ttl_days"), ("drop", "drop_ttl_days")]
)
def test_lifecycle_ages_outlive_the_jobs(tf: Terraform, bucket: str, variable: str) -> None:
    assert _delete_ages(tf, bucket) == [f"var.{variable}"]
    validations = " ".join(
        str(v["condition"]) for v in blocks(tf.variables[variable]["validation"])
    )
    assert f"var.{variable} >= ceil(var.destruction_days)" in validations
    # the destruction maximum the code enforces is the one Terraform validates against
    assert settings_env(tf)["SKYCUT_DESTRUCTION_DAYS"] == "${tostring(var.destruction_days)}"
    assert tf.default(variable) >= math.ceil(tf.default("destruction_days"))
    assert tf.default(variable) >= math.ceil(Settings.model_construct().destruction_days)


def test_results_expire_at_their_custom_time(tf: Terraform) -> None:
    body = tf.resource("google_storage_bucket", "results")
    conditions = [
        {k: scalar(v) for k, v in blocks(rule["condition"])[0].items() if not k.startswith("__")}
        for rule in blocks(body["lifecycle_rule"])
    ]
    # the provider ignores a 0 unless told to send it
    assert {"days_since_custom_time": 0, "send_days_since_custom_time_if_zero": True} in conditions


def test_results_bucket_is_private_and_unversioned(tf: Terraform) -> None:
    body = tf.resource("google_storage_bucket", "results")
    assert scalar(body["uniform_bucket_level_access"]) is True
    assert scalar(body["public_access_prevention"]) == "enforced"
    assert scalar(blocks(body["versioning"])[0]["enabled"]) is False


# -- Pub/Sub mirrors the local stack ---------------------------------------------------
def local_push(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Return the local stack's topics, each with the functions its subscriptions push to."""
    cfg = StackConfig()
    recorded: dict[str, Any] = {}
    monkeypatch.setattr(
        local_stack, "create_topics_and_subscriptions", lambda _env, **kw: recorded.update(kw)
    )
    Stack(cfg).create_messaging()
    ports = {
        cfg.api_port: "soda_api",
        cfg.worker_port: "cutout_worker",
        cfg.bulk_port: "bulk_submit",
        cfg.index_port: "image_index",
        cfg.mosaic_port: "mosaic_worker",
    }
    return {
        topic: {ports[int(url.rsplit(":", 1)[1])] for url in endpoints.values()}
        for topic, endpoints in recorded["push"].items()
    }


def test_topics_and_push_targets_mirror_the_local_stack(
    tf: Terraform, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = StackConfig()
    topics = {
        k: tf.resolve_prefix(v)
        for k, v in tf.locals["topic_names"].items()
        if not k.startswith("__")
    }
    targets = tf.locals["push_targets"]
    assert targets == {
        "jobs": "cutout_worker",
        "drop": "bulk_submit",
        "sources": "image_index",
        "mosaic": "mosaic_worker",
    }
    local = local_push(monkeypatch)
    # the same topics carry job messages and job ends, pushed to the same function
    assert topics["jobs"] == stack.job_topic
    assert topics["job_events"] == stack.job_events_topic
    assert local[stack.job_topic] == {targets["jobs"]}
    assert local[stack.job_events_topic] == set()
    assert topics["mosaic"] == stack.mosaic_topic
    assert local[stack.mosaic_topic] == {targets["mosaic"]}
    # bucket events: one local topic for every bucket (fake-gcs-server publishes to one, the
    # emulator ignores filters), pushed to both functions; here a topic per kind of bucket
    assert local[stack.storage_topic] == {targets["drop"], targets["sources"]}
    assert set(local) == {
        stack.job_topic,
        stack.job_events_topic,
        stack.storage_topic,
        stack.mosaic_topic,
    }
    # every function a local subscription reaches is reached here too
    assert set().union(*local.values()) == set(targets.values())


def test_bucket_events_reach_their_topics(tf: Terraform) -> None:
    drop = tf.resource("google_storage_notification", "drop")
    assert scalar(drop["event_types"]) == "OBJECT_FINALIZE"
    assert interpolation(drop["topic"]) == 'google_pubsub_topic.this["drop"].id'
    assert interpolation(drop["bucket"]) == "google_storage_bucket.drop.name"
    sources = tf.resource("google_storage_notification", "sources")
    assert "toset(var.source_buckets)" in interpolation(sources["for_each"])
    assert interpolation(sources["bucket"]) == "each.value"
    assert interpolation(sources["topic"]) == 'google_pubsub_topic.this["sources"].id'
    assert scalar(sources["payload_format"]) == "JSON_API_V1"
    # every kind of object event the indexer understands, and no other
    assert set(scalar(sources["event_types"])) == set(_NOTIFICATION_KINDS)
    # each source bucket's project's Cloud Storage agent may publish them
    publish = tf.resource("google_pubsub_topic_iam_member", "gcs_publishes_sources")
    assert interpolation(publish["topic"]) == 'google_pubsub_topic.this["sources"].name'
    assert scalar(publish["role"]) == "roles/pubsub.publisher"
    agents = tf.data[("google_storage_project_service_account", "sources")]
    assert "var.source_bucket_projects" in interpolation(agents["for_each"])


def test_push_subscriptions_retry_and_dead_letter(tf: Terraform) -> None:
    body = tf.resource("google_pubsub_subscription", "push")
    push = blocks(body["push_config"])[0]
    # as in emulators/resources.py: the endpoint ends with the topic path
    assert str(scalar(push["push_endpoint"])).endswith("/${google_pubsub_topic.this[each.key].id}")
    oidc = blocks(push["oidc_token"])[0]
    assert "google_service_account.push[each.value].email" in interpolation(
        oidc["service_account_email"]
    )
    retry = blocks(body["retry_policy"])[0]
    assert {"minimum_backoff", "maximum_backoff"} <= set(retry)
    dead = blocks(body["dead_letter_policy"])[0]
    assert interpolation(dead["dead_letter_topic"]) == 'google_pubsub_topic.this["dead_letter"].id'
    assert "var.pubsub.max_delivery_attempts" in interpolation(dead["max_delivery_attempts"])
    # the ack deadline is the function's timeout, so a running batch is not redelivered
    assert (
        interpolation(body["ack_deadline_seconds"]) == "var.functions[each.value].timeout_seconds"
    )
    assert "dead_letter" in tf.locals["topic_names"]
    tf.resource("google_pubsub_subscription", "dead_letter")


# -- bundles and identities -----------------------------------------------------------
def test_every_function_folder_is_deployed(tf: Terraform) -> None:
    folders = {p.parent.name for p in (REPO / "functions").glob("*/main.py")}
    names = {k for k in tf.locals["function_names"] if not k.startswith("__")}
    assert folders == names == FUNCTIONS
    for name in names:
        assert tf.locals["function_names"][name] == f"${{local.prefix}}-{name.replace('_', '-')}"
    body = tf.resource("google_cloudfunctions2_function", "this")
    build = blocks(body["build_config"])[0]
    assert interpolation(build["entry_point"]) == "local.bundles[each.key].entry_point"
    source = blocks(blocks(blocks(build["source"])[0]["storage_source"])[0])[0]
    assert interpolation(source["object"]) == "google_storage_bucket_object.bundle[each.key].name"
    obj = tf.resource("google_storage_bucket_object", "bundle")
    assert interpolation(obj["name"]) == "local.bundles[each.key].zip"  # named by content hash


def test_one_service_account_per_function(tf: Terraform) -> None:
    body = tf.resource("google_cloudfunctions2_function", "this")
    service = blocks(body["service_config"])[0]
    assert interpolation(service["service_account_email"]) == (
        "google_service_account.function[each.key].email"
    )
    assert interpolation(tf.resource("google_service_account", "function")["for_each"]) == (
        "local.function_names"
    )
    signer = tf.resource("google_service_account_iam_member", "api_signs_as_itself")
    assert scalar(signer["role"]) == "roles/iam.serviceAccountTokenCreator"
    assert 'function["soda_api"]' in interpolation(signer["member"])
    assert 'function["soda_api"]' in interpolation(signer["service_account_id"])
    # no basic roles, no project-wide storage or pubsub grants
    for body in tf.of_type("google_project_iam_member").values():
        assert scalar(body["role"]) in {"roles/datastore.user", "roles/logging.logWriter"}
