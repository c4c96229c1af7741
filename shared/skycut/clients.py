"""The one place Google clients are built; everything else receives them.

Only the composition roots use `Clients`: the function entry points
(``functions/*/main.py``) and the factories they call (`skycut.api.factory`,
`skycut.worker.factory`, `skycut.bulk.factory`), which give each service the
store, queue, writer or client it uses. Every property is built on first use,
so building the factory talks to no back end.

Emulators are picked up by the client libraries themselves from
``PUBSUB_EMULATOR_HOST``, ``FIRESTORE_EMULATOR_HOST`` and
``STORAGE_EMULATOR_HOST``; nothing here knows about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from skycut.config import Settings
from skycut.jobs.events import JobEvents
from skycut.jobs.firestore_store import FirestoreJobStore
from skycut.jobs.queue import JobQueue
from skycut.jobs.service_state import ServiceState
from skycut.storage.gcs import DownloadLinks, ResultWriter, UrlSigner

__all__ = ["Clients"]


@dataclass
class Clients:
    """Lazily built clients and services for one process."""

    settings: Settings

    @cached_property
    def firestore(self) -> Any:
        """The Firestore client."""
        from google.cloud import firestore

        return firestore.Client(project=self.settings.project_id)

    @cached_property
    def publisher(self) -> Any:
        """The Pub/Sub publisher, batching messages client-side."""
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        return pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=100, max_latency=0.002)
        )

    @cached_property
    def storage(self) -> Any:
        """The Cloud Storage client."""
        from google.cloud import storage  # type: ignore[attr-defined]

        return storage.Client(project=self.settings.project_id)

    @cached_property
    def jobs(self) -> FirestoreJobStore:
        """The job store (on Firestore)."""
        return FirestoreJobStore(client=self.firestore, collection=self.settings.jobs_collection)

    @cached_property
    def events(self) -> JobEvents:
        """Announcements of jobs' ends on the job-events topic."""
        settings = self.settings
        return JobEvents(
            store=self.jobs,
            publisher=self.publisher,
            topic_path=f"projects/{settings.project_id}/topics/{settings.job_events_topic}",
            public_base_url=settings.public_base_url,
        )

    @cached_property
    def queue(self) -> JobQueue:
        """The job message queue."""
        return JobQueue(
            publisher=self.publisher,
            topic_path=f"projects/{self.settings.project_id}/topics/{self.settings.job_topic}",
            tasks_per_message=self.settings.tasks_per_message,
        )

    @cached_property
    def service_state(self) -> ServiceState:
        """The drain switch and throughput documents."""
        return ServiceState(client=self.firestore, collection=self.settings.service_collection)

    @cached_property
    def results(self) -> ResultWriter:
        """The results bucket: writes, reads and deletes of result objects."""
        return ResultWriter(client=self.storage, bucket=self.settings.results_bucket)

    @cached_property
    def links(self) -> DownloadLinks:
        """Download URLs of results and sources (signed unless a public base URL is set)."""
        return DownloadLinks(
            client=self.storage,
            results_bucket=self.settings.results_bucket,
            public_base_url=self.settings.results_public_base_url,
            signed_url_seconds=self.settings.signed_url_seconds,
            signer=(
                UrlSigner(service_account_email=self.settings.signing_service_account)
                if self.settings.signing_service_account
                else None
            ),
        )
