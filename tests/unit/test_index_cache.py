"""Decoded entries kept per object version: never another version's, never beyond the bound."""

from __future__ import annotations

from skycut.index.cache import RecordCache
from skycut.index.record import ObjectStamp
from skycut.soda.ids import SourceRef
from tests.unit.test_index_store_contract import image


def test_an_entry_is_found_only_under_the_version_it_describes() -> None:
    cache = RecordCache(10)
    first = image(SourceRef("b", "x.fits"), 1)
    cache.put("x", first)
    assert cache.get("x", ObjectStamp(1)) is first
    assert cache.get("x", ObjectStamp(1, 2)) is None  # a metadata change
    assert cache.get("x", ObjectStamp(2)) is None  # a replacement
    assert cache.get("y", ObjectStamp(1)) is None


def test_the_least_recently_used_go_first() -> None:
    cache = RecordCache(2)
    a, b, c = (image(SourceRef("b", f"{n}.fits"), 1) for n in "abc")
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a", ObjectStamp(1)) is a  # now b is the oldest
    cache.put("c", c)
    assert len(cache) == 2
    assert cache.get("b", ObjectStamp(1)) is None
    assert cache.get("a", ObjectStamp(1)) is a
    assert cache.get("c", ObjectStamp(1)) is c


def test_a_cache_of_no_entries_keeps_nothing() -> None:
    cache = RecordCache(0)
    entry = image(SourceRef("b", "x.fits"), 1)
    cache.put("x", entry)
    assert cache.get("x", ObjectStamp(1)) is None
