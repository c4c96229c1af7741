"""Publishing job messages to Pub/Sub."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skycut.jobs.messages import CutoutTask, JobMessage

__all__ = ["JobQueue"]


class JobQueue:
    """Publishes the cutouts of a job, in batches, to the job topic."""

    def __init__(self, *, publisher: Any, topic_path: str, tasks_per_message: int) -> None:
        self._publisher = publisher
        self._topic = topic_path
        self._batch = tasks_per_message

    def publish(
        self,
        job_id: str,
        tasks: Sequence[CutoutTask],
        *,
        job_params: Sequence[tuple[str, str]] = (),
    ) -> int:
        """Publish every task of ``job_id`` and wait until Pub/Sub has them.

        Tasks are sent in order, so callers that sort them by source image
        give each message (and so each worker) one image's cutouts together.

        Returns
        -------
        int
            The number of messages published.

        """
        futures = []
        for start in range(0, len(tasks), self._batch):
            message = JobMessage(
                job_id=job_id,
                job_params=list(job_params),
                tasks=list(tasks[start : start + self._batch]),
            )
            futures.append(
                self._publisher.publish(
                    self._topic, message.model_dump_json().encode(), job_id=job_id
                )
            )
        for future in futures:
            future.result(timeout=60)
        return len(futures)
