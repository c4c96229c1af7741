"""A minimal client of Firefox's Marionette protocol, to run the web page in Firefox too.

Debian packages Firefox but not geckodriver, so the tests talk to Firefox's
own remote protocol: messages are ``<length>:<json>``; a command is
``[0, id, name, params]`` and its answer ``[1, id, error, result]``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


class Firefox:
    """A headless Firefox driven over Marionette (``navigate``, ``run``)."""

    def __init__(self, binary: str) -> None:
        self._profile = tempfile.TemporaryDirectory()
        port = _free_port()
        Path(self._profile.name, "user.js").write_text(
            f'user_pref("marionette.port", {port});\n'
            'user_pref("browser.shell.checkDefaultBrowser", false);\n'
            'user_pref("datareporting.policy.dataSubmissionEnabled", false);\n'
        )
        self._process = subprocess.Popen(
            [binary, "--headless", "--marionette", "--no-remote", "--profile", self._profile.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._socket = _connect(port, timeout=60)
        self._buffer = b""
        self._next_id = 0
        self._read()  # the server's greeting
        self.command("WebDriver:NewSession", {"capabilities": {}})

    def command(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Send one command and return its result (raise on its error)."""
        self._next_id += 1
        body = json.dumps([0, self._next_id, name, params or {}]).encode()
        self._socket.sendall(str(len(body)).encode() + b":" + body)
        while True:
            message = self._read()
            if isinstance(message, list) and message[0] == 1 and message[1] == self._next_id:
                _, _, error, result = message
                if error:
                    raise RuntimeError(f"{name}: {error}")
                return result

    def navigate(self, url: str) -> None:
        self.command("WebDriver:Navigate", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body; ``arguments`` holds ``args``); return its value."""
        result = self.command("WebDriver:ExecuteScript", {"script": script, "args": list(args)})
        return result.get("value") if isinstance(result, dict) else result

    def wait(self, script: str, *, seconds: float = 60.0) -> Any:
        """Run ``script`` until it returns something true; return that."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.run(script)
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f"not true within {seconds:.0f} s: {script}")

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.command("Marionette:Quit", {"flags": ["eForceQuit"]})
        self._socket.close()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._profile.cleanup()

    def _read(self) -> Any:
        while b":" not in self._buffer:
            self._buffer += self._recv()
        length, _, rest = self._buffer.partition(b":")
        size = int(length)
        while len(rest) < size:
            rest += self._recv()
        self._buffer = rest[size:]
        return json.loads(rest[:size])

    def _recv(self) -> bytes:
        chunk = self._socket.recv(65536)
        if not chunk:
            raise ConnectionError("Firefox closed the Marionette connection")
        return chunk


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _connect(port: int, *, timeout: float) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=60)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)
