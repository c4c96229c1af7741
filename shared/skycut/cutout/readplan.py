"""Which byte ranges to request for a set of needed byte segments.

A cutout needs many small segments of a file: one per image row it covers,
or one per compressed tile. Each request costs a round trip; each byte read
costs transfer time. The planner compares a few layouts under a simple cost
model and returns the cheapest:

``span``
    One range from the first needed byte to the last: one round trip, but
    every byte in between is transferred.
``coalesced``
    Segments merged across gaps a round trip would take longer to wait for
    than to transfer (gap < round trip * bandwidth).
``separate``
    Only touching or overlapping segments merged: no wasted byte, most requests.

Each layout may also have its larger ranges split into parts fetched
concurrently, which pays off when transfer time, not latency, dominates.
Planning is pure arithmetic on the segment offsets; `skycut.cutout.fetch`
performs the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Layout", "ReadCost", "ReadPlan", "estimate_seconds", "plan_reads"]

Layout = Literal["span", "coalesced", "separate"]
"""How segments were merged into ranges; see the module docstring."""

_Int64 = npt.NDArray[np.int64]
_Pairs = tuple[_Int64, _Int64]


@dataclass(frozen=True)
class ReadCost:
    """The network the planner optimises for.

    The defaults describe Cloud Storage read from a Cloud Function in the
    same region, conservatively.

    Attributes
    ----------
    round_trip
        Seconds from sending a request to its first byte.
    bandwidth
        Bytes per second one request streams at. Cloud Storage throughput
        is limited per connection more than in total, which is why splitting
        a large range into concurrent parts helps.
    max_concurrency
        Requests in flight at once.
    request_overhead
        Seconds of work per request beyond waiting for it (building and
        parsing it on both ends); it also makes a request worth avoiding
        when it would save only a few bytes.
    min_part_bytes
        Smallest part a range is split into for concurrency; below it the
        extra requests are not worth their overhead.
    total_bandwidth
        Bytes per second all requests together stream at (the instance's
        network), or None for no limit beyond ``bandwidth`` per request.
        Without it, splitting into parts makes extra bytes look free, and
        a plan for many cutouts reads whole stretches of the file.
    max_span_bytes
        Largest range held in memory, or None for no limit. Segments are
        merged across gaps only while the merged range stays within it (a
        single segment larger than it is still read whole), so a cut of a
        very wide image is not fetched as one huge band of rows.

    """

    round_trip: float = 0.025
    bandwidth: float = 100e6
    max_concurrency: int = 8
    request_overhead: float = 0.001
    min_part_bytes: int = 1 << 20
    total_bandwidth: float | None = None
    max_span_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.round_trip < 0 or self.request_overhead < 0 or self.bandwidth <= 0:
            raise ValueError("round_trip and request_overhead must be >= 0 and bandwidth > 0")
        if self.total_bandwidth is not None and self.total_bandwidth <= 0:
            raise ValueError("total_bandwidth must be > 0 (or None)")
        if self.max_span_bytes is not None and self.max_span_bytes < 1:
            raise ValueError("max_span_bytes must be >= 1 (or None)")
        if self.max_concurrency < 1 or self.min_part_bytes < 1:
            raise ValueError("max_concurrency and min_part_bytes must be >= 1")

    def shared(self, ways: int) -> ReadCost:
        """Return the network one of ``ways`` reads in flight together sees.

        Each gets an equal share of the requests in flight (at least one), so
        reads waited for together keep to ``max_concurrency`` connections.
        """
        if ways <= 1:
            return self
        return replace(self, max_concurrency=max(1, self.max_concurrency // ways))

    @property
    def gap_bytes(self) -> int:
        """Bytes that take as long to transfer as one round trip to wait for."""
        return int(self.round_trip * self.bandwidth)


@dataclass(frozen=True)
class ReadPlan:
    """The ranges to fetch.

    Attributes
    ----------
    spans
        Disjoint ``(start, stop)`` byte ranges in increasing order; each
        needed segment lies wholly inside one span.
    parts
        The requests: ``(start, stop)`` ranges tiling the spans (a span is
        one part unless it was split for concurrency).
    layout
        How segments were merged into spans.
    estimate
        Seconds the plan should take under the cost model.

    """

    spans: tuple[tuple[int, int], ...]
    parts: tuple[tuple[int, int], ...]
    layout: Layout
    estimate: float

    @property
    def requests(self) -> int:
        """Number of requests."""
        return len(self.parts)

    @property
    def nbytes(self) -> int:
        """Bytes transferred."""
        return sum(stop - start for start, stop in self.spans)

    @property
    def split(self) -> bool:
        """Whether some span is fetched as several concurrent parts."""
        return len(self.parts) > len(self.spans)


def estimate_seconds(sizes: npt.ArrayLike, cost: ReadCost) -> float:
    """Return the time ``sizes``-byte requests should take, run concurrently.

    Requests go out in waves of ``max_concurrency``, each wave costing a
    round trip; transfer takes at least as long as the largest request, at
    least the total spread evenly over the streams in use, and at least the
    total at ``total_bandwidth``; each request adds its overhead.

    Parameters
    ----------
    sizes
        Bytes of each request.
    cost
        The network.

    Returns
    -------
    float
        Seconds; 0 for no request.

    """
    array = np.asarray(sizes, dtype=np.int64)
    return _estimate(array, cost) if array.size else 0.0


def plan_reads(
    starts: npt.ArrayLike,
    stops: npt.ArrayLike,
    *,
    cost: ReadCost | None = None,
    layouts: tuple[Layout, ...] = ("span", "coalesced", "separate"),
) -> ReadPlan:
    """Choose the requests that fetch every byte segment ``[starts[i], stops[i])``.

    Parameters
    ----------
    starts, stops
        The needed segments, in any order; they may touch or overlap.
        Empty segments are ignored.
    cost
        The network; `ReadCost` defaults if not given.
    layouts
        The layouts to consider (all by default; tests restrict them).

    Returns
    -------
    ReadPlan
        The plan with the smallest estimated time; ties go to fewer requests,
        then fewer bytes.

    """
    cost = cost or ReadCost()
    lo, hi = _clean(np.asarray(starts, np.int64), np.asarray(stops, np.int64))
    if lo.size == 0:
        return ReadPlan(spans=(), parts=(), layout="separate", estimate=0.0)
    gaps = {"span": math.inf, "coalesced": cost.gap_bytes, "separate": 0}
    best: tuple[tuple[float, int, int], float, Layout, _Pairs, _Pairs] | None = None
    for layout in layouts:
        spans = _merge_arrays(lo, hi, gaps[layout])
        if cost.max_span_bytes is not None:
            spans = _capped(lo, hi, spans, gaps[layout], cost.max_span_bytes)
        for parts in (spans, _split(*spans, cost)):
            sizes = parts[1] - parts[0]
            estimate = _estimate(sizes, cost)
            key = (round(estimate, 9), int(sizes.size), int(sizes.sum()))
            if best is None or key < best[0]:
                best = (key, estimate, layout, spans, parts)
    if best is None:
        raise ValueError("no layout to consider")
    _, estimate, layout, spans, parts = best
    return ReadPlan(spans=_pairs(spans), parts=_pairs(parts), layout=layout, estimate=estimate)


def _estimate(sizes: _Int64, cost: ReadCost) -> float:
    n = int(sizes.size)
    waves = math.ceil(n / cost.max_concurrency)
    streams = min(n, cost.max_concurrency)
    transfer = max(int(sizes.max()), int(sizes.sum()) / streams) / cost.bandwidth
    if cost.total_bandwidth is not None:
        transfer = max(transfer, int(sizes.sum()) / cost.total_bandwidth)
    return waves * cost.round_trip + transfer + n * cost.request_overhead


def _pairs(ranges: _Pairs) -> tuple[tuple[int, int], ...]:
    return tuple(zip(ranges[0].tolist(), ranges[1].tolist(), strict=True))


def _clean(starts: _Int64, stops: _Int64) -> tuple[_Int64, _Int64]:
    """Sort non-empty segments by start and merge those that overlap or touch."""
    keep = stops > starts
    starts, stops = starts[keep], stops[keep]
    order = np.argsort(starts, kind="stable")
    starts, stops = starts[order], stops[order]
    return _merge_arrays(starts, stops, 0)


def _merge_arrays(starts: _Int64, stops: _Int64, gap: float) -> tuple[_Int64, _Int64]:
    if starts.size == 0:
        return starts, stops
    reach = np.maximum.accumulate(stops)
    # A new range starts where the gap to everything before it exceeds ``gap``.
    new = np.empty(starts.size, dtype=bool)
    new[0] = True
    new[1:] = starts[1:] - reach[:-1] > gap
    first = np.flatnonzero(new)
    last = np.append(first[1:], starts.size) - 1
    return starts[first], reach[last]


def _capped(lo: _Int64, hi: _Int64, spans: _Pairs, gap: float, cap: int) -> _Pairs:
    """Merge the segments ``lo``/``hi`` across gaps up to ``gap``, no range over ``cap`` bytes.

    ``spans`` is the uncapped merge; it is returned as it is when every range
    fits (the usual case, so the loop below runs only for oversized ranges).
    """
    if int((spans[1] - spans[0]).max()) <= cap:
        return spans
    starts, stops = [int(lo[0])], [int(hi[0])]
    for a, b in zip(lo[1:].tolist(), hi[1:].tolist(), strict=True):
        if a - stops[-1] > gap or b - starts[-1] > cap:
            starts.append(a)
            stops.append(b)
        else:
            stops[-1] = max(stops[-1], b)
    return np.array(starts, dtype=np.int64), np.array(stops, dtype=np.int64)


def _split(lo: _Int64, hi: _Int64, cost: ReadCost) -> _Pairs:
    """Split spans into parts of about total / max_concurrency bytes, no smaller than the floor."""
    sizes = hi - lo
    part = max(cost.min_part_bytes, math.ceil(int(sizes.sum()) / cost.max_concurrency))
    count = np.maximum(1, np.rint(sizes / part)).astype(np.int64)
    span = np.repeat(np.arange(lo.size), count)
    k = np.arange(span.size) - np.repeat(np.cumsum(count) - count, count)
    # Part k of n of a span covers [k * size // n, (k + 1) * size // n): exact, gapless.
    starts = lo[span] + k * sizes[span] // count[span]
    stops = lo[span] + (k + 1) * sizes[span] // count[span]
    return starts.astype(np.int64), stops.astype(np.int64)
