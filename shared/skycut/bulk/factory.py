"""Bulk submission built from the process's clients.

A composition root, like ``functions/*/main.py``: each service gets its share
of `skycut.clients.Clients`, and only what it uses (the errors report needs
``write`` of the results bucket, nothing else of it).
"""

from __future__ import annotations

from skycut.bulk.dropfiles import DropFiles
from skycut.bulk.submit import BulkSubmitter
from skycut.clients import Clients
from skycut.sia.factory import covering_for

__all__ = ["drop_files_for", "submitter_for"]


def drop_files_for(clients: Clients) -> DropFiles:
    """Return the reader of drop files, within the configured limits."""
    settings = clients.settings
    return DropFiles(
        storage=clients.storage,
        max_bytes=settings.max_bulk_bytes,
        max_rows=settings.max_bulk_rows,
        source_buckets=settings.source_buckets,
        results_bucket=settings.results_bucket,
    )


def submitter_for(clients: Clients) -> BulkSubmitter:
    """Return the submitter of bulk jobs (its clients are built now)."""
    settings = clients.settings
    return BulkSubmitter(
        store=clients.jobs,
        events=clients.events,
        queue=clients.queue,
        quote=clients.service_state.quote,
        drops=drop_files_for(clients),
        write_result=clients.results.write,
        results_bucket=settings.results_bucket,
        drop_bucket=settings.drop_bucket,
        destruction_days=settings.destruction_days,
        covering=covering_for(clients),
        status=clients.service_state.status,
    )
