"""Reading a package's cutouts ahead: same order, bounded reads under way, errors surface."""

from __future__ import annotations

import threading
import time

import pytest

from skycut.bulk.package import read_ahead
from skycut.jobs.records import StoredResult


def result(index: int) -> StoredResult:
    return StoredResult(
        result_id=f"cutout-{index:06d}",
        index=index,
        status="ok",
        bucket="b",
        object_name=f"jobs/j/cutout-{index:06d}.fits",
        mime_type="application/fits",
        size=1,
    )


class SlowStore:
    """Reads that take a while, counting how many run at once."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.running = 0
        self.most = 0
        self.started: list[int] = []
        self._lock = threading.Lock()
        self._fail_at = fail_at

    def read(self, r: StoredResult) -> bytes:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(r.index)
        time.sleep(0.01 * (1 + r.index % 3))  # later reads may finish first
        with self._lock:
            self.running -= 1
        if r.index == self._fail_at:
            raise OSError(f"cannot read {r.object_name}")
        return r.object_name.encode()


def test_results_come_in_order_with_their_bytes_and_reads_overlap_within_the_window() -> None:
    store = SlowStore()
    results = [result(i) for i in range(40)]
    t0 = time.perf_counter()
    got = list(read_ahead(results, store.read, window=8))
    elapsed = time.perf_counter() - t0
    assert [(r.index, data) for r, data in got] == [
        (r.index, r.object_name.encode()) for r in results
    ]
    assert 2 <= store.most <= 8
    assert elapsed < sum(0.01 * (1 + i % 3) for i in range(40)) / 2  # not one after the other


def test_a_slow_consumer_never_has_more_than_the_window_read_ahead() -> None:
    store = SlowStore()
    stream = read_ahead([result(i) for i in range(30)], store.read, window=4)
    next(stream)
    time.sleep(0.2)  # every read that may start has finished by now
    assert len(store.started) <= 1 + 4
    assert len(list(stream)) == 29


def test_a_failed_read_is_raised_where_its_result_is_used() -> None:
    store = SlowStore(fail_at=5)
    stream = read_ahead([result(i) for i in range(10)], store.read, window=4)
    assert [r.index for r, _ in (next(stream) for _ in range(5))] == [0, 1, 2, 3, 4]
    with pytest.raises(OSError, match="cutout-000005"):
        next(stream)
