"""Building the SODA API from the process's clients: the API's one composition root.

The handlers and services of `skycut.api` take what they use as arguments;
this module hands each of them its share of `skycut.clients.Clients`. Every
service is built on first use, so a request that needs no back end
(capabilities, a refused parameter) builds no Google client.
"""

from __future__ import annotations

from functools import cached_property

from skycut.api.app import SUPPORTED_PARAMETERS, SodaApi
from skycut.api.check_route import CheckRoute
from skycut.api.health import check_backends
from skycut.api.links import LinksRoute
from skycut.api.mosaic_jobs_route import MosaicJobRoutes
from skycut.api.mosaic_route import MosaicRoute
from skycut.api.service import SodaService
from skycut.api.sia_route import SiaRoute
from skycut.api.ui_route import UiRoute, page_limits
from skycut.api.uws_routes import UwsRoutes
from skycut.bulk.factory import drop_files_for, submitter_for
from skycut.bulk.submit import BulkSubmitter
from skycut.bulk.upload import BulkUpload, store_bulk_upload
from skycut.clients import Clients
from skycut.errors import UsageError
from skycut.index.bands import filter_table
from skycut.index.factory import image_index_for
from skycut.index.firestore_index import FirestoreImageIndex
from skycut.jobs.lifecycle import JobLifecycle
from skycut.mosaic.job.factory import jobs_for, lifecycle_for
from skycut.mosaic.job.lifecycle import MosaicLifecycle
from skycut.mosaic.job.service import MosaicJobs
from skycut.mosaic.service import MosaicService
from skycut.sia.covering import CoveringImages
from skycut.sia.factory import covering_for
from skycut.soda.ids import SourceRef
from skycut.storage.gcs import GcsRangeReader

__all__ = ["ApiFactory"]


class ApiFactory:
    """Builds the SODA API over ``clients``, and each service it uses on first use."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients
        self._settings = clients.settings

    def api(self) -> SodaApi:
        """Return the API; nothing in it has built a client yet."""
        settings = self._settings
        return SodaApi(
            settings=settings,
            service=lambda: self.service,
            uws=UwsRoutes(
                settings=settings,
                service=lambda: self.service,
                lifecycle=lambda: self.lifecycle,
                result_url=self._result_url,
                upload=self._upload,
            ),
            links=LinksRoute(
                open_source=self._open_source,
                downloads=lambda: self._clients.links,
                source_buckets=settings.source_buckets,
                header_chunk_bytes=settings.header_chunk_bytes,
                parameters=SUPPORTED_PARAMETERS,
            ),
            sia=SiaRoute(
                index=lambda: self.image_index,
                source_buckets=settings.source_buckets,
                default_maxrec=settings.sia_default_maxrec,
                max_maxrec=settings.sia_max_maxrec,
            ),
            check=CheckRoute(
                settings=settings,
                drops=lambda: drop_files_for(self._clients),
                covering=lambda: self.covering,
            ),
            mosaic=MosaicRoute(
                settings=settings,
                service=lambda: self.mosaic,
                result_url=self._result_url,
                status=lambda: self._clients.service_state.status(),
            ),
            mosaic_jobs=MosaicJobRoutes(
                settings=settings,
                jobs=lambda: self.mosaic_jobs,
                lifecycle=lambda: self.mosaic_lifecycle,
                result_url=self._result_url,
            ),
            ui=UiRoute(filters=filter_table(settings.filters), limits=page_limits(settings)),
            result_url=self._result_url,
            unreachable=lambda: check_backends(self._clients),
            status=lambda: self._clients.service_state.status(fresh=True),
        )

    @cached_property
    def service(self) -> SodaService:
        """Jobs created, run and waited for."""
        clients = self._clients
        return SodaService(
            settings=clients.settings,
            store=clients.jobs,
            queue=clients.queue,
            events=clients.events,
            service_state=clients.service_state,
            covering=self.covering,
        )

    @cached_property
    def covering(self) -> CoveringImages:
        """The images covering a position (its index is built on first use)."""
        return covering_for(self._clients, index=lambda: self.image_index)

    @cached_property
    def mosaic(self) -> MosaicService:
        """Synchronous mosaics, read from the sources by range requests."""
        settings = self._settings
        return MosaicService(
            open_source=self._open_source,
            covering=lambda: self.covering,
            results=lambda: self._clients.results,
            max_inputs=settings.mosaic_sync_max_inputs,
            max_plane_pixels=settings.mosaic_max_plane_pixels,
            header_chunk_bytes=settings.header_chunk_bytes,
            read_cost=settings.read_cost(),
            result_days=settings.destruction_days,
        )

    @cached_property
    def mosaic_jobs(self) -> MosaicJobs:
        """Asynchronous mosaics: planned, queued, listed, waited for."""
        return jobs_for(self._clients, finder=lambda: self.covering)

    @cached_property
    def mosaic_lifecycle(self) -> MosaicLifecycle:
        """Mosaic jobs aborted (their intermediates with them), deleted and re-timed."""
        return lifecycle_for(self._clients)

    @cached_property
    def lifecycle(self) -> JobLifecycle:
        """Jobs aborted, deleted and re-timed by their owners."""
        clients = self._clients
        return JobLifecycle(
            store=clients.jobs,
            results=clients.results,
            events=clients.events,
            execution_duration_seconds=clients.settings.execution_duration_seconds,
            destruction_days=clients.settings.destruction_days,
        )

    @cached_property
    def submitter(self) -> BulkSubmitter:
        """Bulk jobs created from uploaded files."""
        return submitter_for(self._clients)

    def _result_url(self, object_name: str) -> str:
        return self._clients.links.url(object_name)

    def _open_source(self, source: SourceRef) -> GcsRangeReader:
        return GcsRangeReader(client=self._clients.storage, source=source)

    @cached_property
    def image_index(self) -> FirestoreImageIndex:
        """The image index, one per process: SIA and covering lookups share its decoded entries."""
        return image_index_for(self._clients)

    def _upload(self, upload: BulkUpload) -> str:
        """Store a posted bulk file and create its job now, as its drop event would."""
        settings = self._settings
        drop = store_bulk_upload(
            self._clients.storage,
            upload,
            drop_bucket=settings.drop_bucket,
            max_bytes=settings.max_bulk_bytes,
        )
        job_id = self.submitter.submit(drop)
        if job_id is None:  # cannot happen: the object is under incoming/<owner>/
            raise UsageError(f"gs://{drop.bucket}/{drop.name} is not a bulk file")
        return job_id
