"""What Cloud Scheduler does in production: ask for a sweep of stalled jobs now and then."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from emulators.resources import client_environment
from skycut.jobs.queue import JobQueue

__all__ = ["SweepTicker"]


class SweepTicker:
    """Publishes a sweep request to the job topic every ``every`` seconds, in a thread."""

    def __init__(
        self, env: Mapping[str, str], *, project_id: str, topic: str, every: float
    ) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        with client_environment(env):
            publisher = pubsub_v1.PublisherClient()
        self._queue = JobQueue(
            publisher=publisher,
            topic_path=publisher.topic_path(project_id, topic),
            tasks_per_message=1,  # it publishes no cutouts
        )
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweep-ticker", daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (waits for the thread)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._queue.request_sweep()
            except Exception as e:  # the emulator may be restarting; the next tick retries
                logging.getLogger(__name__).warning("sweep request not published: %r", e)
