"""What the index knows of one source object, and its stored form.

One entry per object version it has seen, keyed by the object's bucket
and name (so a re-upload replaces it and a deletion removes it):

- :class:`ImageRecord`: an image HDU with a celestial WCS, its footprint,
  its HEALPix cell ids and its ObsCore-like metadata;
- :class:`Unindexable`: an object that cannot be indexed (not FITS, no
  celestial WCS, an unusable WCS), with the reason, so it is reported and
  never retried for the same version.

Which event is newer is decided by :class:`ObjectStamp` (generation, then
metageneration), never by arrival order.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from skycut.index.cells import footprint_cells
from skycut.index.footprint import Footprint, pack_vertices, unpack_vertices
from skycut.index.metadata import ImageMetadata
from skycut.index.region import region_polygon
from skycut.soda.ids import SourceRef

__all__ = [
    "ImageRecord",
    "IndexEntry",
    "ObjectStamp",
    "Unindexable",
    "document_id",
    "entry_from_document",
    "pack_record",
    "unpack_record",
]

PACKED = "packed"
"""The field holding a whole :class:`ImageRecord` as one value (:func:`pack_record`)."""

EntryState = Literal["indexed", "unindexable", "deleted"]


def document_id(source: SourceRef) -> str:
    """Return the id of an object's entry: a re-upload keeps it, another object never shares it.

    Object names may hold ``/`` and up to 1024 bytes, which Firestore ids
    may not, so the id is a digest of the bucket and name.
    """
    return hashlib.sha256(f"{source.bucket}/{source.name}".encode()).hexdigest()[:40]


@dataclass(frozen=True, order=True, slots=True)
class ObjectStamp:
    """Which version of an object an event or entry is about, ordered newest last.

    Attributes
    ----------
    generation
        The content version (a replacement under the same name increases it).
    metageneration
        The metadata version within one generation.

    """

    generation: int
    metageneration: int = 1


@dataclass(frozen=True, kw_only=True)
class _Entry:
    source: SourceRef
    stamp: ObjectStamp
    indexed_at: datetime

    @property
    def image_id(self) -> str:
        """The object's ``ID``, ``gs://bucket/name``."""
        return self.source.uri

    def _common(self, state: EntryState) -> dict[str, Any]:
        return {
            "state": state,
            "bucket": self.source.bucket,
            "name": self.source.name,
            "generation": self.stamp.generation,
            "metageneration": self.stamp.metageneration,
            "indexed_at": self.indexed_at,
        }


@dataclass(frozen=True, kw_only=True)
class ImageRecord(_Entry):
    """An indexed image: where it is, where it lies on the sky, what it shows.

    Attributes
    ----------
    source, stamp
        The object and the version described.
    hdu, extname
        The image HDU's position in the file and its ``EXTNAME``.
    size
        The object's size in bytes.
    footprint
        Its outline on the sky.
    metadata
        Its band, time, collection and the other ObsCore-like facts.
    region
        ObsCore's ``s_region`` as DALI writes it, ``ra1 dec1 ra2 dec2 ...``: a
        polygon of at most 100 vertices holding the footprint
        (:func:`skycut.index.region.region_polygon`), computed from the
        footprint when not given, so once per indexed version rather than once
        per query that returns it.
    indexed_at
        When the entry was written.

    """

    hdu: int
    extname: str | None
    size: int
    footprint: Footprint
    metadata: ImageMetadata
    region: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.region:
            flat = tuple(c for vertex in region_polygon(self.footprint) for c in vertex)
            object.__setattr__(self, "region", flat)

    @cached_property
    def cells(self) -> list[int]:
        """The HEALPix ids this image is filed under (see :mod:`skycut.index.cells`)."""
        return footprint_cells(self.footprint).index_ids()

    def to_document(self) -> dict[str, Any]:
        """Render as a Firestore document (``cells`` is what queries look up)."""
        return {
            **self._common("indexed"),
            "hdu": self.hdu,
            "extname": self.extname,
            "size": self.size,
            "cells": self.cells,
            "footprint": self.footprint.to_dict(),
            "region": pack_vertices(self.region),
            "metadata": self.metadata.to_dict(),
            PACKED: pack_record(self),
        }


