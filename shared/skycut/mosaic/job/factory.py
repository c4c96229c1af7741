"""The mosaic job's services built from the process's clients (a composition root).

The API builds `jobs_for` and `lifecycle_for`; the ``mosaic_worker``
function builds `worker_for`. Each gets its share of `skycut.clients.Clients`.
"""

from __future__ import annotations

from collections.abc import Callable

from skycut.clients import Clients
from skycut.mosaic.job.lifecycle import MosaicLifecycle
from skycut.mosaic.job.planning import MosaicPlanner
from skycut.mosaic.job.queue import MosaicQueue
from skycut.mosaic.job.runner import MosaicWorker
from skycut.mosaic.job.scratch import JobObjects
from skycut.mosaic.job.service import MosaicJobs
from skycut.mosaic.job.stages import InputCache
from skycut.mosaic.service import ImageFinder
from skycut.storage.gcs import GcsRangeReader

__all__ = ["jobs_for", "lifecycle_for", "objects_for", "queue_for", "worker_for"]


def queue_for(clients: Clients) -> MosaicQueue:
    """Return the publisher of mosaic stages."""
    settings = clients.settings
    return MosaicQueue(
        publisher=clients.publisher,
        topic_path=f"projects/{settings.project_id}/topics/{settings.mosaic_topic}",
        units_per_message=settings.mosaic_units_per_message,
    )


def objects_for(clients: Clients) -> JobObjects:
    """Return the mosaic jobs' objects in the results bucket."""
    return JobObjects(client=clients.storage, bucket=clients.settings.results_bucket)


def jobs_for(clients: Clients, *, finder: Callable[[], ImageFinder]) -> MosaicJobs:
    """Return the API's mosaic job service; ``finder`` finds indexed images."""
    settings = clients.settings
    return MosaicJobs(
        store=clients.jobs,
        queue=queue_for(clients),
        events=clients.events,
        planner=MosaicPlanner(
            finder=finder,
            open_source=lambda source: GcsRangeReader(client=clients.storage, source=source),
            header_chunk_bytes=settings.header_chunk_bytes,
            max_inputs=settings.mosaic_max_inputs,
            tile_size=settings.mosaic_tile_size,
        ),
        service_state=clients.service_state,
        execution_duration_seconds=settings.execution_duration_seconds,
        destruction_days=settings.destruction_days,
    )


def lifecycle_for(clients: Clients) -> MosaicLifecycle:
    """Return ABORT, DELETE and re-timing of mosaic jobs."""
    settings = clients.settings
    return MosaicLifecycle(
        objects=objects_for(clients),
        store=clients.jobs,
        results=clients.results,
        events=clients.events,
        execution_duration_seconds=settings.execution_duration_seconds,
        destruction_days=settings.destruction_days,
    )


def worker_for(clients: Clients) -> MosaicWorker:
    """Return the worker of the mosaic topic, reading sources from Cloud Storage."""
    settings = clients.settings
    return MosaicWorker(
        store=clients.jobs,
        events=clients.events,
        queue=queue_for(clients),
        objects=objects_for(clients),
        inputs=InputCache(
            open_source=lambda source, generation: GcsRangeReader(
                client=clients.storage, source=source, generation=generation
            ),
            header_chunk_bytes=settings.header_chunk_bytes,
        ),
        read_cost=settings.read_cost(),
    )
