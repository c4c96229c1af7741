"""The messages of the mosaic topic: a few units of one stage of one mosaic job."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from skycut.jobs.mosaic_state import MosaicStage

__all__ = ["MosaicMessage", "unit_id"]


class MosaicMessage(BaseModel):
    """Units of one stage of a mosaic job, the payload of one Pub/Sub message.

    Attributes
    ----------
    job_id
        The job.
    stage
        The stage the units belong to.
    units
        Positions of the units in the stage: reprojection tasks in the plan's
        task list, tiles in its list of tiles, ``[0]`` for the assembly.

    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    stage: MosaicStage
    units: list[int] = Field(min_length=1)


def unit_id(stage: MosaicStage, unit: int) -> str:
    """Return the id a unit is counted under (its receipt), the same for every delivery."""
    return f"mosaic-{stage}-{unit}"
