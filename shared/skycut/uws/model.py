"""The UWS 1.1 job model, independent of storage and of XML."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from skycut.errors import ErrorType

__all__ = [
    "ACTIVE_PHASES",
    "FINAL_PHASES",
    "ErrorSummary",
    "ExecutionPhase",
    "Job",
    "JobParameter",
    "JobResult",
    "Progress",
]


class ExecutionPhase(enum.StrEnum):
    """UWS 1.1 execution phases (UWS §2.1.3)."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


ACTIVE_PHASES = frozenset({ExecutionPhase.PENDING, ExecutionPhase.QUEUED, ExecutionPhase.EXECUTING})
FINAL_PHASES = frozenset(
    {
        ExecutionPhase.COMPLETED,
        ExecutionPhase.ERROR,
        ExecutionPhase.ABORTED,
        ExecutionPhase.ARCHIVED,
    }
)


@dataclass(frozen=True, slots=True)
class JobParameter:
    """One job parameter as the user sent it (names keep their case)."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class JobResult:
    """One result of a job; ``href`` is the URL a client fetches it from."""

    result_id: str
    href: str
    mime_type: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """Why a job ended in ERROR; ``message`` starts with the SODA label.

    ``label`` and ``status`` keep the error's IVOA label and HTTP status as
    data (for errors that have them), so nothing has to be read back from
    the message text.
    """

    message: str
    error_type: ErrorType = "fatal"
    has_detail: bool = True
    label: str | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts of a job's cutouts; shown in ``jobInfo``."""

    total: int
    done: int = 0
    failed: int = 0


@dataclass(slots=True)
class Job:
    """A UWS job as skycut stores it."""

    job_id: str
    owner: str | None
    phase: ExecutionPhase
    creation_time: datetime
    run_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    execution_duration: int = 0
    destruction: datetime | None = None
    quote: datetime | None = None
    parameters: list[JobParameter] = field(default_factory=list)
    results: list[JobResult] = field(default_factory=list)
    error: ErrorSummary | None = None
    progress: Progress | None = None
