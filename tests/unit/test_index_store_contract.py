"""The image index's contract: what a search finds as entries are written, replaced and removed.

Run here on :class:`MemoryImageIndex`; ``tests/integration/test_image_index.py``
runs the same cases on :class:`FirestoreImageIndex` over the emulator (its
postings, and its cache of decoded entries keyed by version), so both stores
answer searches alike after any sequence of events.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from skycut.cutout.stencil import Circle
from skycut.index.footprint import image_footprint
from skycut.index.memory_index import MemoryImageIndex
from skycut.index.metadata import image_metadata
from skycut.index.record import ImageRecord, ObjectStamp, Unindexable
from skycut.index.search import containing, overlapping
from skycut.index.store import ImageIndex
from skycut.soda.ids import SourceRef
from tests.unit.test_index_footprint import image_header

HERE = (150.0, 2.0)
THERE = (210.0, -30.0)


@pytest.fixture
def index() -> ImageIndex:
    return MemoryImageIndex()


@pytest.fixture
def source() -> SourceRef:
    # a fresh object per test: the Firestore run shares one collection
    return SourceRef("skycut-sources", f"contract/{uuid.uuid4().hex}.fits")


def image(
    source: SourceRef,
    generation: int,
    crval: tuple[float, float] = HERE,
    *,
    metageneration: int = 1,
    target: str = "first",
) -> ImageRecord:
    header = image_header(crval, shape=(200, 300), scale=2e-4)
    header["OBJECT"] = target
    return ImageRecord(
        source=source,
        stamp=ObjectStamp(generation, metageneration),
        indexed_at=datetime.now(UTC),
        hdu=0,
        extname=None,
        size=1000,
        footprint=image_footprint(header, source=source.uri),
        metadata=image_metadata(header, uri=source.uri),
    )


def found(index: ImageIndex, source: SourceRef, where: tuple[float, float]) -> list[ImageRecord]:
    """The entries of ``source`` a point search and a wider circle find at ``where``."""
    by_point = [r for r in containing(index, *where) if r.source == source]
    tiny = [r for r in overlapping(index, Circle(*where, 1e-6)) if r.source == source]
    wide = [r for r in overlapping(index, Circle(*where, 0.5)) if r.source == source]
    assert by_point == tiny
    assert [r.stamp for r in wide] == [r.stamp for r in by_point]
    return by_point


def test_a_stored_image_is_found_where_it_lies_and_only_there(
    index: ImageIndex, source: SourceRef
) -> None:
    entry = image(source, 1)
    assert index.put(entry)
    assert index.get(source) == entry
    assert found(index, source, HERE) == [entry]
    assert found(index, source, THERE) == []
    assert [r.region for r in found(index, source, HERE)] == [entry.region]


def test_a_replacement_moves_the_image_and_an_older_version_changes_nothing(
    index: ImageIndex, source: SourceRef
) -> None:
    assert index.put(image(source, 1))
    assert found(index, source, HERE)  # read (and kept decoded) before the replacement
    newer = image(source, 2, THERE)
    assert index.put(newer)
    assert found(index, source, HERE) == []
    assert found(index, source, THERE) == [newer]
    assert not index.put(image(source, 1))  # late event of the replaced version
    assert not index.put(newer)  # duplicate
    assert found(index, source, HERE) == []
    assert found(index, source, THERE) == [newer]


def test_a_metadata_change_is_what_searches_return(index: ImageIndex, source: SourceRef) -> None:
    assert index.put(image(source, 1, target="first"))
    assert [r.metadata.target_name for r in found(index, source, HERE)] == ["first"]
    assert index.put(image(source, 1, metageneration=2, target="second"))
    assert [r.metadata.target_name for r in found(index, source, HERE)] == ["second"]


def test_a_deletion_leaves_a_tombstone_only_a_newer_generation_passes(
    index: ImageIndex, source: SourceRef
) -> None:
    assert index.put(image(source, 3))
    assert found(index, source, HERE)
    assert index.remove(source, ObjectStamp(3))
    assert index.get(source) is None
    assert found(index, source, HERE) == []
    assert not index.remove(source, ObjectStamp(3))
    assert not index.put(image(source, 3))  # a late finalize of the deleted generation
    assert found(index, source, HERE) == []
    again = image(source, 4)
    assert index.put(again)
    assert found(index, source, HERE) == [again]


def test_an_unindexable_replacement_is_no_longer_found(
    index: ImageIndex, source: SourceRef
) -> None:
    assert index.put(image(source, 1))
    assert found(index, source, HERE)
    broken = Unindexable(
        source=source, stamp=ObjectStamp(2), indexed_at=datetime.now(UTC), reason="not FITS"
    )
    assert index.put(broken)
    assert index.get(source) == broken
    assert found(index, source, HERE) == []
    assert [r for r in index.images() if r.source == source] == []


def test_a_removal_of_an_older_generation_keeps_the_newer(
    index: ImageIndex, source: SourceRef
) -> None:
    newer = image(source, 5)
    assert index.put(newer)
    assert not index.remove(source, ObjectStamp(4))
    assert found(index, source, HERE) == [newer]
    assert [r for r in index.images() if r.source == source] == [newer]
    assert list(index.get_many([source])) == [newer]


def test_the_region_stored_is_the_one_computed(source: SourceRef) -> None:
    entry = image(source, 1)
    assert replace(entry, region=()) == entry  # rebuilt from the footprint when not given
    assert len(entry.region) >= 4
