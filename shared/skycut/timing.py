"""Where a request's time goes: named steps, timed and logged together.

A sync cutout crosses the API, Firestore, Pub/Sub, the worker and Storage;
each process logs the durations of its own steps in one line
(``steps_ms``), so a slow request can be explained from the logs alone
(``bench.sync_latency`` aggregates them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Steps"]


class Steps:
    """Durations of named steps of one piece of work, in the order they ran."""

    def __init__(self) -> None:
        self._began = time.perf_counter()
        self._ms: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as step ``name`` (added to it if it runs again)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._ms[name] = self._ms.get(name, 0.0) + 1000 * (time.perf_counter() - start)

    def as_log(self) -> dict[str, float]:
        """Return each step's milliseconds and the ``total`` since creation, rounded."""
        total = 1000 * (time.perf_counter() - self._began)
        return {**{k: round(v, 1) for k, v in self._ms.items()}, "total": round(total, 1)}
