"""Messages that travel on the job topic between the API and the worker."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CutoutTask", "JobMessage"]


class CutoutTask(BaseModel):
    """One cutout of a job, numbered within the job.

    A bulk row carries its own SODA parameters (``params``, one
    combination); a SODA job's tasks share the message's ``job_params`` and
    pick their ``combination`` of them (SODA §6 order).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    source_id: str
    params: list[tuple[str, str]] = Field(default_factory=list)
    combination: int = Field(0, ge=0)
    label: str | None = None
    row: int | None = None


class JobMessage(BaseModel):
    """A batch of a job's cutouts, the payload of one Pub/Sub message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    job_params: list[tuple[str, str]] = Field(default_factory=list)
    tasks: list[CutoutTask]
