"""Structured JSON logging in the Cloud Logging format (a ``severity`` key)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["configure_logging", "log"]

_LOGGER = logging.getLogger("skycut")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "message": record.getMessage(),
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Send skycut's logs to stdout as one JSON object per line (idempotent)."""
    if any(isinstance(h.formatter, _JsonFormatter) for h in _LOGGER.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JsonFormatter())
    _LOGGER.addHandler(handler)
    _LOGGER.setLevel(level)
    _LOGGER.propagate = False


def log(level: int, message: str, /, *, exc_info: bool = False, **fields: Any) -> None:
    """Log ``message`` with structured ``fields`` (e.g. ``job_id=...``)."""
    _LOGGER.log(level, message, exc_info=exc_info, extra={"fields": fields})
