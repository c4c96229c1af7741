"""Fixtures shared by the indexer's tests and `skycut index`'s: an index over local objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from skycut.index.indexer import Indexer, metadata_config
from skycut.index.memory_index import MemoryImageIndex
from tests.unit.test_index_indexer import BUCKET, Versions


@pytest.fixture
def versions(tmp_path: Path) -> Versions:
    return Versions(tmp_path)


@pytest.fixture
def index() -> MemoryImageIndex:
    return MemoryImageIndex()


@pytest.fixture
def indexer(index: MemoryImageIndex, versions: Versions) -> Indexer:
    return Indexer(
        index=index,
        open_reader=versions.open,
        buckets={BUCKET},
        config=metadata_config({}, ()),
        chunk_size=65536,
    )
