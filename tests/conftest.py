"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from skycut.config import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are read once per process; tests that change the environment need a re-read."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
