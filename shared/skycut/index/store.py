"""The image index's storage interface, and which event wins.

Events about one object arrive late, twice, or out of order (a deletion
of generation 1 after the finalize of generation 2 that replaced it).
:func:`supersedes` decides from the versions alone, so every store
applies them the same way and the stored entry always describes the
newest version any event has told of:

- an entry is replaced only by one of a newer version (generation, then
  metageneration);
- a deletion of generation ``g`` removes any entry of ``g`` or older and
  leaves a tombstone, so a late or repeated finalize of ``g`` does not
  bring the deleted object back; only a newer generation does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from skycut.index.record import ImageRecord, IndexEntry, ObjectStamp
from skycut.soda.ids import SourceRef

__all__ = ["ImageIndex", "Stored", "supersedes"]


@dataclass(frozen=True, slots=True)
class Stored:
    """What an index holds for an object: its version, and whether it was deleted."""

    stamp: ObjectStamp
    deleted: bool = False


def supersedes(stored: Stored | None, incoming: ObjectStamp, *, deletion: bool) -> bool:
    """Whether an event about version ``incoming`` changes what is stored.

    Parameters
    ----------
    stored
        The object's stored entry or tombstone, or `None`.
    incoming
        The version the event is about.
    deletion
        Whether the event removes that version.

    """
    if stored is None:
        return True
    if deletion:
        return incoming.generation > stored.stamp.generation or (
            incoming.generation == stored.stamp.generation and not stored.deleted
        )
    if stored.deleted:
        return incoming.generation > stored.stamp.generation
    return incoming > stored.stamp


class ImageIndex(ABC):
    """Index entries by object, and the lookups the searches make."""

    @abstractmethod
    def stored(self, source: SourceRef) -> Stored | None:
        """Return the version held for an object, if any."""

    def wants(self, source: SourceRef, stamp: ObjectStamp) -> bool:
        """Whether an entry for version ``stamp`` would be kept (read nothing if not)."""
        return supersedes(self.stored(source), stamp, deletion=False)

    @abstractmethod
    def put(self, entry: IndexEntry) -> bool:
        """Store an entry unless a newer version is held; return whether it was stored."""

    @abstractmethod
    def remove(self, source: SourceRef, stamp: ObjectStamp) -> bool:
        """Remove an object's version ``stamp`` (and older); return whether anything changed."""

    @abstractmethod
    def get(self, source: SourceRef) -> IndexEntry | None:
        """Return an object's entry, or `None` if it has none (or was deleted)."""

    @abstractmethod
    def with_cells(self, ids: Sequence[int]) -> Iterator[ImageRecord]:
        """Yield the images filed under any of ``ids`` (at most 30), each once."""

    @abstractmethod
    def in_collections(self, names: Sequence[str]) -> Iterator[ImageRecord]:
        """Yield the images of the named collections (at most 30 names)."""

    @abstractmethod
    def images(self) -> Iterator[ImageRecord]:
        """Yield every indexed image."""

    def get_many(self, sources: Iterable[SourceRef]) -> Iterator[ImageRecord]:
        """Yield the indexed images among ``sources``."""
        for source in sources:
            entry = self.get(source)
            if isinstance(entry, ImageRecord):
                yield entry
