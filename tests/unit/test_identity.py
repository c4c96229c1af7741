import base64
import json

import pytest

from skycut.api.identity import USERINFO_HEADER, AuthenticationError, caller_identity
from skycut.config import Settings


def userinfo(claims):
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")


def test_gateway_header_is_ignored_unless_trusted():
    settings = Settings(dev_identity="local-dev")
    headers = {USERINFO_HEADER: userinfo({"email": "mallory@example.org"})}
    assert caller_identity(headers, settings) == "local-dev"


@pytest.mark.parametrize(
    ("claims", "expected"),
    [({"email": "ada@example.org", "sub": "123"}, "ada@example.org"), ({"sub": "123"}, "123")],
)
def test_gateway_identity_prefers_email_then_sub(claims, expected):
    settings = Settings(trust_gateway_identity=True)
    assert caller_identity({USERINFO_HEADER: userinfo(claims)}, settings) == expected


@pytest.mark.parametrize(
    "header", [None, "!!!not base64!!!", userinfo({"aud": "x"}), userinfo(["a"])]
)
def test_gateway_mode_refuses_missing_or_empty_identity(header):
    settings = Settings(trust_gateway_identity=True)
    headers = {} if header is None else {USERINFO_HEADER: header}
    with pytest.raises(AuthenticationError):
        caller_identity(headers, settings)
