"""Per-request facts routes need: who is calling, and the service's URLs."""

from __future__ import annotations

from functools import cached_property

from flask import Request

from skycut.api.identity import caller_identity
from skycut.api.urls import service_base_url
from skycut.config import Settings

__all__ = ["RequestContext"]


class RequestContext:
    """The caller and the externally visible URLs of one request.

    The identity is only looked at when a route asks for it, so the VOSI
    resources stay anonymous (VOSI §2) even behind the gateway.
    """

    def __init__(self, request: Request, settings: Settings) -> None:
        self._request = request
        self._settings = settings

    @cached_property
    def owner(self) -> str:
        """The caller's identity (raises AuthenticationError if there is none)."""
        return caller_identity(self._request.headers, self._settings)

    @cached_property
    def base_url(self) -> str:
        """The SODA service's base URL as the client sees it."""
        return service_base_url(self._request, self._settings)

    @property
    def async_url(self) -> str:
        """URL of the UWS job list."""
        return f"{self.base_url}/async"

    def job_url(self, job_id: str) -> str:
        """URL of one job."""
        return f"{self.async_url}/{job_id}"
