"""ABORT of a mosaic job also deletes its intermediates (DELETE deletes every object of a job).

A running job's workers delete them too when they next look at the job
(`skycut.mosaic.job.runner`); deleting them here leaves nothing behind when
no message of the job is in flight.
"""

from __future__ import annotations

from typing import Any

from skycut.jobs.lifecycle import JobLifecycle
from skycut.mosaic.job.scratch import JobObjects

__all__ = ["MosaicLifecycle"]


class MosaicLifecycle(JobLifecycle):
    """`JobLifecycle` for mosaic jobs; ``objects`` holds their intermediates."""

    def __init__(self, *, objects: JobObjects, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._objects = objects

    def discard_results(self, job_id: str) -> None:
        """Delete the job's results and intermediates."""
        super().discard_results(job_id)
        self._objects.delete_work(job_id)
