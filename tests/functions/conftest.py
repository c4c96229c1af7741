"""The real function apps, built by functions-framework as in production."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from emulators.stack import REPO
from skycut.jobs.records import JobRecord
from skycut.soda.params import group_params, parse_soda_request
from skycut.soda.work import CutWork, works_of
from skycut.uws.model import ExecutionPhase, Job, Progress

DATA = Path(__file__).parent / "data"


def function_client(target: str, signature: str) -> Any:
    """A Flask test client of ``functions/<target>/main.py``."""
    app = create_app(target, str(REPO / "functions" / target / "main.py"), signature)
    return app.test_client()


@pytest.fixture
def make_client() -> Callable[[str, str], Any]:
    return function_client


def push_envelope(name: str, *, data: bytes | None = None, **attributes: str) -> dict[str, Any]:
    """A Pub/Sub push request body from ``data/<name>.json``."""
    envelope: dict[str, Any] = copy.deepcopy(json.loads((DATA / f"{name}.json").read_text()))
    if data is not None:
        envelope["message"]["data"] = base64.b64encode(data).decode()
    envelope["message"]["attributes"].update(attributes)
    return envelope


def store_job(
    clients: Any,
    tasks: list[Any],
    *,
    prefix: str,
    phase: ExecutionPhase = ExecutionPhase.QUEUED,
) -> str:
    """Store a job of ``tasks`` as the API would have (no message published); return its id."""
    job_id = f"{prefix}-{uuid.uuid4().hex[:12]}"
    clients.jobs.create(
        JobRecord(
            job=Job(
                job_id=job_id,
                owner="dev",
                phase=phase,
                creation_time=datetime.now(UTC),
                progress=Progress(total=len(tasks)),
            ),
            tasks=tasks,
        )
    )
    return job_id


def work_of(pairs: list[tuple[str, str]]) -> CutWork:
    """The one cutout of SODA parameters, parsed once as the API does."""
    request = parse_soda_request(group_params(pairs), allowed_buckets=["skycut-sources"])
    (work,) = works_of(request)
    return work
