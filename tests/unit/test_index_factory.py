"""The index and indexer every adapter builds come from one factory, with the settings' rules."""

from __future__ import annotations

import pytest

from skycut.api.factory import ApiFactory
from skycut.clients import Clients
from skycut.collection_rules import CollectionRule
from skycut.config import Settings
from skycut.index.factory import image_index_for, indexer_for


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Clients:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")  # no request is made
    rules = [CollectionRule("deep/*", "deep", calib_level=3)]
    return Clients(settings=Settings(source_buckets=["a", "b"], collections=rules))


def test_the_indexer_follows_the_settings_unless_told_its_buckets(clients: Clients) -> None:
    index = image_index_for(clients)
    indexer = indexer_for(clients, index=index)
    assert indexer.index is index
    assert set(indexer.buckets) == {"a", "b"}
    assert indexer.config.collections == (CollectionRule("deep/*", "deep", calib_level=3),)
    assert indexer.chunk_size == clients.settings.index_chunk_bytes
    assert set(indexer_for(clients, index=index, buckets={"c"}).buckets) == {"c"}


def test_the_api_keeps_one_index_for_sia_and_covering_lookups(clients: Clients) -> None:
    # one process, one set of decoded entries (each index keeps up to 20,000)
    factory = ApiFactory(clients)
    assert factory.covering._index is factory.image_index
