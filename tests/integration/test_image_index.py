"""The image index kept by the real event path: fake-gcs-server → Pub/Sub → image_index."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from google.cloud import firestore, storage

from skycut.index.firestore_index import FirestoreImageIndex
from skycut.index.record import ImageRecord, IndexEntry, Unindexable
from skycut.soda.ids import SourceRef, parse_source_id
from tests.unit.test_index_footprint import image_header

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def index(stack: Any) -> FirestoreImageIndex:
    client = firestore.Client(project=stack.config.project_id)
    return FirestoreImageIndex(client=client, collection=stack.config.images_collection)


@pytest.fixture(scope="module")
def bucket(stack: Any) -> Any:
    return storage.Client(project=stack.config.project_id).bucket(stack.config.sources_bucket)


def fits_bytes(crval: tuple[float, float], **cards: object) -> bytes:
    header = image_header(crval, shape=(50, 60))
    header.update(cards)
    out = io.BytesIO()
    fits.PrimaryHDU(np.zeros((50, 60), dtype=np.float32), header=header).writeto(out)
    return out.getvalue()


def wait_for(
    index: FirestoreImageIndex,
    source: SourceRef,
    until: Callable[[IndexEntry | None], bool],
    timeout: float = 20.0,
) -> IndexEntry | None:
    deadline = time.monotonic() + timeout
    while True:
        entry = index.get(source)
        if until(entry) or time.monotonic() > deadline:
            return entry
        time.sleep(0.1)


def test_sample_survey_is_indexed_through_events(stack: Any, index: FirestoreImageIndex) -> None:
    assert stack.sample is not None
    images = [i for i in stack.sample.ids.values() if i.endswith(".fits")]
    buckets = [stack.config.sources_bucket]
    for image_id in images:
        entry = index.get(parse_source_id(image_id, allowed_buckets=buckets))
        assert isinstance(entry, ImageRecord), image_id
    catalogue = next(i for i in stack.sample.ids.values() if i.endswith(".csv"))
    entry = index.get(parse_source_id(catalogue, allowed_buckets=buckets))
    assert isinstance(entry, Unindexable)
    assert "not a FITS file" in entry.reason


def test_upload_overwrite_and_delete_follow_the_bucket(
    index: FirestoreImageIndex, bucket: Any
) -> None:
    name = f"tests/index-{uuid.uuid4().hex[:8]}.fits"
    source = SourceRef(bucket.name, name)
    blob = bucket.blob(name)
    blob.upload_from_string(fits_bytes((40.0, 10.0), FILTER="g"))
    entry = wait_for(index, source, lambda e: e is not None)
    assert isinstance(entry, ImageRecord)
    assert entry.stamp.generation == blob.generation
    assert entry.footprint.contains(40.0, 10.0)
    assert entry.metadata.filter_name == "g"
    blob.upload_from_string(fits_bytes((41.0, 11.0), FILTER="i"))
    entry = wait_for(
        index, source, lambda e: e is not None and e.stamp.generation == blob.generation
    )
    assert isinstance(entry, ImageRecord)
    assert entry.footprint.contains(41.0, 11.0)
    assert not entry.footprint.contains(40.0, 10.0)
    assert entry.metadata.filter_name == "i"
    blob.delete()
    assert wait_for(index, source, lambda e: e is None) is None
    assert index.stored(source) is not None  # a tombstone keeps late events from reviving it


def test_non_fits_is_recorded_as_unindexable(index: FirestoreImageIndex, bucket: Any) -> None:
    name = f"tests/notes-{uuid.uuid4().hex[:8]}.txt"
    bucket.blob(name).upload_from_string(b"observing notes, not an image\n")
    entry = wait_for(index, SourceRef(bucket.name, name), lambda e: e is not None)
    assert isinstance(entry, Unindexable)
    assert "not a FITS file" in entry.reason
