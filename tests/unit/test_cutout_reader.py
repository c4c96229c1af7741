"""Reader wrappers: counting requests, and not asking twice for bytes already fetched."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from skycut.cutout.reader import CountingReader, LocalFileReader, RememberingReader


@pytest.fixture
def counted(tmp_path: Path) -> CountingReader:
    path = tmp_path / "bytes.bin"
    path.write_bytes(bytes(range(256)) * 64)
    return CountingReader(LocalFileReader(path))


def test_bytes_inside_an_earlier_read_come_from_memory(counted: CountingReader) -> None:
    reader = RememberingReader(counted)
    assert reader.read_range(0, 1000) == bytes(range(256)) * 3 + bytes(range(232))
    assert reader.read_range(300, 310) == bytes(range(44, 54))
    assert reader.read_range(990, 1000) == bytes(range(222, 232))
    assert counted.stats.requests == 1
    # Partly outside what was read: asked for in full.
    assert reader.read_range(995, 1005) == bytes(range(227, 237))
    assert counted.stats.requests == 2


def test_only_small_reads_are_remembered_oldest_forgotten_first(counted: CountingReader) -> None:
    reader = RememberingReader(counted, capacity=100)
    reader.read_range(0, 200)  # too large to keep
    reader.read_range(0, 10)
    assert counted.stats.requests == 2
    reader.read_range(1000, 1050)
    reader.read_range(2000, 2050)  # 110 bytes held: the oldest 10 go
    reader.read_range(1010, 1020)  # still held
    reader.read_range(2, 5)  # forgotten: asked again
    assert counted.stats.requests == 5


def test_end_of_file_reads_stay_short(counted: CountingReader) -> None:
    reader = RememberingReader(counted)
    assert len(reader.read_range(16380, 16400)) == 4
    assert reader.read_range(16382, 16384) == bytes([254, 255])
    assert reader.name == counted.name
    assert reader.size() == 16384


def test_concurrent_reads_count_every_request(counted: CountingReader) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: counted.read_range(i * 10, i * 10 + 10), range(200)))
    assert (counted.stats.requests, counted.stats.bytes) == (200, 2000)
