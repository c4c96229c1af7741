"""A one-line progress bar for terminals (and plain lines when output is not a terminal)."""

from __future__ import annotations

import sys
from typing import TextIO

from skycut.cli.jobs import JobState

__all__ = ["ProgressLine"]

_WIDTH = 30


class ProgressLine:
    """Redraws one status line as a job's state changes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()

    def __call__(self, state: JobState) -> None:
        """Show ``state``."""
        if state.total:
            finished = state.done + state.failed
            filled = round(_WIDTH * finished / state.total)
            bar = "#" * filled + "-" * (_WIDTH - filled)
            text = (
                f"{state.job_id} {state.phase:<9} [{bar}] {finished}/{state.total}"
                f" ({state.failed} failed)"
            )
        else:
            text = f"{state.job_id} {state.phase}"
        if self._tty:
            self._stream.write("\r" + text + ("\n" if state.finished else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
