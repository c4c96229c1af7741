"""Messages that travel on the job topic between the API and the worker.

Each task carries its cutout's typed work (:class:`~skycut.soda.work.CutWork`),
parsed once by the API; the worker cuts it without parsing SODA text.

Tasks written before that (``params`` and a ``combination`` of the
message's ``job_params``) may still be in flight during a deploy, in
messages and in job documents. :func:`upgrade_tasks` reads them by parsing
those parameters once per distinct list, with the same parser that accepted
them; it does not check their buckets, since the worker checks the bucket of
every work against its own settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from skycut.errors import UsageError
from skycut.soda.params import group_params, parse_soda_request
from skycut.soda.work import CutWork, works_of

__all__ = [
    "SWEEP_ATTRIBUTE",
    "CutoutTask",
    "FoundImage",
    "JobMessage",
    "batch_id",
    "batches",
    "upgrade_tasks",
]

SWEEP_ATTRIBUTE = "sweep"
"""Attribute of a job-topic message that asks for a sweep of stalled jobs, not cutouts."""


class FoundImage(BaseModel):
    """What the image index said of the image a cutout without ``ID`` was found on.

    Kept with the cutout so its manifest line and epochs package name the
    image's collection, band and time as they were found, even if the
    image is re-indexed later.

    Attributes
    ----------
    collection
        The image's collection (ObsCore ``obs_collection``).
    band
        The filter's name, if the header gave one.
    mjd
        The start of the exposure (ObsCore ``t_min``, MJD), if known.

    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    collection: str
    band: str | None = None
    mjd: float | None = None


class CutoutTask(BaseModel):
    """One cutout of a job, numbered within the job.

    Attributes
    ----------
    index
        The cutout's number in its job (SODA §6 order, or the bulk row order).
    work
        What to cut.
    label
        A bulk row's label, copied to its result.
    row
        A bulk row's line in its drop file.
    image
        For a cutout requested without ``ID``: the image it was found on.

    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    work: CutWork
    label: str | None = None
    row: int | None = None
    image: FoundImage | None = None

    @property
    def source_id(self) -> str:
        """The ``ID`` of the image the cutout is cut from."""
        return self.work.source_id

    @property
    def line(self) -> int:
        """The bulk row the cutout comes from; its own number in a job without rows."""
        return self.row if self.row is not None else self.index


class JobMessage(BaseModel):
    """A batch of a job's cutouts, the payload of one Pub/Sub message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    tasks: list[CutoutTask]

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Read a message of the old form (see `upgrade_tasks`)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("tasks"), list):
            return data
        old = any(isinstance(t, Mapping) and "work" not in t for t in data["tasks"])
        if not old and "job_params" not in data:
            return data
        upgraded = {k: v for k, v in data.items() if k != "job_params"}
        upgraded["tasks"] = upgrade_tasks(data["tasks"], data.get("job_params") or [])
        return upgraded


def _pairs(params: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    """Parameters as messages (``[name, value]``) or documents (``{name:, value:}``) hold them."""
    return tuple(
        (str(p["name"]), str(p["value"])) if isinstance(p, Mapping) else (str(p[0]), str(p[1]))
        for p in params
    )


def _old_works(pairs: tuple[tuple[str, str], ...]) -> list[CutWork]:
    grouped = group_params(pairs)
    buckets = [v.removeprefix("gs://").partition("/")[0] for v in grouped.get("ID", [])]
    return works_of(parse_soda_request(grouped, allowed_buckets=buckets))


def upgrade_tasks(tasks: Sequence[Any], job_params: Iterable[Any]) -> list[Any]:
    """Give each task of the old form (no ``work``) its work, parsed from its parameters.

    A task of the old form has its own ``params`` (a bulk row) or picks its
    ``combination`` of ``job_params`` (a SODA job). Tasks with a ``work`` are
    returned as they are.

    Raises
    ------
    ValueError
        If the parameters do not parse or name no such combination (nothing
        the service ever wrote).

    """
    shared = _pairs(job_params)
    parsed: dict[tuple[tuple[str, str], ...], list[CutWork]] = {}
    upgraded: list[Any] = []
    for task in tasks:
        if not isinstance(task, Mapping) or "work" in task:
            upgraded.append(task)
            continue
        pairs = _pairs(task.get("params") or ()) or shared
        try:
            if pairs not in parsed:
                parsed[pairs] = _old_works(pairs)
        except UsageError as e:
            raise ValueError(f"task {task.get('index')} of the old form: {e.message}") from e
        works, combination = parsed[pairs], int(task.get("combination") or 0)
        if not 0 <= combination < len(works):
            raise ValueError(f"task {task.get('index')} names combination {combination}")
        kept = {k: v for k, v in task.items() if k not in ("source_id", "params", "combination")}
        upgraded.append({**kept, "work": works[combination]})
    return upgraded


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
