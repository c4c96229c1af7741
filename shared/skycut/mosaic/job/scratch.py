"""A mosaic job's objects in the results bucket: intermediates under the job, and its results.

Intermediates live under ``jobs/<job id>/work/`` (the reprojected planes,
pair sums and coadded tiles the stages hand each other) and are deleted
when the job ends, however it ends; every object carries the job's
destruction time as its Custom-Time, so the bucket's lifecycle rule removes
whatever a crash left behind. The mosaic itself is written in bands, each
an intermediate of its own, and joined into its object by Cloud Storage's
compose (`compose`): no worker uploads or holds the whole file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc

from skycut.errors import ServiceUnavailableError
from skycut.jobs.records import job_objects_prefix
from skycut.storage.gcs import TRANSIENT_ERRORS, ResultWriter

__all__ = ["JobObjects", "work_prefix"]

MAX_COMPOSE_SOURCES = 32
"""Cloud Storage's most source objects of one compose request."""


def work_prefix(job_id: str) -> str:
    """Return the folder of a job's intermediates."""
    return job_objects_prefix(job_id) + "work/"


class JobObjects(ResultWriter):
    """A mosaic job's objects: its results, as any job's, and its intermediates."""

    def put(self, job_id: str, name: str, data: bytes, *, expires: datetime | None) -> None:
        """Store the job's intermediate ``name`` (replacing it: every writer writes the same)."""
        blob = self._bucket.blob(work_prefix(job_id) + name)
        if expires is not None:
            blob.custom_time = expires
        try:
            blob.upload_from_string(data, content_type="application/octet-stream")
        except TRANSIENT_ERRORS as e:
            raise ServiceUnavailableError(f"storage unavailable writing {name}") from e

    def get(self, job_id: str, name: str) -> bytes:
        """Return an intermediate of the job.

        Raises
        ------
        ServiceUnavailableError
            If it cannot be read now, or does not exist (its stage is not
            complete yet, as far as this read sees: a delivery later will).

        """
        try:
            data: bytes = self._bucket.blob(work_prefix(job_id) + name).download_as_bytes()
        except gexc.NotFound as e:
            raise ServiceUnavailableError(f"intermediate {name} of job {job_id} not found") from e
        except TRANSIENT_ERRORS as e:
            raise ServiceUnavailableError(f"storage unavailable reading {name}") from e
        return data

    def delete_work(self, job_id: str) -> int:
        """Delete every intermediate of the job; return how many there were."""
        return self.delete_under(work_prefix(job_id))

    def work_names(self, job_id: str) -> list[str]:
        """Return the names of the job's intermediates (under `work_prefix`)."""
        prefix = work_prefix(job_id)
        blobs = self._bucket.list_blobs(prefix=prefix)
        return [b.name.removeprefix(prefix) for b in blobs]

    def compose(
        self,
        job_id: str,
        parts: Sequence[str],
        object_name: str,
        *,
        content_type: str,
        expires: datetime | None,
    ) -> int:
        """Join the job's intermediates ``parts``, in order, into ``object_name``; return its size.

        Cloud Storage joins at most `MAX_COMPOSE_SOURCES` objects a request;
        more are joined in groups first, into intermediates named after
        their level and place (the same for every writer), and those again.
        The object is replaced whole, or not at all, with its Custom-Time set.

        Raises
        ------
        ServiceUnavailableError
            If storage cannot be reached, or a part is missing (deleted by an
            ABORT or by the delivery that completed the job meanwhile).

        """
        prefix = work_prefix(job_id)
        sources = [self._bucket.blob(prefix + name) for name in parts]
        level = 0
        try:
            while len(sources) > MAX_COMPOSE_SOURCES:
                groups = range(0, len(sources), MAX_COMPOSE_SOURCES)
                sources = [
                    self._composed(
                        prefix + f"compose-{level}-{k // MAX_COMPOSE_SOURCES}",
                        sources[k : k + MAX_COMPOSE_SOURCES],
                        content_type="application/octet-stream",
                        expires=expires,
                    )
                    for k in groups
                ]
                level += 1
            joined = self._composed(object_name, sources, content_type=content_type,
                                    expires=expires)  # fmt: skip
        except gexc.NotFound as e:
            raise ServiceUnavailableError(f"a part of {object_name} is gone") from e
        except TRANSIENT_ERRORS as e:
            raise ServiceUnavailableError(f"storage unavailable joining {object_name}") from e
        return int(joined.size or 0)

    def _composed(
        self, name: str, sources: list[Any], *, content_type: str, expires: datetime | None
    ) -> Any:
        blob = self._bucket.blob(name)
        blob.content_type = content_type
        if expires is not None:
            blob.custom_time = expires
        blob.compose(sources)  # the destination's metadata goes with the request
        if expires is not None and blob.custom_time is None:
            # a service that drops the destination's Custom-Time on compose (fake-gcs-server
            # does; Cloud Storage keeps it): set it, or the lifecycle rule would never see it
            blob.custom_time = expires
            blob.patch()
        return blob
