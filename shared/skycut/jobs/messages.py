"""Messages that travel on the job topic between the API and the worker."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SWEEP_ATTRIBUTE", "CutoutTask", "JobMessage", "batch_id", "batches"]

SWEEP_ATTRIBUTE = "sweep"
"""Attribute of a job-topic message that asks for a sweep of stalled jobs, not cutouts."""


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


def batches(tasks: Sequence[CutoutTask], size: int) -> list[list[CutoutTask]]:
    """Split a job's tasks into the batches its messages carry, in order.

    The split depends only on the tasks and ``size``, so publishing a job
    again gives the same batches, with the same `batch_id`.
    """
    return [list(tasks[start : start + size]) for start in range(0, len(tasks), size)]


def batch_id(tasks: Iterable[CutoutTask]) -> str:
    """Return the id under which a batch's results are counted (same tasks, same id)."""
    indices = ",".join(str(i) for i in sorted(t.index for t in tasks))
    return hashlib.sha256(indices.encode()).hexdigest()[:32]
