"""Finding covering images, built from the process's clients (a composition root)."""

from __future__ import annotations

from collections.abc import Callable

from skycut.clients import Clients
from skycut.index.factory import image_index_for
from skycut.index.store import ImageIndex
from skycut.sia.covering import CoveringImages

__all__ = ["covering_for"]


def covering_for(
    clients: Clients, *, index: Callable[[], ImageIndex] | None = None
) -> CoveringImages:
    """Return the finder of the images covering a position; no client is built before a lookup.

    ``index`` gives the process's image index if it has one already (the API's
    SIA route), so both keep one set of decoded entries.
    """
    settings = clients.settings
    return CoveringImages(
        index or (lambda: image_index_for(clients)),
        source_buckets=settings.source_buckets,
        limit=settings.max_images_per_position,
    )
