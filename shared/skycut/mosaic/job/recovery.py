"""The sweep's take-over of a stalled mosaic job: its stage published again.

Used by the sweep (`skycut.worker.sweep`, in the ``cutout_worker``
function), which makes no mosaic: this module reaches only the job store
and the mosaic topic, none of the reprojection, coaddition or FITS code
(no ``mosaic`` extra in that function's bundle). Whatever a stage's move
needs (the background solve, the finish) is done by the ``mosaic_worker``
that receives what this publishes.
"""

from __future__ import annotations

from dataclasses import dataclass

from skycut.jobs.records import JobRecord
from skycut.jobs.store import JobStore
from skycut.mosaic.job.messages import unit_id
from skycut.mosaic.job.queue import MosaicQueue, stage_units
from skycut.uws.model import ExecutionPhase

__all__ = ["MosaicRecovery"]

_RUNNING = (ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING)


@dataclass(kw_only=True)
class MosaicRecovery:
    """Publishes again what a stalled mosaic job is waiting for.

    Parameters
    ----------
    store
        The job store (which units are counted; a QUEUED job started).
    queue
        Where the stage's messages are published.

    """

    store: JobStore
    queue: MosaicQueue

    def recover(self, record: JobRecord) -> int:
        """Publish again the units of a stalled job's stage that are not counted.

        Its messages were lost, or the delivery that moved it to this stage
        died before publishing it (or before running its finish). A stage
        whose units are all counted (its last delivery died before moving
        the job on, or before completing it) gets its last unit published
        again: the ``mosaic_worker`` that receives it finds the unit counted
        and moves the job on as that delivery would have.

        Returns
        -------
        int
            The number of messages published.

        """
        state = record.mosaic
        if state is None or record.job.phase not in _RUNNING:
            return 0
        job_id = record.job.job_id
        if record.job.phase == ExecutionPhase.QUEUED:  # its first stage's messages were lost
            self.store.start(record)
        units = stage_units(state)
        counted = self.store.counted_batches(job_id, [unit_id(state.stage, u) for u in units])
        if len(counted) == len(units):
            return self.queue.publish(job_id, state.stage, units[-1:])
        return self.queue.publish(job_id, state.stage, units, skip=counted)
