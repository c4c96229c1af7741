"""The image index on Firestore: one document per object, found by its HEALPix cells.

Two collections:

- ``<collection>``: one document per object, keyed by
  :func:`skycut.index.record.document_id`: the entry (footprint, ``s_region``,
  metadata), its version, and its ``cells`` (:mod:`skycut.index.cells`);
- ``<collection>-cells``: the *postings* of the cells images are filed under
  at their own order (the positive ids): document ``<cell>.<shard>`` maps the
  document id of each image filed there to its version
  (``images.<document id> = [generation, metageneration]``).

A lookup of positive cell ids (all a point query asks for: the cell holding
the position at every order of the ladder) is a batch get of those postings
by document id, then a batch get of the entries it names that the process
has not already decoded (:class:`~skycut.index.cache.RecordCache`, keyed by
the version the postings name), only their ``packed`` field (the whole entry
as one value, :func:`skycut.index.record.pack_record`; entries written
before it are read whole). Reads by id cost the same whatever the size
of the index, in Firestore and in its emulator, which answers
``array-contains-any`` by scanning the whole collection (firebase-tools#4129).
Negative ids (a query's cells as ancestors of smaller images: only regions
coarser than the deepest order ask for them) are still looked up with
``array-contains-any`` on ``cells``: an ancestor cell near the top of the
ladder holds a large part of the index, far too many for a document.

Each posting is split over :data:`SHARDS` documents by the image's
document id: a posting document holds ~70 bytes per image, so a cell can
hold ~60,000 images (every epoch of a deep field at one order) within
Firestore's 1 MiB per document, and indexing many epochs of one field at
once spreads its writes over that many documents (Firestore sustains about
one write per second on one document). A point query reads
``SHARDS x 13`` small postings in one call.

Every write is a transaction that reads the object's document, decides with
:func:`skycut.index.store.supersedes`, and writes the document and the
postings of its old and new cells together, so a posting never names a
version other than the stored one for longer than the commit, concurrent
deliveries of events about one object cannot overwrite a newer version
with an older one, and duplicate or late events change nothing. Postings
are written field by field (a merge of the one image's key), without being
read, so images filed in the same cell do not contend for its lock.

Documents written before postings existed (no ``format`` field) count as
absent: ``skycut index`` rewrites them, postings included.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from skycut.errors import ServiceUnavailableError
from skycut.index.cache import DEFAULT_CACHE_ENTRIES, RecordCache
from skycut.index.record import (
    PACKED,
    ImageRecord,
    IndexEntry,
    ObjectStamp,
    document_id,
    entry_from_document,
    unpack_record,
)
from skycut.index.store import ImageIndex, Stored, supersedes
from skycut.soda.ids import SourceRef

__all__ = ["CELLS_SUFFIX", "FORMAT", "SHARDS", "FirestoreImageIndex", "posting"]

CELLS_SUFFIX = "-cells"
"""The postings collection is the entries' collection's name with this suffix."""

SHARDS = 4
"""Posting documents per cell (fixed for an index: queries read every shard)."""

FORMAT = 2
"""The documents' layout: 2 has postings, packed vertices and ``region``."""

_ATTEMPTS = 8


def _stored(data: dict[str, Any] | None) -> Stored | None:
    if not data:
        return None
    if data.get("state") == "indexed" and data.get("format", 1) < FORMAT:
        return None  # an entry without postings: rewritten by the next event or backfill
    stamp = ObjectStamp(int(data["generation"]), int(data.get("metageneration", 1)))
    return Stored(stamp, deleted=data.get("state") == "deleted")


def _posted(data: dict[str, Any] | None) -> set[int]:
    """Return the cells a stored document has postings in."""
    if not data or data.get("state") != "indexed" or data.get("format", 1) < FORMAT:
        return set()
    return {int(c) for c in data.get("cells", ()) if int(c) > 0}


def _shard(key: str) -> int:
    return int(key[:8], 16) % SHARDS


def posting(key: str, stamp: ObjectStamp | None) -> dict[str, Any]:
    """Return the merge that files document ``key``'s version in a posting (`None` unfiles it)."""
    version = firestore.DELETE_FIELD if stamp is None else [stamp.generation, stamp.metageneration]
    return {"images": {key: version}}


