"""Messages that travel on the job topic between the API and the worker."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CutoutTask", "JobMessage"]


class CutoutTask(BaseModel):
    """One cutout of a job: a source and a circle, numbered within the job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    source_id: str
    circle: tuple[float, float, float]
    label: str | None = None


class JobMessage(BaseModel):
    """A batch of a job's cutouts, the payload of one Pub/Sub message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    tasks: list[CutoutTask]
