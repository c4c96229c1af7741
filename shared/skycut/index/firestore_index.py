"""The image index on Firestore: one document per object, found by its HEALPix cells.

Documents are keyed by :func:`skycut.index.record.document_id`; an
indexed image's ``cells`` array is what ``array-contains-any`` queries
look up (Firestore indexes array members by default, so no composite
index is needed). Every write is a transaction deciding with
:func:`skycut.index.store.supersedes`, so concurrent deliveries of events
about one object cannot overwrite a newer version with an older one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from skycut.errors import ServiceUnavailableError
from skycut.index.record import (
    ImageRecord,
    IndexEntry,
    ObjectStamp,
    document_id,
    entry_from_document,
)
from skycut.index.store import ImageIndex, Stored, supersedes
from skycut.soda.ids import SourceRef

__all__ = ["FirestoreImageIndex"]

_ATTEMPTS = 8


def _stored(data: dict[str, Any] | None) -> Stored | None:
    if not data:
        return None
    stamp = ObjectStamp(int(data["generation"]), int(data.get("metageneration", 1)))
    return Stored(stamp, deleted=data.get("state") == "deleted")


class FirestoreImageIndex(ImageIndex):
    """Index entries in one Firestore collection."""

    def __init__(self, *, client: Any, collection: str) -> None:
        self._client = client
        self._docs = client.collection(collection)

    def stored(self, source: SourceRef) -> Stored | None:
        """Return the version held for an object, if any."""
        return _stored(self._docs.document(document_id(source)).get().to_dict())

    def _write(
        self, source: SourceRef, stamp: ObjectStamp, deletion: bool, document: dict[str, Any]
    ) -> bool:
        ref = self._docs.document(document_id(source))

        @firestore.transactional
        def write(transaction: Any) -> bool:
            snap = ref.get(transaction=transaction)
            if not supersedes(_stored(snap.to_dict()), stamp, deletion=deletion):
                return False
            transaction.set(ref, document)
            return True

        try:
            return bool(write(self._client.transaction(max_attempts=_ATTEMPTS)))
        except ValueError as e:  # the transaction failed on every attempt
            raise ServiceUnavailableError(f"index entry of {source.uri} kept changing") from e

    def put(self, entry: IndexEntry) -> bool:
        """Store an entry unless a newer version is held; return whether it was stored."""
        return self._write(entry.source, entry.stamp, False, entry.to_document())

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
        if not ids:
            return iter(())
        query = self._docs.where(filter=FieldFilter("cells", "array_contains_any", list(ids)))
        return self._records(query)

    def in_collections(self, names: Sequence[str]) -> Iterator[ImageRecord]:
        """Yield the images of the named collections (at most 30 names)."""
        if not names:
            return iter(())
        field = "metadata.obs_collection"
        return self._records(self._docs.where(filter=FieldFilter(field, "in", list(names))))

    def images(self) -> Iterator[ImageRecord]:
        """Yield every indexed image."""
        return self._records(self._docs.where(filter=FieldFilter("state", "==", "indexed")))
