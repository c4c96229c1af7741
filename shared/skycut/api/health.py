"""Back-end health for VOSI availability."""

from __future__ import annotations

from skycut.clients import Clients

__all__ = ["check_backends"]

_TIMEOUT = 3.0


def check_backends(clients: Clients) -> list[str]:
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
