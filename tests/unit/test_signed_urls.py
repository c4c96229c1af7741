"""Signed result URLs: V4 signatures that verify, and lifetimes that follow the setting."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.cloud import storage  # type: ignore[attr-defined]
from google.oauth2 import service_account
from pydantic import ValidationError

from skycut.clients import Clients
from skycut.config import Settings
from skycut.storage.gcs import DownloadLinks

ACCOUNT = "skycut-results@skycut-test.iam.gserviceaccount.com"
OBJECT = "jobs/j-1/cutout 1+é.fits"  # a space, a plus and a non-ASCII letter to encode


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def client(key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A storage client signing with ``key`` as ``ACCOUNT``; it never goes on the network."""
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        {
            "type": "service_account",
            "project_id": "skycut-test",
            "private_key_id": "test-key",
            "private_key": pem,
            "client_email": ACCOUNT,
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )
    return storage.Client(project="skycut-test", credentials=credentials)


def signed_url(client: Any, seconds: int) -> str:
    links = DownloadLinks(
        client=client,
        results_bucket="skycut-results",
        public_base_url=None,
        signed_url_seconds=seconds,
    )
    return links.url(OBJECT)


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True, strict_parsing=True))


def signed_at(url: str) -> datetime:
    return datetime.strptime(query(url)["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def string_to_sign(url: str) -> bytes:
    """Rebuild the V4 string-to-sign from the URL, as Cloud Storage does to check it.

    https://cloud.google.com/storage/docs/authentication/signatures#string-to-sign
    """
    parts = urlsplit(url)
    params = query(url)
    params.pop("X-Goog-Signature")
    canonical_query = "&".join(
        f"{quote(name, safe='~')}={quote(value, safe='~')}"
        for name, value in sorted(params.items())
    )
    canonical_request = "\n".join(
        [
            "GET",
            parts.path,
            canonical_query,
            f"host:{parts.netloc}\n",
            params["X-Goog-SignedHeaders"],
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    return "\n".join(
        [
            params["X-Goog-Algorithm"],
            params["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    ).encode()


def verify(url: str, key: rsa.RSAPrivateKey) -> None:
    signature = bytes.fromhex(query(url)["X-Goog-Signature"])
    key.public_key().verify(signature, string_to_sign(url), padding.PKCS1v15(), hashes.SHA256())


def test_signed_url_is_a_v4_url_of_the_result_by_the_account(client: Any) -> None:
    before = datetime.now(UTC)
    url = signed_url(client, 900)
    parts, params = urlsplit(url), query(url)
    assert (parts.scheme, parts.netloc) == ("https", "storage.googleapis.com")
    assert parts.path == "/skycut-results/" + quote(OBJECT, safe="/~")
    assert params["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert params["X-Goog-SignedHeaders"] == "host"
    assert params["X-Goog-Expires"] == "900"
    # X-Goog-Date has whole seconds: allow the truncation as well as a slow machine
    assert before - timedelta(seconds=1) <= signed_at(url) <= datetime.now(UTC)
    date = params["X-Goog-Date"][:8]
    assert params["X-Goog-Credential"] == f"{ACCOUNT}/{date}/auto/storage/goog4_request"


def test_signature_verifies_with_the_accounts_public_key(
    client: Any, key: rsa.RSAPrivateKey
) -> None:
    verify(signed_url(client, 900), key)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Goog-Expires", "604800"),  # a longer life than was signed
        ("X-Goog-Date", "20300101T000000Z"),  # a later start than was signed
        ("X-Goog-Credential", "mallory@example.org/20300101/auto/storage/goog4_request"),
    ],
)
def test_signature_does_not_verify_once_the_url_is_altered(
    client: Any, key: rsa.RSAPrivateKey, name: str, value: str
) -> None:
    url = signed_url(client, 900)
    altered = url.replace(f"{name}={quote(query(url)[name], safe='~')}", f"{name}={value}")
    assert query(altered)[name] == value
    with pytest.raises(InvalidSignature):
        verify(altered, key)


def test_signature_from_another_key_does_not_verify(client: Any) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidSignature):
        verify(signed_url(client, 900), other)


@pytest.mark.parametrize("seconds", [60, 900, 7 * 24 * 3600])
def test_url_expires_the_set_number_of_seconds_after_signing(
    client: Any, seconds: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYCUT_SIGNED_URL_SECONDS", str(seconds))
    monkeypatch.delenv("SKYCUT_RESULTS_PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("SKYCUT_SIGNING_SERVICE_ACCOUNT", raising=False)
    clients = Clients(settings=Settings())
    clients.storage = client  # the factory's would need Application Default Credentials
    url = clients.links.url(OBJECT)
    # Cloud Storage refuses the URL from X-Goog-Date + X-Goog-Expires on
    expires = signed_at(url) + timedelta(seconds=int(query(url)["X-Goog-Expires"]))
    assert abs(expires - (datetime.now(UTC) + timedelta(seconds=seconds))) < timedelta(seconds=5)


@pytest.mark.parametrize("seconds", [0, -60])
def test_signed_url_lifetime_must_be_positive(seconds: int) -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        Settings(signed_url_seconds=seconds)
