"""Publishing job messages to Pub/Sub."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from skycut.jobs.messages import SWEEP_ATTRIBUTE, CutoutTask, JobMessage, batch_id, batches

__all__ = ["JobQueue"]


class JobQueue:
    """Publishes the cutouts of a job, in batches, to the job topic."""

    def __init__(self, *, publisher: Any, topic_path: str, tasks_per_message: int) -> None:
        self._publisher = publisher
        self._topic = topic_path
        self._batch = tasks_per_message

    def batches(self, tasks: Sequence[CutoutTask]) -> list[list[CutoutTask]]:
        """Return the batches ``publish`` sends ``tasks`` in."""
        return batches(tasks, self._batch)

    def publish(
        self,
        job_id: str,
        tasks: Sequence[CutoutTask],
        *,
        skip: Collection[str] = (),
    ) -> int:
        """Publish every task of ``job_id`` and wait until Pub/Sub has them.

        Tasks are sent in order, so callers that sort them by source image
        give each message (and so each worker) one image's cutouts together.
        Each task carries its own work, so a message needs nothing else of its job.
        Batches whose `batch_id` is in ``skip`` (already counted) are left out.

        Returns
        -------
        int
            The number of messages published.

        """
        futures = []
        for batch in self.batches(tasks):
            if skip and batch_id(batch) in skip:
                continue
            message = JobMessage(job_id=job_id, tasks=batch)
            data = message.model_dump_json(exclude_defaults=True).encode()
            futures.append(self._publisher.publish(self._topic, data, job_id=job_id))
        for future in futures:
            future.result(timeout=60)
        return len(futures)

    def request_sweep(self) -> None:
        """Publish the message that makes a worker sweep for stalled jobs.

        Cloud Scheduler sends it in production; the local stack's ticker here.
        """
        self._publisher.publish(self._topic, b"{}", **{SWEEP_ATTRIBUTE: "1"}).result(timeout=60)
