"""``skycut index``'s backfill: the real indexer over a memory index, objects read from disk."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

from skycut.cli.backfill import Applied, BackfillReport, backfill, indexing, write_report
from skycut.cli.index_bucket import list_objects, parse_location
from skycut.cli.main import main
from skycut.cli.progress import TallyLine
from skycut.errors import ServiceUnavailableError
from skycut.index.indexer import Indexer
from skycut.index.memory_index import MemoryImageIndex
from skycut.index.record import ImageRecord
from skycut.soda.ids import SourceRef
from skycut.storage.events import ObjectEvent
from tests.unit.test_index_indexer import BUCKET, Versions, mef


@pytest.fixture
def bucket(versions: Versions) -> list[ObjectEvent]:
    """Five images and a text file, as a listing of the bucket gives them."""
    images = [
        versions.write(f"survey/img-{k}.fits", 10 + k, mef((150.0 + k, 2.0))) for k in range(5)
    ]
    notes = versions.write("survey/notes.txt", 3, b"observing notes\n")
    return [*images[:2], notes, *images[2:]]


def test_backfill_indexes_every_object_and_says_why_some_cannot_be(
    bucket: list[ObjectEvent], indexer: Indexer, index: MemoryImageIndex
) -> None:
    seen: list[tuple[int, int, dict[str, int]]] = []
    report = backfill(
        bucket,
        indexing(indexer, index),
        workers=3,
        progress=lambda done, total, counts: seen.append((done, total, dict(counts))),
    )
    assert (report.total, report.counts["indexed"], report.counts["unindexable"]) == (6, 5, 1)
    assert [uri for uri, _ in report.unindexable] == [f"gs://{BUCKET}/survey/notes.txt"]
    assert "not a FITS file" in report.unindexable[0][1]
    assert report.failed == []
    for event in bucket:
        if event.name.endswith(".fits"):
            entry = index.get(SourceRef(BUCKET, event.name))
            assert isinstance(entry, ImageRecord)
    assert [done for done, _, _ in seen] == [1, 2, 3, 4, 5, 6]
    counts = {"indexed": 5, "unindexable": 1, "current": 0, "superseded": 0, "failed": 0}
    assert seen[-1] == (6, 6, counts)


def test_a_second_run_reads_nothing_and_still_lists_the_unindexable(
    bucket: list[ObjectEvent], indexer: Indexer, index: MemoryImageIndex, versions: Versions
) -> None:
    backfill(bucket, indexing(indexer, index))
    reads = versions.requests
    again = backfill(bucket, indexing(indexer, index))
    assert versions.requests == reads
    assert dict(again.counts) == {"current": 6}
    assert [uri for uri, _ in again.unindexable] == [f"gs://{BUCKET}/survey/notes.txt"]


def test_an_interrupted_backfill_resumes_where_it_stopped(
    bucket: list[ObjectEvent], indexer: Indexer, index: MemoryImageIndex, versions: Versions
) -> None:
    backfill(bucket[:3], indexing(indexer, index))
    reads = versions.requests
    resumed = backfill(bucket, indexing(indexer, index))
    assert (resumed.counts["current"], resumed.counts["indexed"]) == (3, 3)
    assert versions.requests - reads == 3  # one header read per image not yet indexed


def test_an_outage_fails_only_its_objects_and_is_listed(
    bucket: list[ObjectEvent], indexer: Indexer, index: MemoryImageIndex
) -> None:
    apply = indexing(indexer, index)

    def flaky(event: ObjectEvent) -> Applied:
        if event.name.endswith(("img-1.fits", "img-3.fits")):
            raise ServiceUnavailableError("Firestore is unavailable")
        return apply(event)

    report = backfill(bucket, flaky, workers=4)
    assert report.counts["failed"] == 2
    assert report.counts["indexed"] == 3
    assert report.failed == [
        (f"gs://{BUCKET}/survey/img-1.fits", "ServiceUnavailableError: Firestore is unavailable"),
        (f"gs://{BUCKET}/survey/img-3.fits", "ServiceUnavailableError: Firestore is unavailable"),
    ]
    out = io.StringIO()
    write_report(report, f"gs://{BUCKET}/survey/", out)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        f"6 objects under gs://{BUCKET}/survey/: 3 indexed, 1 unindexable, 2 failed"
    )
    assert lines[1] == "not indexable (1):"
    # the reader here names the local file, so its reason is prefixed with the object's URI
    assert lines[2].startswith(f"  gs://{BUCKET}/survey/notes.txt: ")
    assert lines[2].endswith("is not a FITS file")
    assert lines[3] == "failed (2; run again to retry them):"
    assert lines[4] == (
        f"  gs://{BUCKET}/survey/img-1.fits: ServiceUnavailableError: Firestore is unavailable"
    )


def test_a_reason_that_does_not_name_its_object_is_prefixed_with_it() -> None:
    report = BackfillReport(total=1, unindexable=[("gs://b/x.fits", "no celestial WCS")])
    report.counts["current"] = 1
    out = io.StringIO()
    write_report(report, "gs://b/", out)
    assert out.getvalue().splitlines()[1:] == [
        "not indexable (1):",
        "  gs://b/x.fits: no celestial WCS",
    ]


def test_report_of_a_clean_run_is_one_line() -> None:
    report = BackfillReport(total=4)
    report.counts.update({"indexed": 1, "current": 3})
    out = io.StringIO()
    write_report(report, "gs://b/p", out)
    assert out.getvalue() == "4 objects under gs://b/p: 1 indexed, 3 current\n"


def test_listing_becomes_finalize_events_of_live_versions() -> None:
    blobs = [
        SimpleNamespace(name="p/a.fits", generation="17", metageneration="2", size="5760"),
        SimpleNamespace(name="p/b.fits", generation=18, metageneration=None, size=None),
    ]
    calls: list[tuple[str, Any]] = []

    class Storage:
        def list_blobs(self, bucket: str, *, prefix: str | None) -> list[SimpleNamespace]:
            calls.append((bucket, prefix))
            return blobs

    assert list_objects(Storage(), "b", "p/") == [
        ObjectEvent("finalize", "b", "p/a.fits", 17, 2, size=5760),
        ObjectEvent("finalize", "b", "p/b.fits", 18, 1, size=None),
    ]
    list_objects(Storage(), "b", "")
    assert calls == [("b", "p/"), ("b", None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gs://skycut-sources", ("skycut-sources", "")),
        ("gs://skycut-sources/", ("skycut-sources", "")),
        ("gs://skycut-sources/sample/calexp-", ("skycut-sources", "sample/calexp-")),
    ],
)
def test_location_is_a_bucket_and_a_name_prefix(text: str, expected: tuple[str, str]) -> None:
    assert parse_location(text) == expected


@pytest.mark.parametrize("text", ["skycut-sources/sample", "s3://b/p", "gs://", "gs:///p"])
def test_a_location_that_is_not_gs_is_refused(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", text]) == 2
    assert "is not gs://BUCKET or gs://BUCKET/PREFIX" in capsys.readouterr().err


def test_tally_line_shows_counts_and_always_the_end() -> None:
    out = io.StringIO()
    line = TallyLine("index gs://b/p", out, interval=3600)
    line(1, 3, {"indexed": 1, "current": 0})
    line(2, 3, {"indexed": 2, "current": 0})  # too soon after the first: not shown
    line(3, 3, {"indexed": 2, "current": 1})
    bar = "#" * 30
    assert out.getvalue().splitlines() == [
        f"index gs://b/p [{'#' * 10}{'-' * 20}] 1/3 (indexed 1)",
        f"index gs://b/p [{bar}] 3/3 (indexed 2, current 1)",
    ]
