"""The worker and the sweep built from the process's clients.

A composition root, like ``functions/*/main.py``: each service gets its share
of `skycut.clients.Clients`. Building them builds the clients they use.
"""

from __future__ import annotations

from skycut.bulk.factory import drop_files_for
from skycut.clients import Clients
from skycut.jobs.completion import JobCompletion
from skycut.jobs.lifecycle import JobLifecycle
from skycut.mosaic.job.queue import MosaicQueue
from skycut.mosaic.job.recovery import MosaicRecovery
from skycut.storage.gcs import GcsRangeReader
from skycut.worker.cutter import Cutter
from skycut.worker.finalize import Finalizer
from skycut.worker.run import Worker
from skycut.worker.sweep import Sweeper

__all__ = ["sweeper_for", "worker_for"]


def _ending(clients: Clients) -> tuple[Finalizer, JobCompletion]:
    """Return what ends a job: its outputs and announcement, and the end written once."""
    finalizer = Finalizer(store=clients.jobs, events=clients.events, results=clients.results)
    completion = JobCompletion(store=clients.jobs, events=clients.events, prepare=finalizer.prepare)
    return finalizer, completion


def worker_for(clients: Clients) -> Worker:
    """Return a worker that reads its sources from Cloud Storage."""
    settings = clients.settings
    finalizer, completion = _ending(clients)
    return Worker(
        store=clients.jobs,
        events=clients.events,
        results=clients.results,
        cutter=Cutter.from_settings(
            settings,
            lambda source, generation: GcsRangeReader(
                client=clients.storage, source=source, generation=generation
            ),
        ),
        completion=completion,
        finalizer=finalizer,
        service_state=clients.service_state,
        concurrency=settings.cutout_concurrency,
    )


def sweeper_for(clients: Clients) -> Sweeper:
    """Return a sweep over the jobs of ``clients``."""
    settings = clients.settings
    finalizer, completion = _ending(clients)
    return Sweeper(
        store=clients.jobs,
        events=clients.events,
        queue=clients.queue,
        completion=completion,
        finalizer=finalizer,
        bulk_tasks=drop_files_for(clients).tasks_of,
        lease_seconds=settings.job_lease_seconds,
        max_recoveries=settings.max_job_recoveries,
        destroy=JobLifecycle(
            store=clients.jobs,
            results=clients.results,
            events=clients.events,
            execution_duration_seconds=settings.execution_duration_seconds,
            destruction_days=settings.destruction_days,
        ).destroy,
        mosaic_recover=MosaicRecovery(
            store=clients.jobs,
            queue=MosaicQueue(
                publisher=clients.publisher,
                topic_path=f"projects/{settings.project_id}/topics/{settings.mosaic_topic}",
                units_per_message=settings.mosaic_units_per_message,
            ),
        ).recover,
    )
