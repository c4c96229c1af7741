"""A one-line progress bar for terminals (and plain lines when output is not a terminal)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO

from skycut.cli.jobs import JobState

__all__ = ["ProgressLine", "TallyLine"]

_WIDTH = 30


def _bar(finished: int, total: int) -> str:
    filled = round(_WIDTH * finished / total) if total else _WIDTH
    return "#" * filled + "-" * (_WIDTH - filled)


class ProgressLine:
    """Redraws one status line as a job's state changes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()

    def __call__(self, state: JobState) -> None:
        """Show ``state``."""
        if state.total:
            finished = state.done + state.failed
            text = (
                f"{state.job_id} {state.phase:<9} [{_bar(finished, state.total)}]"
                f" {finished}/{state.total}"
                f" ({state.failed} failed)"
            )
        else:
            text = f"{state.job_id} {state.phase}"
        if self._tty:
            self._stream.write("\r" + text + ("\n" if state.finished else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


class TallyLine:
    """Redraws one line counting finished items by outcome (``indexed 12, current 30``).

    A terminal sees the line redrawn at most ten times a second, other
    streams (a log file) a line every ``interval`` seconds; the last state
    is always shown.
    """

    def __init__(self, label: str, stream: TextIO | None = None, *, interval: float = 5.0) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._interval = 0.1 if self._tty else interval
        self._shown = -float("inf")

    def __call__(self, done: int, total: int, counts: Mapping[str, int]) -> None:
        """Show ``done`` of ``total`` items finished, ``counts`` of each outcome."""
        finished = done >= total
        now = time.monotonic()
        if not finished and now - self._shown < self._interval:
            return
        self._shown = now
        tally = ", ".join(f"{name} {count}" for name, count in counts.items() if count)
        text = f"{self._label} [{_bar(done, total)}] {done}/{total}" + (
            f" ({tally})" if tally else ""
        )
        if self._tty:
            self._stream.write("\r\033[K" + text + ("\n" if finished else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
