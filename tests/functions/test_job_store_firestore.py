"""The job store's contract cases (tests/unit/test_job_store_contract.py) on Firestore."""

from __future__ import annotations

import pytest

from skycut.clients import Clients
from skycut.config import get_settings
from skycut.jobs.store import JobStore
from tests.unit.test_job_store_contract import *  # noqa: F403 - the same cases, another store

pytestmark = pytest.mark.integration


@pytest.fixture
def store(stack) -> JobStore:  # type: ignore[no-redef]
    return Clients(get_settings()).jobs
