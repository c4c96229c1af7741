"""Publishing a mosaic stage's units to the mosaic topic."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from skycut.jobs.mosaic_state import MosaicStage, MosaicState
from skycut.mosaic.job.messages import MosaicMessage, unit_id

__all__ = ["MosaicQueue", "stage_units"]


class MosaicQueue:
    """Publishes the units of a mosaic job's stage, a few per message.

    Parameters
    ----------
    publisher
        A Pub/Sub publisher client.
    topic_path
        ``projects/<project>/topics/<mosaic topic>``.
    units_per_message
        Reprojections one message carries (one is a fraction of a second to
        seconds of work: a message of a few keeps many workers busy). The
        other stages' units (a tile, a band of the file, the finish) each
        read hundreds of megabytes and go one to a message, so that as many
        workers as there are units share them.

    """

    def __init__(self, *, publisher: Any, topic_path: str, units_per_message: int) -> None:
        self._publisher = publisher
        self._topic = topic_path
        self._per_message = units_per_message

    def publish(
        self, job_id: str, stage: MosaicStage, units: Sequence[int], *, skip: Collection[str] = ()
    ) -> int:
        """Publish ``units`` of ``stage`` and wait until Pub/Sub has them.

        Units whose `unit_id` is in ``skip`` (counted already) are left out.

        Returns
        -------
        int
            The number of messages published.

        """
        todo = [u for u in units if unit_id(stage, u) not in skip]
        per_message = self._per_message if stage == "reproject" else 1
        futures = []
        for start in range(0, len(todo), per_message):
            message = MosaicMessage(
                job_id=job_id, stage=stage, units=todo[start : start + per_message]
            )
            data = message.model_dump_json().encode()
            futures.append(self._publisher.publish(self._topic, data, job_id=job_id))
        for future in futures:
            future.result(timeout=60)
        return len(futures)


def stage_units(state: MosaicState) -> range:
    """Return the units of the stage ``state`` is in."""
    return range(state.units(state.stage))
