"""The image index's contract cases (tests/unit/test_index_store_contract.py) on Firestore.

Also what only the Firestore store has: postings read by id, entries kept
decoded per version by the process that read them, and documents written
before postings existed.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import firestore

from skycut.index.firestore_index import CELLS_SUFFIX, FirestoreImageIndex
from skycut.index.record import PACKED, ObjectStamp, document_id
from skycut.index.store import ImageIndex
from skycut.soda.ids import SourceRef
from tests.unit.test_index_store_contract import *  # noqa: F403 - the same cases, another store
from tests.unit.test_index_store_contract import HERE, THERE, found, image

pytestmark = pytest.mark.integration


def _index(stack: Any) -> FirestoreImageIndex:
    client = firestore.Client(project=stack.config.project_id)
    return FirestoreImageIndex(client=client, collection=stack.config.images_collection)


@pytest.fixture
def index(stack: Any) -> ImageIndex:  # type: ignore[no-redef]
    return _index(stack)


def test_a_version_written_by_another_process_replaces_what_this_one_kept(
    stack: Any, source: SourceRef
) -> None:
    api, indexer = _index(stack), _index(stack)  # an API instance and the image_index function
    assert indexer.put(image(source, 1, target="first"))
    assert [r.metadata.target_name for r in found(api, source, HERE)] == ["first"]
    assert indexer.put(image(source, 1, metageneration=2, target="second"))
    assert [r.metadata.target_name for r in found(api, source, HERE)] == ["second"]
    assert indexer.put(image(source, 2, THERE))
    assert found(api, source, HERE) == []
    assert indexer.remove(source, ObjectStamp(2))
    assert found(api, source, THERE) == []


def test_postings_name_the_stored_version_in_one_shard_per_cell(
    stack: Any, source: SourceRef
) -> None:
    index = _index(stack)
    entry = image(source, 7, metageneration=3)
    assert index.put(entry)
    client = firestore.Client(project=stack.config.project_id)
    postings = client.collection(stack.config.images_collection + CELLS_SUFFIX)
    key = document_id(source)
    holding = {
        snap.id: snap.to_dict()["images"][key]
        for snap in postings.stream()
        if key in (snap.to_dict() or {}).get("images", {})
    }
    cells = {c for c in entry.cells if c > 0}
    assert {int(name.split(".")[0]) for name in holding} == cells
    assert len(holding) == len(cells)
    assert all(version == [7, 3] for version in holding.values())
    assert index.remove(source, ObjectStamp(7, 3))
    assert not any(key in (s.to_dict() or {}).get("images", {}) for s in postings.stream())


def test_an_entry_written_before_postings_is_rewritten(stack: Any, source: SourceRef) -> None:
    index = _index(stack)
    entry = image(source, 1)
    client = firestore.Client(project=stack.config.project_id)
    old = entry.to_document()
    old["footprint"]["vertices"] = [c for v in entry.footprint.vertices for c in v]
    del old["region"], old[PACKED]
    client.collection(stack.config.images_collection).document(document_id(source)).set(old)
    assert index.get(source) == entry  # still readable
    assert index.stored(source) is None  # but not current: backfill and events rewrite it
    assert index.wants(source, entry.stamp)
    assert index.put(entry)
    assert found(index, source, HERE) == [entry]


def test_lookups_read_the_packed_entry_and_entries_written_before_it_whole(
    stack: Any, source: SourceRef
) -> None:
    writer = _index(stack)
    packed, older = image(source, 1), image(SourceRef(source.bucket, source.name + ".2"), 1)
    assert writer.put(packed)
    assert writer.put(older)
    client = firestore.Client(project=stack.config.project_id)
    docs = client.collection(stack.config.images_collection)
    docs.document(document_id(older.source)).update({PACKED: firestore.DELETE_FIELD})
    # the packed value is what a lookup decodes: a field-by-field copy that disagrees is not read
    docs.document(document_id(packed.source)).update({"metadata.target_name": "not read"})
    reader = _index(stack)  # a process that has decoded nothing
    assert found(reader, packed.source, HERE) == [packed]
    assert found(reader, older.source, HERE) == [older]
