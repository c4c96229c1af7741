"""Reading a drop file: the version its job was made from, within the size limits.

The submitter reads it to create the job; the sweep reads it again to
republish a stalled bulk job's work, which is not stored with the job. Rows
without ``id`` are matched to images by the index when the job is created,
and by the answers kept then (:mod:`skycut.bulk.found`) ever after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from skycut.bulk.drops import DropObject, job_options
from skycut.bulk.formats import detect_format, read_rows
from skycut.bulk.found import FoundReplay, ImageFinder, found_object_name
from skycut.bulk.rows import ParsedRows, tasks_from_rows
from skycut.errors import UsageError
from skycut.jobs.messages import CutoutTask
from skycut.jobs.records import JobRecord

__all__ = ["DropFiles"]


class DropFiles:
    """Reads drop files as a job's options and rows.

    Parameters
    ----------
    storage
        A Cloud Storage client.
    max_bytes
        The largest file accepted.
    max_rows
        The most rows a file may have.
    source_buckets
        The buckets a row's ID may name.
    results_bucket
        Where the images found for a job's rows without ``id`` are kept.

    The rows of a file may make at most ``max_rows`` cutouts (a row without
    ``id`` makes one per image covering it).

    """

    def __init__(
        self,
        *,
        storage: Any,
        max_bytes: int,
        max_rows: int,
        source_buckets: Sequence[str],
        results_bucket: str,
    ) -> None:
        self._storage = storage
        self._max_bytes = max_bytes
        self._max_rows = max_rows
        self._source_buckets = source_buckets
        self._results_bucket = results_bucket

    def read(
        self, drop: DropObject, *, find: ImageFinder | None = None
    ) -> tuple[dict[str, str], ParsedRows]:
        """Return the job options (the object's metadata) and the rows of a drop file.

        ``find`` matches rows without ``id`` to images (None refuses them).

        Raises
        ------
        UsageError
            If the file is gone, was replaced by another version, is over the
            size limit, or its options or format cannot be read.

        """
        blob = self._storage.bucket(drop.bucket).get_blob(drop.name)
        if blob is None:
            raise UsageError(f"the drop file gs://{drop.bucket}/{drop.name} no longer exists")
        if drop.generation not in ("", "0") and str(blob.generation) != drop.generation:
            raise UsageError(
                f"the drop file gs://{drop.bucket}/{drop.name} was replaced (generation "
                f"{blob.generation}, the job's is {drop.generation})"
            )
        if blob.size is not None and int(blob.size) > self._max_bytes:
            raise UsageError(
                f"the drop file has {int(blob.size)} bytes, over the limit of "
                f"{self._max_bytes}; split it"
            )
        options = job_options(blob.metadata)
        data: bytes = blob.download_as_bytes()
        rows = self.parse(
            data, name=drop.name, content_type=blob.content_type, options=options, find=find
        )
        return options, rows

    def parse(
        self,
        data: bytes,
        *,
        name: str,
        content_type: str | None,
        options: Mapping[str, str],
        find: ImageFinder | None,
    ) -> ParsedRows:
        """Return the rows of a bulk file's bytes as tasks and refusals, as its job makes them.

        ``options`` are the job-wide options (`job_options`); ``find`` matches
        rows without ``id`` to images (None refuses them).

        Raises
        ------
        UsageError
            If the file cannot be read in its format, has too many rows, or its
            rows make too many cutouts.

        """
        return tasks_from_rows(
            read_rows(data, detect_format(name, data, content_type), max_rows=self._max_rows),
            allowed_buckets=self._source_buckets,
            options=options,
            find=find,
            max_cutouts=self._max_rows,
        )

    def kept_matches(self, job_id: str) -> FoundReplay:
        """Return the images found for a job's rows when it was created (none if none kept)."""
        blob = self._storage.bucket(self._results_bucket).get_blob(found_object_name(job_id))
        return FoundReplay(None if blob is None else blob.download_as_bytes())

    def tasks_of(self, record: JobRecord) -> list[CutoutTask]:
        """Return the tasks of a bulk job, read again from its drop file.

        Raises
        ------
        UsageError
            If the file is gone or was replaced by another version since.

        """
        source = next(p.value for p in record.job.parameters if p.name == "SOURCE")
        bucket, _, name = source.removeprefix("gs://").partition("/")
        generation = record.bulk.drop_generation
        drop = DropObject(bucket=bucket, name=name, generation=generation)
        _, rows = self.read(drop, find=self.kept_matches(record.job.job_id))
        return rows.tasks