class FirestoreImageIndex(ImageIndex):
    """Index entries in one Firestore collection."""

    def __init__(
        self, *, client: Any, collection: str, cache_entries: int = DEFAULT_CACHE_ENTRIES
    ) -> None:
        self._client = client
        self._docs = client.collection(collection)
        self._postings = client.collection(collection + CELLS_SUFFIX)
        self._cache = RecordCache(cache_entries)

    def _posting(self, cell: int, key: str) -> Any:
        return self._postings.document(f"{cell}.{_shard(key)}")

    def stored(self, source: SourceRef) -> Stored | None:
        """Return the version held for an object, if any."""
        return _stored(self._docs.document(document_id(source)).get().to_dict())

    def _write(
        self, source: SourceRef, stamp: ObjectStamp, deletion: bool, document: dict[str, Any]
    ) -> bool:
        key = document_id(source)
        ref = self._docs.document(key)
        cells = {int(c) for c in document.get("cells", ()) if int(c) > 0}

        @firestore.transactional
        def write(transaction: Any) -> bool:
            old = ref.get(transaction=transaction).to_dict()
            if not supersedes(_stored(old), stamp, deletion=deletion):
                return False
            transaction.set(ref, document)
            for cell in sorted(_posted(old) - cells):
                transaction.set(self._posting(cell, key), posting(key, None), merge=True)
            for cell in sorted(cells):
                transaction.set(self._posting(cell, key), posting(key, stamp), merge=True)
            return True

        try:
            return bool(write(self._client.transaction(max_attempts=_ATTEMPTS)))
        except ValueError as e:  # the transaction failed on every attempt
            raise ServiceUnavailableError(f"index entry of {source.uri} kept changing") from e

    def put(self, entry: IndexEntry) -> bool:
        """Store an entry unless a newer version is held; return whether it was stored."""
        return self._write(
            entry.source, entry.stamp, False, {**entry.to_document(), "format": FORMAT}
        )

    def remove(self, source: SourceRef, stamp: ObjectStamp) -> bool:
        """Leave a tombstone of version ``stamp`` unless a newer version is held."""
        tombstone = {
            "state": "deleted",
            "bucket": source.bucket,
            "name": source.name,
            "generation": stamp.generation,
            "metageneration": stamp.metageneration,
        }
        return self._write(source, stamp, True, tombstone)

    def get(self, source: SourceRef) -> IndexEntry | None:
        """Return an object's entry, or `None`."""
        data = self._docs.document(document_id(source)).get().to_dict()
        return None if not data else entry_from_document(data)

    def _records(self, query: Any) -> Iterator[ImageRecord]:
        for snap in query.stream():
            entry = entry_from_document(snap.to_dict())
            if isinstance(entry, ImageRecord):
                yield entry

    def with_cells(self, ids: Sequence[int]) -> Iterator[ImageRecord]:
        """Yield the images filed under any of ``ids`` (at most 30), each once."""
        ancestors = [i for i in ids if i < 0]
        yield from self._posted_records([i for i in ids if i > 0])
        if ancestors:
            query = self._docs.where(filter=FieldFilter("cells", "array_contains_any", ancestors))
            yield from self._records(query)

    def _posted_records(self, cells: Sequence[int]) -> Iterator[ImageRecord]:
        """Yield the images the postings of ``cells`` name, from the cache or read by id."""
        refs = [self._postings.document(f"{c}.{s}") for c in cells for s in range(SHARDS)]
        named: dict[str, ObjectStamp] = {}
        for snap in self._client.get_all(refs) if refs else ():
            images = (snap.to_dict() or {}).get("images") or {}
            for key, (generation, metageneration) in images.items():
                named[key] = ObjectStamp(int(generation), int(metageneration))
        missing = []
        for key, stamp in named.items():
            record = self._cache.get(key, stamp)
            if record is None:
                missing.append(self._docs.document(key))
            else:
                yield record
        unpacked = []  # entries written before the packed form: read whole
        for snap in self._client.get_all(missing, field_paths=[PACKED]) if missing else ():
            packed = (snap.to_dict() or {}).get(PACKED)
            if packed:
                record = unpack_record(packed)
                self._cache.put(snap.id, record)
                yield record
            elif snap.exists:
                unpacked.append(snap.reference)
        for snap in self._client.get_all(unpacked) if unpacked else ():
            entry = entry_from_document(snap.to_dict() or {})
            if isinstance(entry, ImageRecord):  # else deleted since the postings were read
                self._cache.put(snap.id, entry)
                yield entry

    def in_collections(self, names: Sequence[str]) -> Iterator[ImageRecord]:
        """Yield the images of the named collections (at most 30 names)."""
        if not names:
            return iter(())
        field = "metadata.obs_collection"
        return self._records(self._docs.where(filter=FieldFilter(field, "in", list(names))))

    def images(self) -> Iterator[ImageRecord]:
        """Yield every indexed image."""
        return self._records(self._docs.where(filter=FieldFilter("state", "==", "indexed")))
