"""Cutouts of one message that share a source image read it together.

A bulk message carries one image's stamps side by side (rows are sorted by
source). Their cutouts are planned first (headers only, from the cached
index), the byte segments of all of them are planned as one read plan and
fetched (:mod:`skycut.cutout.prefetch`), and each cutout is then cut from
memory. The reads of the group are shared out among its results, so the
requests and bytes recorded per cutout still add up to what was read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from skycut.cutout.cutplan import CutPlan
from skycut.cutout.fitsindex import FitsIndex, HduInfo
from skycut.cutout.prefetch import CutRequest, plan_each, prefetch_plans
from skycut.cutout.reader import RangeReader, ReadStats
from skycut.cutout.readplan import ReadCost
from skycut.cutout.selection import Selection
from skycut.cutout.tiles import TileTable
from skycut.errors import SkycutError
from skycut.jobs.messages import CutoutTask
from skycut.soda.ids import ObjectVersion
from skycut.soda.params import SodaRequest

__all__ = ["MAX_PREFETCH_BYTES", "SharedSource", "by_source", "prefetch_group"]

MAX_PREFETCH_BYTES = 256 * 1024 * 1024
"""A group whose cutouts hold more pixel bytes than this (8 per pixel) is cut one by one.

The fetched spans can be larger than the pixels they hold (rows between
stamps, or whole row bands of a wide image): the read planner decides that
for grouped and single cutouts alike."""


@dataclass(frozen=True)
class SharedSource:
    """A group's source, its pixels fetched ahead.

    Attributes
    ----------
    reader
        Serves the group's pixels from memory (anything else from storage).
    index
        The file's header index, for every cut of the group.
    stats
        The requests and bytes the whole group read.
    first, size
        The first task index of the group and the number of its tasks,
        to share ``stats`` out among them.
    plans
        Each planned cutout's `CutPlan`, by task index, so it is not planned twice.
    version
        The version of the source every byte was read from.

    """

    reader: RangeReader
    index: FitsIndex | None
    stats: ReadStats
    first: int
    size: int
    plans: dict[int, CutPlan]
    version: ObjectVersion

    def share(self, task_index: int) -> tuple[int, int]:
        """Return the ``(requests, bytes)`` a task of the group is credited with."""
        requests, extra_requests = divmod(self.stats.requests, self.size)
        nbytes, extra_bytes = divmod(self.stats.bytes, self.size)
        if task_index == self.first:  # the remainders, so the group's shares add up
            return requests + extra_requests, nbytes + extra_bytes
        return requests, nbytes


def by_source(tasks: Sequence[CutoutTask]) -> dict[str, list[CutoutTask]]:
    """Group tasks by source image, in order of first appearance."""
    groups: dict[str, list[CutoutTask]] = {}
    for task in tasks:
        groups.setdefault(task.source_id, []).append(task)
    return groups


def prefetch_group(
    reader: RangeReader,
    stats: ReadStats,
    cutouts: Sequence[tuple[CutoutTask, SodaRequest, Selection]],
    *,
    source_id: str,
    index: FitsIndex,
    cost: ReadCost,
    tile_tables: Callable[[HduInfo], TileTable],
    max_pixels: int,
    chunk_size: int,
    version: ObjectVersion,
) -> SharedSource | None:
    """Fetch the pixels of a group's cutouts in one read plan.

    ``reader`` reads only ``version`` of the source, which ``index`` and
    ``tile_tables`` describe.

    Returns
    -------
    SharedSource or None
        None when fewer than two cutouts can be planned or they are too big
        to hold together: the caller cuts them one by one, each reporting
        its own error.

    Raises
    ------
    SkycutError
        A transient error (storage unavailable): the message is retried.

    """
    planned, scanned = plan_each(
        reader,
        [
            CutRequest(selection, detail=request.detail, response_format=request.response_format)
            for _, request, selection in cutouts
        ],
        source_id=source_id,
        index=index,
        max_pixels=max_pixels,
        chunk_size=chunk_size,
    )
    plans = {
        task.index: plan
        for (task, _, _), plan in zip(cutouts, planned, strict=True)
        if plan is not None
    }
    if len(plans) < 2 or sum(p.pixels for p in plans.values()) * 8 > MAX_PREFETCH_BYTES:
        return None
    try:
        ahead = prefetch_plans(
            reader, list(plans.values()), cost=cost, tile_tables=tile_tables, index=scanned
        )
    except SkycutError as e:
        if e.error_type == "transient":
            raise
        return None
    return SharedSource(
        reader=ahead,
        index=ahead.index,
        stats=stats,
        first=min(task.index for task, _, _ in cutouts),
        size=len(cutouts),
        plans=plans,
        version=version,
    )
