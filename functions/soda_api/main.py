"""Cloud Function entry point: the SODA HTTP API (sync, async/UWS, VOSI)."""

from __future__ import annotations

from functools import lru_cache

import functions_framework
from flask import Request, Response

from skycut.api.app import SodaApi
from skycut.api.factory import ApiFactory
from skycut.clients import Clients
from skycut.config import get_settings
from skycut.logs import configure_logging

__all__ = ["soda_api"]


@lru_cache(maxsize=1)
def _api() -> SodaApi:
    # Built on first request, not at import; its services on their first use.
    configure_logging()
    return ApiFactory(Clients(get_settings())).api()


@functions_framework.http
def soda_api(request: Request) -> Response:
    """Answer one HTTP request to the SODA service."""
    return _api()(request)
