"""Finding covering images, built from the process's clients (a composition root)."""

from __future__ import annotations

from skycut.clients import Clients
from skycut.index.factory import image_index_for
from skycut.sia.covering import CoveringImages

__all__ = ["covering_for"]


def covering_for(clients: Clients) -> CoveringImages:
    """Return the finder of the images covering a position; no client is built before a lookup."""
    settings = clients.settings
    return CoveringImages(
        lambda: image_index_for(clients),
        source_buckets=settings.source_buckets,
        limit=settings.max_images_per_position,
    )
