"""Service-wide state in Firestore: the operators' drain switch and the measured throughput."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from skycut.errors import ServiceUnavailableError
from skycut.logs import log

__all__ = ["ServiceState", "ServiceStatus", "draining_message", "refuse_if_draining"]

_SMOOTHING = 0.2  # weight of the newest measurement in the moving average
_THROUGHPUT_EVERY_SECONDS = 10.0  # one process writes its measurements this often at most


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """Whether the service takes new work, as operators set it."""

    available: bool = True
    note: str | None = None
    back_at: datetime | None = None


def draining_message(status: ServiceStatus) -> str:
    """Say that the service takes no new work, and the operators' note if any."""
    return "the service is not accepting new jobs" + (f": {status.note}" if status.note else "")


def refuse_if_draining(status: ServiceStatus) -> None:
    """Refuse new work while operators drain the service.

    Raises
    ------
    skycut.errors.ServiceUnavailableError
        If ``status`` says the service is unavailable.

    """
    if not status.available:
        raise ServiceUnavailableError(draining_message(status))


_SWITCH_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _available_of(value: Any) -> bool:
    """Read ``available`` as operators may write it: a boolean, a number or a word.

    ``"false"`` is a drain, not a true (non-empty) string. A value that says
    neither drains too, with a warning: the switch was touched.
    """
    if isinstance(value, bool | int | float):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _SWITCH_WORDS:
        return _SWITCH_WORDS[value.strip().lower()]
    log(logging.WARNING, "service status available is neither true nor false: drained",
        available=repr(value))  # fmt: skip
    return False


def _time_of(value: Any) -> datetime | None:
    """Read ``back_at`` as operators may write it: a timestamp or an ISO 8601 string.

    A time without an offset is UTC. Anything else is ignored with a warning:
    VOSI availability must answer whatever the document holds.
    """
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(value.strip())
    if value is not None and moment is None:
        log(logging.WARNING, "service status back_at ignored: not a time", back_at=repr(value))
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class ServiceState:
    """Reads and writes the service documents (``status``, ``throughput``)."""

    def __init__(self, *, client: Any, collection: str, max_age: float = 5.0) -> None:
        self._status = client.collection(collection).document("status")
        self._throughput = client.collection(collection).document("throughput")
        # both documents are read on every new job; a few seconds' staleness is fine
        self._max_age = max_age
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        # throughput measured here and not written yet (the first is written at once)
        self._pending_lock = threading.Lock()
        self._pending_cutouts = 0
        self._pending_seconds = 0.0
        self._last_written = float("-inf")

    def _read(self, ref: Any, key: str, *, fresh: bool = False) -> dict[str, Any] | None:
        hit = self._cache.get(key)
        if not fresh and hit is not None and time.monotonic() - hit[0] < self._max_age:
            return hit[1]
        snap = ref.get()
        doc: dict[str, Any] | None = snap.to_dict() if snap.exists else None
        self._cache[key] = (time.monotonic(), doc)
        return doc

    def status(self, *, fresh: bool = False) -> ServiceStatus:
        """Return the drain switch (available unless operators said otherwise).

        New jobs see a change within ``max_age`` seconds; ``fresh`` reads it now.
        """
        doc = self._read(self._status, "status", fresh=fresh)
        if not doc:
            return ServiceStatus()
        return ServiceStatus(
            available=_available_of(doc.get("available", True)),
            note=doc.get("note"),
            back_at=_time_of(doc.get("back_at")),
        )

    def set_status(self, status: ServiceStatus) -> None:
        """Set the drain switch (for operators and their tools)."""
        self._status.set(
            {"available": status.available, "note": status.note, "back_at": status.back_at}
        )
        self._cache.pop("status", None)

    def record_throughput(self, *, cutouts: int, seconds: float) -> None:
        """Fold measured time per cutout into the moving average.

        Measurements are added up in the process and written at most once
        every few seconds, without a transaction: concurrent workers may
        overwrite each other's average, which is harmless for an estimate and
        keeps the document cold (one document takes about one write a second).
        """
        if cutouts <= 0:
            return
        with self._pending_lock:
            self._pending_cutouts += cutouts
            self._pending_seconds += seconds
            due = time.monotonic() - self._last_written >= _THROUGHPUT_EVERY_SECONDS
            if not due:
                return
            cutouts, seconds = self._pending_cutouts, self._pending_seconds
            self._pending_cutouts, self._pending_seconds = 0, 0.0
            self._last_written = time.monotonic()
        measured = seconds / cutouts
        current = self.seconds_per_cutout()
        value = measured if current is None else (1 - _SMOOTHING) * current + _SMOOTHING * measured
        self._throughput.set({"seconds_per_cutout": value, "updated": datetime.now(UTC)})
        self._cache["throughput"] = (time.monotonic(), {"seconds_per_cutout": value})

    def seconds_per_cutout(self) -> float | None:
        """Return the measured average time of one cutout, or None before any."""
        doc = self._read(self._throughput, "throughput")
        value = (doc or {}).get("seconds_per_cutout")
        return float(value) if value is not None else None

    def quote(self, cutouts: int) -> datetime | None:
        """Estimate when a job of ``cutouts`` cutouts started now would end (UWS quote).

        None (``xsi:nil`` in the job document) until a rate has been measured.
        """
        rate = self.seconds_per_cutout()
        if rate is None:
            return None
        return datetime.now(UTC) + timedelta(seconds=rate * max(cutouts, 1))
