"""Object events applied to an image index: newest version wins, bad files are recorded once."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skycut.cutout.reader import LocalFileReader, RangeReader
from skycut.errors import ServiceUnavailableError, SourceChangedError
from skycut.index.record import ImageRecord, ObjectStamp, Unindexable
from skycut.index.store import Stored, supersedes
from skycut.soda.ids import SourceRef
from skycut.storage.events import ObjectEvent, object_event
from tests.unit.test_index_footprint import image_header

BUCKET = "skycut-sources"


class Versions:
    """Object versions on local disk, opened as the indexer opens Cloud Storage objects."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.paths: dict[tuple[str, int], Path] = {}
        self.requests = 0
        self.bytes = 0
        self.failure: Exception | None = None

    def write(self, name: str, generation: int, content: bytes | fits.HDUList) -> ObjectEvent:
        path = self.folder / f"{name.replace('/', '_')}.{generation}"
        if isinstance(content, fits.HDUList):
            content.writeto(path)
        else:
            path.write_bytes(content)
        self.paths[(name, generation)] = path
        return ObjectEvent("finalize", BUCKET, name, generation, size=path.stat().st_size)

    def open(self, source: SourceRef, generation: int, size: int | None) -> RangeReader:
        versions = self
        path = self.paths.get((source.name, generation))
        if self.failure is not None:
            raise self.failure

        class Reader(LocalFileReader):
            def size(self) -> int:  # as GcsRangeReader: a size given is not asked for again
                if size is not None:
                    return size
                versions.requests += 1
                return super().size()

            def read_range(self, start: int, stop: int) -> bytes:
                if path is None or not path.exists():
                    raise SourceChangedError(f"{source.uri} generation {generation} is gone")
                versions.requests += 1
                data = super().read_range(start, stop)
                versions.bytes += len(data)
                return data

        return Reader(path or self.folder / "missing")


def mef(crval: tuple[float, float] = (150.0, 2.0), **cards: object) -> fits.HDUList:
    header = image_header(crval, shape=(64, 80))
    header.update(cards)
    data = np.zeros((64, 80), dtype=np.float32)
    return fits.HDUList(
        [
            fits.PrimaryHDU(header=fits.Header({"TELESCOP": "Rubin", "FILTER": "r"})),
            fits.ImageHDU(data, header=header, name="IMAGE"),
            fits.ImageHDU(data.astype(np.int32), header=header, name="MASK"),
        ]
    )


def source(name: str) -> SourceRef:
    return SourceRef(BUCKET, name)


def test_finalize_indexes_the_image_from_one_header_read(indexer, index, versions) -> None:
    event = versions.write("survey/a.fits", 5, mef(OBJECT="COSMOS"))
    assert indexer.handle(event) == "indexed"
    record = index.get(source("survey/a.fits"))
    assert isinstance(record, ImageRecord)
    assert (record.hdu, record.extname, record.stamp) == (1, "IMAGE", ObjectStamp(5))
    assert record.footprint.contains(150.0, 2.0)
    assert not record.footprint.contains(150.0, 2.5)
    assert record.metadata.filter_name == "r"  # inherited from the primary header
    assert record.metadata.facility_name == "Rubin"
    assert record.metadata.target_name == "COSMOS"
    assert record.metadata.obs_collection == "survey"
    assert record.size == event.size
    assert (versions.requests, versions.bytes) == (1, event.size)  # the file is < 64 KiB


def test_large_file_reads_only_its_headers(indexer, index, versions) -> None:
    header = image_header((10.0, -5.0), shape=(400, 500))
    primary = fits.PrimaryHDU(np.ones((400, 500), dtype=np.float64), header=header)
    event = versions.write("big.fits", 1, fits.HDUList([primary]))
    assert indexer.handle(event) == "indexed"
    assert versions.requests == 1  # the size came with the event: no metadata request
    assert versions.bytes == 23 * 2880  # the first chunk, 64 KiB rounded up to whole blocks


