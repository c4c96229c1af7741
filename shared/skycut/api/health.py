"""Back-end health for VOSI availability."""

from __future__ import annotations

from typing import Any, Protocol

from skycut.config import Settings

__all__ = ["BackEnds", "check_backends"]

_TIMEOUT = 3.0


class BackEnds(Protocol):
    """The Google clients a health check pings, and the settings naming what it pings.

    `skycut.clients.Clients` is one.
    """

    @property
    def settings(self) -> Settings:
        """The settings naming the jobs collection, the job topic and the results bucket."""
        ...

    @property
    def firestore(self) -> Any:
        """The Firestore client."""
        ...

    @property
    def publisher(self) -> Any:
        """The Pub/Sub publisher."""
        ...

    @property
    def storage(self) -> Any:
        """The Cloud Storage client."""
        ...


def check_backends(clients: BackEnds) -> list[str]:
    """Return a note for each back end that cannot be reached (empty if all can)."""
    settings = clients.settings
    notes = []
    try:
        clients.firestore.collection(settings.jobs_collection).document("_health").get(
            timeout=_TIMEOUT
        )
    except Exception as e:
        notes.append(f"Firestore unreachable: {type(e).__name__}")
    try:
        clients.publisher.get_topic(
            request={"topic": f"projects/{settings.project_id}/topics/{settings.job_topic}"},
            timeout=_TIMEOUT,
        )
    except Exception as e:
        notes.append(f"Pub/Sub unreachable: {type(e).__name__}")
    try:
        clients.storage.get_bucket(settings.results_bucket, timeout=_TIMEOUT)
    except Exception as e:
        notes.append(f"Cloud Storage unreachable: {type(e).__name__}")
    return notes
