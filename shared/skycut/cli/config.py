"""Where the CLI finds the service: flags, environment, or ``.skycut/env`` of a local stack."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Target", "apply_env_file", "find_env_file", "read_env_file", "resolve_target"]


@dataclass(frozen=True, slots=True)
class Target:
    """The service a command talks to."""

    url: str
    drop_bucket: str | None
    token: str | None = None

    def headers(self) -> dict[str, str]:
        """Return the Authorization header for API Gateway, if a token was given."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def read_env_file(path: Path) -> dict[str, str]:
    """Read the ``export NAME=value`` lines ``make run`` writes."""
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def find_env_file(start: Path | None = None) -> Path | None:
    """Find ``.skycut/env`` in the working directory or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".skycut" / "env"
        if candidate.is_file():
            return candidate
    return None


def apply_env_file(path: Path | None) -> dict[str, str]:
    """Export every variable of a stack's env file to this process, keeping those already set.

    Commands that build Google clients and read :class:`skycut.config.Settings`
    (``skycut index``) need the stack's emulator hosts and its ``SKYCUT_*``
    settings, as a shell that sourced the file would have them.

    Parameters
    ----------
    path
        The env file, or `None` to use nothing.

    Returns
    -------
    dict
        The file's variables (empty without a file).

    """
    if path is None:
        return {}
    env = read_env_file(path)
    for key, value in env.items():
        os.environ.setdefault(key, value)
    return env


def resolve_target(
    *, url: str | None, drop_bucket: str | None, token: str | None, env_file: Path | None
) -> Target:
    """Combine flags, ``SKYCUT_*`` variables and the local stack's env file, in that order.

    The env file's emulator hosts are exported to this process so the Google
    clients (used to drop files) talk to the local stack too.
    """
    file_env: dict[str, str] = {}
    path = env_file or (None if url else find_env_file())
    if path is not None:
        file_env = read_env_file(path)
        for key in (
            "STORAGE_EMULATOR_HOST",
            "PUBSUB_EMULATOR_HOST",
            "FIRESTORE_EMULATOR_HOST",
            "GOOGLE_CLOUD_PROJECT",
        ):
            if key in file_env:
                os.environ.setdefault(key, file_env[key])
    resolved_url = url or os.environ.get("SKYCUT_URL") or file_env.get("SKYCUT_URL")
    if not resolved_url:
        raise SystemExit(
            "skycut: no service URL: pass --url, set SKYCUT_URL, or start a local stack "
            "(make run) so .skycut/env exists"
        )
    return Target(
        url=resolved_url.rstrip("/"),
        drop_bucket=drop_bucket
        or os.environ.get("SKYCUT_DROP_BUCKET")
        or file_env.get("SKYCUT_DROP_BUCKET"),
        token=token or os.environ.get("SKYCUT_TOKEN"),
    )