def test_repeated_and_older_events_change_nothing(indexer, index, versions) -> None:
    old = versions.write("a.fits", 1, mef((10.0, 0.0)))
    new = versions.write("a.fits", 2, mef((20.0, 0.0)))
    assert indexer.handle(new) == "indexed"
    reads = versions.requests
    assert indexer.handle(new) == "current"
    assert indexer.handle(old) == "current"
    assert versions.requests == reads  # nothing read for versions not newer than the entry
    assert indexer.handle(ObjectEvent("delete", BUCKET, "a.fits", 1)) == "current"
    record = index.get(source("a.fits"))
    assert isinstance(record, ImageRecord)
    assert record.footprint.contains(20.0, 0.0)


def test_deletion_is_not_undone_by_a_late_finalize(indexer, index, versions) -> None:
    first = versions.write("a.fits", 3, mef())
    assert indexer.handle(first) == "indexed"
    assert indexer.handle(ObjectEvent("delete", BUCKET, "a.fits", 3)) == "removed"
    assert index.get(source("a.fits")) is None
    assert indexer.handle(first) == "current"
    assert index.get(source("a.fits")) is None
    assert indexer.handle(versions.write("a.fits", 4, mef())) == "indexed"


def test_metadata_update_of_a_newer_metageneration_reindexes(indexer, index, versions) -> None:
    event = versions.write("a.fits", 3, mef())
    assert indexer.handle(event) == "indexed"
    again = ObjectEvent("metadata", BUCKET, "a.fits", 3, metageneration=2, size=event.size)
    assert indexer.handle(again) == "indexed"
    assert index.stored(source("a.fits")) == Stored(ObjectStamp(3, 2))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a FITS file at all" * 200, "not a FITS file"),
        (fits.HDUList([fits.PrimaryHDU(np.zeros((8, 8)))]), "celestial"),
        (fits.HDUList([fits.PrimaryHDU()]), "no 2-D image"),
        (
            fits.HDUList(
                [fits.PrimaryHDU(np.zeros((8, 8)), header=image_header((1, 1), shape=(8, 8)))]
            ),
            None,
        ),
    ],
    ids=["not-fits", "no-wcs", "no-image", "fine"],
)
def test_unindexable_objects_are_recorded_once(indexer, index, versions, content, reason) -> None:
    event = versions.write("x.fits", 7, content)
    outcome = indexer.handle(event)
    entry = index.get(source("x.fits"))
    if reason is None:
        assert outcome == "indexed"
        return
    assert outcome == "unindexable"
    assert isinstance(entry, Unindexable)
    assert reason in entry.reason
    reads = versions.requests
    assert indexer.handle(event) == "current"  # never retried for the same version
    assert versions.requests == reads


@pytest.mark.parametrize(
    "cards",
    [
        # an orthographic image wider than the hemisphere it can show
        {"CD1_1": -30.0, "CD2_2": 30.0, "CTYPE1": "RA---SIN", "CTYPE2": "DEC--SIN"},
        {"CTYPE1": "RA---XYZ", "CTYPE2": "DEC--XYZ"},
        {"CRVAL2": 123.0},
    ],
    ids=["beyond-its-projection", "unknown-projection", "latitude-beyond-pole"],
)
def test_absurd_wcs_is_unindexable(indexer, index, versions, cards) -> None:
    data = np.zeros((8, 8), dtype=np.float32)
    header = image_header((1.0, 1.0), shape=(8, 8))
    header.update(cards)
    event = versions.write("bad.fits", 1, fits.HDUList([fits.PrimaryHDU(data, header)]))
    assert indexer.handle(event) == "unindexable"
    entry = index.get(source("bad.fits"))
    assert isinstance(entry, Unindexable)
    assert "bad.fits" in entry.reason


