"""Who is calling: the API Gateway's user info header, or a development identity."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Protocol

from skycut.config import Settings
from skycut.errors import SkycutError

__all__ = ["USERINFO_HEADER", "AuthenticationError", "caller_identity"]

USERINFO_HEADER = "X-Apigateway-Api-Userinfo"


class _Headers(Protocol):
    def get(self, key: str, /) -> str | None: ...


class AuthenticationError(SkycutError):
    """The gateway's identity header is missing or unreadable."""

    label = "AuthenticationError"
    status_code = 401


def caller_identity(headers: _Headers, settings: Settings) -> str:
    """Return the caller's identity for job ownership.

    Behind API Gateway (``trust_gateway_identity``) the gateway has checked
    the caller's token and passes its claims base64url-encoded; ``email`` is
    preferred, else ``sub``. Anywhere else that header could be forged, so it
    is ignored and the configured development identity is used.

    Raises
    ------
    AuthenticationError
        Behind the gateway, if the header is absent or carries no identity.

    """
    if not settings.trust_gateway_identity:
        return settings.dev_identity
    raw = headers.get(USERINFO_HEADER)
    if not raw:
        raise AuthenticationError("no authenticated identity reached the service")
    try:
        padded = raw + "=" * (-len(raw) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError) as e:
        raise AuthenticationError("the identity header is not base64url JSON") from e
    identity = claims.get("email") or claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(identity, str) or not identity:
        raise AuthenticationError("the identity header names no user (no email or sub)")
    return identity
