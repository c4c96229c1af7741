"""The image index and its indexer, built from the process's clients (a composition root).

The ``image_index`` function, ``skycut index`` and the API each used to
build these on their own; they now share these two functions, so the
collection, the filter table, the collection rules and the first read's
size come from one place.
"""

from __future__ import annotations

from collections.abc import Collection

from skycut.clients import Clients
from skycut.index.firestore_index import FirestoreImageIndex
from skycut.index.indexer import Indexer, metadata_config
from skycut.index.store import ImageIndex
from skycut.soda.ids import SourceRef
from skycut.storage.gcs import GcsRangeReader

__all__ = ["image_index_for", "indexer_for"]


def image_index_for(clients: Clients) -> FirestoreImageIndex:
    """Return the image index of the settings' collection (this builds the Firestore client)."""
    return FirestoreImageIndex(
        client=clients.firestore, collection=clients.settings.images_collection
    )


def indexer_for(
    clients: Clients, *, index: ImageIndex, buckets: Collection[str] | None = None
) -> Indexer:
    """Return the indexer that applies object events to ``index``.

    Parameters
    ----------
    clients
        The process's clients (Cloud Storage reads each object version).
    index
        Where entries are stored (usually :func:`image_index_for`'s).
    buckets
        The buckets whose events it applies; the settings' sources buckets
        if not given.

    """
    settings = clients.settings

    def open_reader(source: SourceRef, generation: int, size: int | None) -> GcsRangeReader:
        return GcsRangeReader(
            client=clients.storage, source=source, generation=generation, size=size
        )

    return Indexer(
        index=index,
        open_reader=open_reader,
        buckets=frozenset(settings.source_buckets if buckets is None else buckets),
        config=metadata_config(settings.filters, settings.collections),
        chunk_size=settings.index_chunk_bytes,
    )
