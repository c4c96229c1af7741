"""The service's externally visible URLs."""

from __future__ import annotations

from flask import Request

from skycut.config import Settings

__all__ = ["service_base_url"]


def service_base_url(request: Request, settings: Settings) -> str:
    """Return the base URL clients see, e.g. ``http://127.0.0.1:8080/api/image/soda``.

    A configured ``public_base_url`` wins; otherwise the request's own host,
    corrected by ``X-Forwarded-Proto``/``X-Forwarded-Host`` when a proxy
    (API Gateway, a load balancer) set them.
    """
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{proto}://{host}{settings.base_path}"
