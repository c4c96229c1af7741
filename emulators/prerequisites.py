"""Checks that the tools the local stack needs are installed, before starting any."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["missing_prerequisites"]

_GCLOUD_HELP = (
    "Install the Google Cloud CLI with its emulators, e.g. on Debian/Ubuntu from Google's apt "
    "repository: apt-get install google-cloud-cli google-cloud-cli-pubsub-emulator "
    "google-cloud-cli-firestore-emulator (or, with a gcloud installed from the tarball: "
    "gcloud components install beta pubsub-emulator cloud-firestore-emulator). "
    "See https://cloud.google.com/sdk/docs/install"
)
_JAVA_HELP = (
    "Install Java 11 or newer (Java 17 is tested), e.g. apt-get install openjdk-17-jre-headless"
)


def _sdk_root(gcloud: str) -> Path | None:
    try:
        out = subprocess.run(
            [gcloud, "info", "--format=value(installation.sdk_root)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        return None
    return Path(out) if out else None


def missing_prerequisites() -> list[str]:
    """Return one line per missing tool, saying what to install (empty if none)."""
    problems = []
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        problems.append(f"gcloud not found. {_GCLOUD_HELP}")
    else:
        root = _sdk_root(gcloud)
        if root is not None:
            for component, folder in (
                ("pubsub-emulator", "pubsub-emulator"),
                ("cloud-firestore-emulator", "cloud-firestore-emulator"),
            ):
                if not (root / "platform" / folder).is_dir():
                    problems.append(f"gcloud component {component} is missing. {_GCLOUD_HELP}")
    if shutil.which("java") is None:
        problems.append(f"java not found. {_JAVA_HELP}")
    return problems
