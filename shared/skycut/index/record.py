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
]

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
    if state == "indexed":
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
