"""The cutout jobs' lifecycle built from the process's clients.

A composition root, like ``functions/*/main.py``: the API (ABORT, DELETE,
re-timing) and the sweep (destroying expired jobs) build it alike.
"""

from __future__ import annotations

from skycut.clients import Clients
from skycut.jobs.lifecycle import JobLifecycle

__all__ = ["lifecycle_for"]


def lifecycle_for(clients: Clients) -> JobLifecycle:
    """Return ABORT, DELETE, destruction and re-timing of jobs, within the configured limits."""
    settings = clients.settings
    return JobLifecycle(
        store=clients.jobs,
        results=clients.results,
        events=clients.events,
        execution_duration_seconds=settings.execution_duration_seconds,
        destruction_days=settings.destruction_days,
    )
