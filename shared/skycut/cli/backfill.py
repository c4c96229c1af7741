"""Objects already in a bucket run through the indexer in a thread pool, each outcome counted.

Each object is offered to the indexer as the finalize event of its live
version, as the image_index function receives it. The indexer reads
nothing for a version whose entry is already stored ("current"), so running
a backfill again after an interruption reads only what is missing. An
object whose indexing raises (an outage of Storage or Firestore) is listed
as failed and the others go on.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from skycut.storage.events import ObjectEvent

if TYPE_CHECKING:
    from skycut.index.indexer import Indexer, Outcome
    from skycut.index.store import ImageIndex

__all__ = ["OUTCOMES", "Applied", "BackfillReport", "backfill", "indexing", "write_report"]

OUTCOMES: tuple[str, ...] = ("indexed", "unindexable", "current", "superseded", "failed")
"""The counts shown, in this order (``removed`` and ``ignored`` cannot come from a listing)."""

Apply = Callable[[ObjectEvent], "Applied"]
Progress = Callable[[int, int, Mapping[str, int]], None]


@dataclass(frozen=True, slots=True)
class Applied:
    """What indexing one object did.

    Attributes
    ----------
    outcome
        The indexer's outcome.
    reason
        Why the object cannot be indexed, if its entry (new or kept) says so.

    """

    outcome: Outcome
    reason: str | None = None


@dataclass
class BackfillReport:
    """What a backfill did.

    Attributes
    ----------
    total
        Objects listed.
    counts
        Objects per outcome (``failed``: indexing raised).
    unindexable
        ``(gs:// URI, reason)`` of every object that cannot be indexed,
        recorded by this run or an earlier one.
    failed
        ``(gs:// URI, error)`` of every object indexing raised on.

    """

    total: int
    counts: Counter[str] = field(default_factory=Counter)
    unindexable: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Objects finished, whatever their outcome."""
        return sum(self.counts.values())


def indexing(indexer: Indexer, index: ImageIndex) -> Apply:
    """Return what indexes one object: the indexer's outcome, and why it cannot be indexed.

    The reason is read from the object's entry whether this run or an earlier
    one recorded it (one more read of the entry for an unindexable or
    current object), so a backfill run again still lists every object that
    cannot be indexed.
    """
    from skycut.index.record import Unindexable
    from skycut.soda.ids import SourceRef

    def apply(event: ObjectEvent) -> Applied:
        outcome = indexer.handle(event)
        if outcome not in ("unindexable", "current"):
            return Applied(outcome)
        entry = index.get(SourceRef(bucket=event.bucket, name=event.name))
        return Applied(outcome, entry.reason if isinstance(entry, Unindexable) else None)

    return apply


def backfill(
    objects: Sequence[ObjectEvent],
    apply: Apply,
    *,
    workers: int = 8,
    progress: Progress | None = None,
) -> BackfillReport:
    """Apply every object's event with ``workers`` threads.

    Parameters
    ----------
    objects
        The objects' events.
    apply
        Indexes one object (the indexer's ``handle``, and the reason of an
        unindexable entry).
    workers
        Objects indexed at once.
    progress
        Called with (done, total, counts in :data:`OUTCOMES` order) after each object.

    Returns
    -------
    BackfillReport
        The counts, the unindexable objects and the failures, in listing order.

    """
    report = BackfillReport(total=len(objects))
    lock = threading.Lock()

    def one(event: ObjectEvent) -> None:
        uri = f"gs://{event.bucket}/{event.name}"
        try:
            applied = apply(event)
        except Exception as e:  # an outage: list it, index the rest
            with lock:
                report.counts["failed"] += 1
                report.failed.append((uri, f"{type(e).__name__}: {e}"))
        else:
            with lock:
                report.counts[applied.outcome] += 1
                if applied.reason is not None:
                    report.unindexable.append((uri, applied.reason))
        if progress is not None:
            with lock:
                progress(report.done, report.total, {n: report.counts[n] for n in OUTCOMES})

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill") as pool:
        for future in as_completed([pool.submit(one, event) for event in objects]):
            future.result()
    rank = {f"gs://{e.bucket}/{e.name}": k for k, e in enumerate(objects)}
    report.unindexable.sort(key=lambda item: rank[item[0]])
    report.failed.sort(key=lambda item: rank[item[0]])
    return report


def _explained(uri: str, reason: str) -> str:
    # the indexer's reasons usually start with the object's URI already
    return reason if reason.startswith(uri) else f"{uri}: {reason}"


def write_report(report: BackfillReport, where: str, out: TextIO) -> None:
    """Print the counts, the unindexable objects and their reasons, and the failures."""
    counts = ", ".join(f"{report.counts[n]} {n}" for n in OUTCOMES if report.counts[n])
    noun = "object" if report.total == 1 else "objects"
    out.write(f"{report.total} {noun} under {where}" + (f": {counts}" if counts else "") + "\n")
    if report.unindexable:
        out.write(f"not indexable ({len(report.unindexable)}):\n")
        out.writelines(f"  {_explained(uri, reason)}\n" for uri, reason in report.unindexable)
    if report.counts["superseded"]:
        out.write(
            f"{report.counts['superseded']} replaced while read: their new versions are "
            "indexed by their own object events, or by running this again\n"
        )
    if report.failed:
        out.write(f"failed ({len(report.failed)}; run again to retry them):\n")
        out.writelines(f"  {uri}: {error}\n" for uri, error in report.failed)
