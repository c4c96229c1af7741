"""Grouping a message's cutouts by image, and sharing a group's reads out among them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from skycut.cutout.reader import ReadStats
from skycut.jobs.messages import CutoutTask
from skycut.soda.ids import SourceRef
from skycut.soda.work import CutWork
from skycut.worker.groups import SharedSource, by_source


def task(index: int, source: str) -> CutoutTask:
    return CutoutTask(index=index, work=CutWork(source=SourceRef("b", source)))


def test_tasks_are_grouped_by_source_in_order_of_first_appearance() -> None:
    tasks = [task(0, "b"), task(1, "a"), task(2, "b"), task(3, "c"), task(4, "a")]
    groups = by_source(tasks)
    assert list(groups) == ["gs://b/b", "gs://b/a", "gs://b/c"]
    assert [[t.index for t in g] for g in groups.values()] == [[0, 2], [1, 4], [3]]


@given(
    requests=st.integers(0, 10_000),
    nbytes=st.integers(0, 10**10),
    first=st.integers(0, 1000),
    size=st.integers(1, 60),
)
def test_shares_of_a_groups_reads_add_up_to_what_it_read(
    requests: int, nbytes: int, first: int, size: int
) -> None:
    stats = ReadStats()
    stats.requests, stats.bytes = requests, nbytes
    version = SourceRef("b", "x.fits").at(1)
    shared = SharedSource(
        reader=None,  # type: ignore[arg-type]
        index=None,
        stats=stats,
        first=first,
        size=size,
        plans={},
        version=version,
    )
    shares = [shared.share(first + k) for k in range(size)]
    assert sum(r for r, _ in shares) == requests
    assert sum(b for _, b in shares) == nbytes
    assert max(r for r, _ in shares) - min(r for r, _ in shares) <= requests % size