def test_malformed_header_is_unindexable(indexer, index, versions) -> None:
    header = fits.Header({"SIMPLE": True, "BITPIX": -32, "NAXIS": 2, "NAXIS1": 8, "NAXIS2": 8})
    card = b"=                    8"
    raw = header.tostring().encode().replace(card, b"=                eight", 1)
    event = versions.write("broken.fits", 1, raw + bytes(2880))
    assert indexer.handle(event) == "unindexable"
    entry = index.get(source("broken.fits"))
    assert isinstance(entry, Unindexable)
    assert "broken.fits" in entry.reason


def test_version_gone_while_read_is_skipped(indexer, index, versions) -> None:
    event = ObjectEvent("finalize", BUCKET, "gone.fits", 9, size=100)
    assert indexer.handle(event) == "superseded"
    assert index.stored(source("gone.fits")) is None


def test_outages_raise_so_the_event_comes_again(indexer, index, versions) -> None:
    event = versions.write("a.fits", 1, mef())
    versions.failure = ServiceUnavailableError("storage unavailable")
    with pytest.raises(ServiceUnavailableError):
        indexer.handle(event)
    assert index.stored(source("a.fits")) is None


def test_other_buckets_are_ignored(indexer, index, versions) -> None:
    event = ObjectEvent("finalize", "skycut-results", "jobs/x/cutout.fits", 1)
    assert indexer.handle(event) == "ignored"
    assert versions.requests == 0


@pytest.mark.parametrize(
    ("stored", "incoming", "deletion", "expected"),
    [
        (None, ObjectStamp(1), False, True),
        (None, ObjectStamp(1), True, True),
        (Stored(ObjectStamp(2)), ObjectStamp(1), False, False),
        (Stored(ObjectStamp(2)), ObjectStamp(2), False, False),
        (Stored(ObjectStamp(2)), ObjectStamp(2, 2), False, True),
        (Stored(ObjectStamp(2)), ObjectStamp(3), False, True),
        (Stored(ObjectStamp(2)), ObjectStamp(1), True, False),
        (Stored(ObjectStamp(2)), ObjectStamp(2), True, True),
        (Stored(ObjectStamp(2), deleted=True), ObjectStamp(2, 5), False, False),
        (Stored(ObjectStamp(2), deleted=True), ObjectStamp(2), True, False),
        (Stored(ObjectStamp(2), deleted=True), ObjectStamp(3), False, True),
    ],
)
def test_which_event_wins(stored, incoming, deletion, expected) -> None:
    assert supersedes(stored, incoming, deletion=deletion) is expected


def notification(kind: str, payload: dict[str, str] | None = None, **attributes: str) -> dict:
    data = base64.b64encode(json.dumps(payload or {}).encode()).decode()
    return {"message": {"attributes": {"eventType": kind, **attributes}, "data": data}}


def test_storage_notifications_become_object_events() -> None:
    data = notification(
        "OBJECT_FINALIZE",
        {"size": "1234", "metageneration": "3"},
        bucketId="b",
        objectId="dir/f.fits",
        objectGeneration="17",
    )
    assert object_event("google.cloud.pubsub.topic.v1.messagePublished", data) == ObjectEvent(
        "finalize", "b", "dir/f.fits", 17, metageneration=3, size=1234
    )
    deleted = notification("OBJECT_DELETE", bucketId="b", objectId="f", objectGeneration="2")
    assert object_event("x", deleted) == ObjectEvent("delete", "b", "f", 2)
    assert object_event("x", notification("OBJECT_FINALIZE", bucketId="b")) is None
    assert object_event("x", notification("SOMETHING", bucketId="b", objectGeneration="1")) is None


def test_eventarc_events_become_object_events() -> None:
    data = {"bucket": "b", "name": "f.fits", "generation": "5", "size": "10"}
    event = object_event("google.cloud.storage.object.v1.archived", data)
    assert event == ObjectEvent("archive", "b", "f.fits", 5, size=10)
    assert object_event("google.cloud.storage.object.v1.finalized", {"bucket": "b"}) is None
    assert object_event("com.example.other", data) is None
