"""A mosaic job's objects in the results bucket: intermediates under the job, and its results.

Intermediates live under ``jobs/<job id>/work/`` (the reprojected planes,
pair sums and coadded tiles the stages hand each other) and are deleted
when the job ends, however it ends; every object carries the job's
destruction time as its Custom-Time, so the bucket's lifecycle rule removes
whatever a crash left behind. The mosaic itself is streamed to its object
as it is written (a resumable upload, a piece at a time).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc

from skycut.errors import ServiceUnavailableError
from skycut.storage.gcs import TRANSIENT_ERRORS, ResultWriter

__all__ = ["JobObjects", "work_prefix"]

_CHUNK = 8 * 1024 * 1024  # resumable upload pieces: what the upload holds in memory


def work_prefix(job_id: str) -> str:
    """Return the folder of a job's intermediates."""
    return f"jobs/{job_id}/work/"


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
        removed = 0
        try:
            for blob in self._bucket.list_blobs(prefix=work_prefix(job_id)):
                with contextlib.suppress(gexc.NotFound):
                    blob.delete()
                removed += 1
        except TRANSIENT_ERRORS as e:
            raise ServiceUnavailableError(f"storage unavailable cleaning job {job_id}") from e
        return removed

    def work_names(self, job_id: str) -> list[str]:
        """Return the names of the job's intermediates (under `work_prefix`)."""
        prefix = work_prefix(job_id)
        blobs = self._bucket.list_blobs(prefix=prefix)
        return [b.name.removeprefix(prefix) for b in blobs]

    def stream(self, object_name: str, *, content_type: str, expires: datetime | None) -> Any:
        """Return a file to write a result into, in order (a resumable upload in pieces).

        Use it as a context manager: the object exists once the block ends
        without an error; an error cancels the upload and leaves none.
        """
        blob = self._bucket.blob(object_name, chunk_size=_CHUNK)
        if expires is not None:
            blob.custom_time = expires
        return blob.open("wb", content_type=content_type)