@dataclass(frozen=True, kw_only=True)
class Unindexable(_Entry):
    """An object version that cannot be indexed, and why."""

    reason: str

    def to_document(self) -> dict[str, Any]:
        """Render as a Firestore document (no ``cells``: no query finds it)."""
        return {**self._common("unindexable"), "reason": self.reason}


IndexEntry = ImageRecord | Unindexable

_METADATA_FIELDS = {f.name for f in fields(ImageMetadata)}


def _metadata(data: Mapping[str, Any]) -> ImageMetadata:
    values = {k: v for k, v in data.items() if k in _METADATA_FIELDS}
    values["pol_states"] = tuple(values.get("pol_states") or ())
    return ImageMetadata(**values)


def entry_from_document(data: Mapping[str, Any]) -> IndexEntry | None:
    """Rebuild an entry from its document; `None` for a deletion's tombstone."""
    state = data.get("state")
    if state not in ("indexed", "unindexable"):
        return None
    common = {
        "source": SourceRef(bucket=data["bucket"], name=data["name"]),
        "stamp": ObjectStamp(int(data["generation"]), int(data.get("metageneration", 1))),
        "indexed_at": data["indexed_at"],
    }
    if state == "indexed" and data.get(PACKED):
        return unpack_record(data[PACKED])
    if state == "indexed":  # written before the packed form
        return ImageRecord(
            **common,
            hdu=int(data["hdu"]),
            extname=data.get("extname"),
            size=int(data["size"]),
            footprint=Footprint.from_dict(data["footprint"]),
            metadata=_metadata(data["metadata"]),
            # entries written before s_region was stored get it computed
            region=tuple(unpack_vertices(data["region"]).ravel().tolist())
            if data.get("region")
            else (),
        )
    return Unindexable(**common, reason=str(data["reason"]))


_LENGTH = struct.Struct("<I")
_DOUBLE = 8


def pack_record(record: ImageRecord) -> bytes:
    """Return the whole record as one bytes value, which decodes several times faster.

    A Firestore client and its emulator spend most of a batch get of entries
    on their ~40 fields (the emulator too: a batch get of 430 entries took
    150-190 ms whole and 50-76 ms as this one field); a point lookup reads
    only this field. Layout: the length of a JSON object (4 bytes, little
    endian), the JSON (every attribute but the vertices, padded with spaces
    to a multiple of 8 bytes), then the footprint's vertices and the region
    as little-endian doubles. JSON writes floats exactly (their ``repr``).
    """
    footprint = record.footprint.to_dict()
    vertices: bytes = footprint.pop("vertices")
    head = {
        "bucket": record.source.bucket,
        "name": record.source.name,
        "stamp": [record.stamp.generation, record.stamp.metageneration],
        "indexed_at": record.indexed_at.isoformat(),
        "hdu": record.hdu,
        "extname": record.extname,
        "size": record.size,
        "footprint": footprint,
        "vertices": len(vertices) // _DOUBLE,
        "metadata": record.metadata.to_dict(),
    }
    text = json.dumps(head, separators=(",", ":")).encode()
    text += b" " * (-(len(text) + _LENGTH.size) % _DOUBLE)
    return _LENGTH.pack(len(text)) + text + vertices + pack_vertices(record.region)


def unpack_record(packed: bytes) -> ImageRecord:
    """Rebuild the record :func:`pack_record` packed."""
    (length,) = _LENGTH.unpack_from(packed)
    start = _LENGTH.size + length
    head = json.loads(packed[_LENGTH.size : start])
    end = start + _DOUBLE * head["vertices"]
    generation, metageneration = head["stamp"]
    return ImageRecord(
        source=SourceRef(bucket=head["bucket"], name=head["name"]),
        stamp=ObjectStamp(int(generation), int(metageneration)),
        indexed_at=datetime.fromisoformat(head["indexed_at"]),
        hdu=int(head["hdu"]),
        extname=head["extname"],
        size=int(head["size"]),
        footprint=Footprint.from_dict({**head["footprint"], "vertices": packed[start:end]}),
        metadata=_metadata(head["metadata"]),
        region=tuple(unpack_vertices(packed[end:]).ravel().tolist()),
    )
