"""The read planner's choices, as pure functions of the segments and the network."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skycut.cutout.readplan import ReadCost, ReadPlan, estimate_seconds, plan_reads

ROW = 4096 * 4  # one row of a 4096-wide float32 image


def rows(first: int, count: int, *, width: int, stride: int = ROW, x0: int = 0) -> tuple:
    starts = np.arange(first, first + count) * stride + x0
    return starts, starts + width


def covers(plan: ReadPlan, starts: np.ndarray, stops: np.ndarray) -> bool:
    """Every segment lies in one span, and the parts tile the spans exactly."""
    spans = np.array(plan.spans)
    i = np.searchsorted(spans[:, 0], starts, side="right") - 1
    inside = (i >= 0) & (stops <= spans[np.maximum(i, 0), 1])
    tiled = []
    for start, stop in plan.spans:
        mine = sorted(p for p in plan.parts if start <= p[0] < stop)
        tiled.append(mine[0][0] == start and mine[-1][1] == stop)
        tiled.extend(a[1] == b[0] for a, b in itertools.pairwise(mine))
    return bool(inside.all()) and all(tiled)


def gapless(starts: np.ndarray, stops: np.ndarray, start: int, stop: int) -> bool:
    """Whether the segments inside ``[start, stop)`` cover every byte of it."""
    inside = (starts >= start) & (stops <= stop)
    reach = start
    for a, b in sorted(zip(starts[inside].tolist(), stops[inside].tolist(), strict=True)):
        if a > reach:
            return False
        reach = max(reach, b)
    return reach == stop


def test_close_rows_are_read_as_one_span() -> None:
    # A 51-px stamp of a 4096-wide float32 image: 51 rows 16 KiB apart.
    starts, stops = rows(1000, 51, width=51 * 4, x0=2000 * 4)
    plan = plan_reads(starts, stops, cost=ReadCost())
    assert plan.requests == 1
    assert plan.spans == ((int(starts[0]), int(stops[-1])),)


def test_far_rows_are_read_as_separate_ranges() -> None:
    # Rows 100 MB apart (planes of a cube): a span would transfer gigabytes.
    starts, stops = rows(0, 6, width=4096, stride=100_000_000)
    plan = plan_reads(starts, stops, cost=ReadCost())
    assert plan.layout in ("coalesced", "separate")
    assert plan.spans == tuple(zip(starts.tolist(), stops.tolist(), strict=True))
    assert plan.nbytes == int((stops - starts).sum())


def test_gaps_below_round_trip_times_bandwidth_are_coalesced() -> None:
    cost = ReadCost(round_trip=0.025, bandwidth=100e6, max_concurrency=1)
    # Two groups of rows: 1 MB gaps inside each group, 10 MB between them.
    a = np.array([0, 1_000_100, 2_000_200])
    starts = np.concatenate([a, a + 12_000_000])
    plan = plan_reads(starts, starts + 100, cost=cost)
    assert plan.layout == "coalesced"
    assert plan.spans == ((0, 2_000_300), (12_000_000, 14_000_300))


def test_large_span_is_split_into_concurrent_parts() -> None:
    # A 1003-row cutout of a 4096-wide float32 image: a 16 MB span.
    cost = ReadCost(max_concurrency=8, min_part_bytes=1 << 20)
    starts, stops = rows(0, 1003, width=1003 * 4, x0=1000 * 4)
    plan = plan_reads(starts, stops, cost=cost)
    assert len(plan.spans) == 1
    assert plan.split
    assert plan.requests == 8
    assert min(b - a for a, b in plan.parts) >= cost.min_part_bytes
    assert covers(plan, starts, stops)
    unsplit = estimate_seconds([plan.nbytes], cost)
    assert plan.estimate < unsplit / 2


def test_small_span_is_not_split() -> None:
    starts, stops = rows(0, 51, width=204)
    plan = plan_reads(starts, stops, cost=ReadCost(min_part_bytes=1 << 20))
    assert plan.requests == 1
    assert not plan.split


def test_without_concurrency_nothing_is_split() -> None:
    starts, stops = rows(0, 1003, width=4012)
    plan = plan_reads(starts, stops, cost=ReadCost(max_concurrency=1))
    assert plan.requests == 1


def test_no_latency_reads_exactly_the_segments() -> None:
    starts, stops = rows(0, 20, width=100)
    plan = plan_reads(starts, stops, cost=ReadCost(round_trip=0.0, request_overhead=0.0))
    assert plan.nbytes == 20 * 100


def test_touching_and_overlapping_segments_merge_and_order_does_not_matter() -> None:
    plan = plan_reads(
        [300, 0, 100, 150],
        [400, 100, 200, 160],
        cost=ReadCost(round_trip=0.0, request_overhead=0.0),
    )
    assert plan.spans == ((0, 200), (300, 400))
    assert plan_reads([], []).requests == 0
    assert plan_reads([5], [5]).requests == 0


def test_estimate_counts_waves_and_streams() -> None:
    cost = ReadCost(round_trip=0.01, bandwidth=1e6, max_concurrency=4, request_overhead=0.0001)
    assert estimate_seconds([], cost) == 0.0
    assert estimate_seconds([1000], cost) == pytest.approx(0.0111)
    # 8 requests in 2 waves; 8 kB over 4 streams, 1 kB each at most -> 2 ms.
    assert estimate_seconds([1000] * 8, cost) == pytest.approx(0.0228)


def test_total_bandwidth_caps_what_concurrency_gains() -> None:
    per_stream = ReadCost(round_trip=0.01, bandwidth=1e6, max_concurrency=4, request_overhead=0)
    shared = ReadCost(
        round_trip=0.01, bandwidth=1e6, max_concurrency=4, request_overhead=0, total_bandwidth=2e6
    )
    assert estimate_seconds([1000] * 4, per_stream) == pytest.approx(0.011)
    # 4 kB at 2 MB/s in all: 2 ms, not the 1 ms four free streams would take
    assert estimate_seconds([1000] * 4, shared) == pytest.approx(0.012)


def test_max_span_bytes_keeps_a_wide_images_rows_out_of_one_huge_range() -> None:
    # 4000 rows of a 4000-px cut out of a 100,000-px-wide float32 image: 400 kB apart
    starts, stops = rows(0, 4000, width=16_000, stride=400_000)
    unbounded = plan_reads(starts, stops, cost=ReadCost(total_bandwidth=250e6))
    assert max(b - a for a, b in unbounded.spans) > 1_500_000_000
    cap = 64 << 20
    bounded = plan_reads(starts, stops, cost=ReadCost(total_bandwidth=250e6, max_span_bytes=cap))
    assert covers(bounded, starts, stops)
    assert max(b - a for a, b in bounded.spans) <= cap
    assert 20 <= len(bounded.spans) <= 40  # about 1.6 GB / 64 MiB


def test_a_request_is_not_spent_to_save_a_few_bytes() -> None:
    # Two tiles' descriptor rows, seven 32-byte rows apart: one request, not two.
    plan = plan_reads([0, 256], [32, 288], cost=ReadCost())
    assert plan.requests == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"round_trip": -1.0},
        {"request_overhead": -1.0},
        {"bandwidth": 0.0},
        {"max_concurrency": 0},
        {"min_part_bytes": 0},
        {"total_bandwidth": 0.0},
        {"max_span_bytes": 0},
    ],
)
def test_cost_rejects_impossible_networks(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ReadCost(**kwargs)  # type: ignore[arg-type]


segments = st.lists(
    st.tuples(st.integers(0, 10**8), st.integers(1, 10**6)), min_size=1, max_size=60
)
costs = st.builds(
    ReadCost,
    round_trip=st.sampled_from([0.0, 0.001, 0.025, 0.2]),
    bandwidth=st.sampled_from([1e6, 1e8, 1e10]),
    max_concurrency=st.integers(1, 16),
    request_overhead=st.sampled_from([0.0, 0.001]),
    min_part_bytes=st.sampled_from([1, 1000, 1 << 20]),
    total_bandwidth=st.sampled_from([None, 1e7, 1e9]),
    max_span_bytes=st.sampled_from([None, 10**5, 10**7]),
)


@given(segments, costs)
def test_every_plan_covers_every_segment_and_is_the_cheapest_layout(
    segs: list[tuple[int, int]], cost: ReadCost
) -> None:
    starts = np.array([s for s, _ in segs])
    stops = starts + np.array([n for _, n in segs])
    plan = plan_reads(starts, stops, cost=cost)
    assert covers(plan, starts, stops)
    assert all(a < b for a, b in plan.spans)
    assert all(p[1] <= q[0] for p, q in zip(plan.spans, plan.spans[1:], strict=False))
    for layout in ("span", "coalesced", "separate"):
        assert plan.estimate <= plan_reads(starts, stops, cost=cost, layouts=(layout,)).estimate
    if cost.max_span_bytes is not None:
        for start, stop in plan.spans:
            # over the cap only if it holds no gap: one segment (or overlapping ones)
            assert stop - start <= cost.max_span_bytes or gapless(starts, stops, start, stop)
