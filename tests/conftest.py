"""Fixtures shared by every test folder; the real stack starts only for tests that ask."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from emulators.stack import REPO, Stack, StackConfig
from skycut.config import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are read once per process; tests that change the environment need a re-read."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running stack on free ports, with the sample survey loaded.

    The sample survey is generated into the repository's cache folder
    (``.skycut/sample``) so later runs reuse it; everything else is private
    to this session.
    """
    state = tmp_path_factory.mktemp("stack")
    config = StackConfig.on_free_ports(
        state,
        sample_dir=REPO / ".skycut" / "sample",
        # a short lease and frequent sweeps, so lost messages are recovered within a test
        sweep_seconds=3.0,
        # small mosaic tiles, so a small mosaic job still fans out over several tiles
        extra_env={"SKYCUT_JOB_LEASE_SECONDS": "10", "SKYCUT_MOSAIC_TILE_SIZE": "96"},
    )
    running = Stack(config)
    running.start()
    saved = dict(os.environ)
    # the test process is a client of the stack, as a user's tools would be
    os.environ.update(config.client_env())
    try:
        yield running
    finally:
        os.environ.clear()
        os.environ.update(saved)
        running.stop()


@pytest.fixture(scope="session")
def base_url(stack: Stack) -> str:
    """The SODA service base URL of the running stack."""
    return stack.config.base_url


@pytest.fixture(scope="session")
def sample_dir(stack: Stack) -> Path:
    """Where the sample survey's files are on local disk."""
    return stack.config.sample_dir


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    """An HTTP session that does not follow redirects unless asked."""
    with requests.Session() as session:
        yield session
