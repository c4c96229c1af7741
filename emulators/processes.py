"""Starting, watching and stopping the local stack's processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ManagedProcess",
    "StackStartError",
    "free_port",
    "kill_group",
    "port_is_free",
    "stop_together",
    "wait_for_http",
]


class StackStartError(RuntimeError):
    """A part of the local stack could not be started."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def kill_group(pgid: int, *, expect: str) -> bool:
    """Kill process group ``pgid`` if its leader's command line contains ``expect``.

    The check keeps a recycled process id of some unrelated program safe.
    Returns False if there was nothing of ours to kill.
    """
    try:
        cmdline = Path(f"/proc/{pgid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    if expect not in cmdline:
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def port_is_free(port: int) -> bool:
    """Return True if nothing listens on ``127.0.0.1:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_for_http(url: str, *, timeout: float, process: ManagedProcess | None = None) -> None:
    """Wait until ``url`` answers any HTTP status.

    Raises
    ------
    StackStartError
        If it does not answer within ``timeout`` or its process exits.

    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.exited():
            raise StackStartError(f"{process.name} exited; see {process.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered, which is all we wait for
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    where = f"; see {process.log_path}" if process is not None else ""
    raise StackStartError(f"{url} did not answer within {timeout:g} s{where}")


@dataclass
class ManagedProcess:
    """A child process in its own process group, logging to a file."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    _popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (its output goes to ``log_path``)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                start_new_session=True,  # its own group: gcloud's java children stop with it
            )

    def exited(self) -> bool:
        """Return True if the process has ended."""
        return self._popen is not None and self._popen.poll() is not None

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return None if self._popen is None else self._popen.pid

    def pause(self) -> None:
        """Freeze the whole process group (SIGSTOP): it holds its connections, answers nothing."""
        if self._popen is not None:
            os.killpg(self._popen.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused process group run again (SIGCONT)."""
        if self._popen is not None:
            os.killpg(self._popen.pid, signal.SIGCONT)

    def stop(self, *, grace: float = 8.0) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after ``grace`` s."""
        if self._popen is None:
            return
        pgid = self._popen.pid
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self._popen.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # the leader is gone; make sure no child (e.g. a JVM) outlives it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            break
        self._popen = None


def stop_together(processes: Sequence[ManagedProcess], *, grace: float = 8.0) -> None:
    """Stop processes at once: each has ``grace`` s to go, not each after the one before."""
    if processes:
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            list(pool.map(lambda p: p.stop(grace=grace), processes))
