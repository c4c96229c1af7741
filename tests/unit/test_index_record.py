"""An index entry's stored forms: the document's fields and the packed value lookups read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from skycut.index.metadata import ImageMetadata
from skycut.index.record import (
    PACKED,
    ImageRecord,
    entry_from_document,
    pack_record,
    unpack_record,
)
from skycut.soda.ids import SourceRef
from tests.unit.test_index_store_contract import HERE, image

SOURCE = SourceRef("skycut-sources", "deep/épreuve 7/calexp #3.fits")


def variants() -> list[ImageRecord]:
    base = image(SOURCE, 1_700_000_000_123_456, HERE, metageneration=4)
    sparse = ImageMetadata(dataproduct_type="image", calib_level=0, obs_collection="misc")
    full = ImageMetadata(
        dataproduct_type="cube", calib_level=3, obs_collection="deepcoadd", em_min=5.5e-7,
        em_max=6.9e-7, filter_name="r", t_min=60000.1234567891, t_max=60000.2, t_exptime=30.0,
        pol_states=("I", "Q"), instrument_name='LSSTCam "x"', facility_name="Rubin",
        target_name="NGC 253",
    )  # fmt: skip
    odd_time = datetime(2026, 12, 1, 7, 30, 1, 123456, tzinfo=UTC)
    return [
        base,
        replace(base, extname=None, metadata=sparse, hdu=0),
        replace(base, extname="IMAGE", metadata=full, indexed_at=odd_time, size=2**40 + 3),
    ]


@pytest.mark.parametrize("record", variants())
def test_the_packed_value_rebuilds_the_record_exactly(record: ImageRecord) -> None:
    back = unpack_record(pack_record(record))
    assert back == record
    assert np.array_equal(back.footprint.vertices, record.footprint.vertices)  # bit for bit
    assert back.region == record.region
    assert back.footprint.vertices.flags.aligned


@pytest.mark.parametrize("record", variants())
def test_a_document_with_or_without_the_packed_value_reads_the_same(record: ImageRecord) -> None:
    document = record.to_document()
    assert isinstance(document[PACKED], bytes)
    assert entry_from_document(document) == record
    older = {k: v for k, v in document.items() if k != PACKED}  # written before it existed
    assert entry_from_document(older) == record
