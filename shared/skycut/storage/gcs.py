"""Cloud Storage access: range reads of sources, writes and links of results."""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from google.api_core import exceptions as gexc

from skycut.errors import ServiceUnavailableError, UsageError
from skycut.soda.ids import SourceRef

__all__ = ["GcsRangeReader", "ResultWriter", "UrlSigner"]

_TRANSIENT = (
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.TooManyRequests,
    gexc.GatewayTimeout,
    ConnectionError,
)


class GcsRangeReader:
    """A :class:`~skycut.cutout.reader.RangeReader` over one Cloud Storage object.

    Each :meth:`read_range` is one HTTP GET with a ``Range`` header; the object
    is never downloaded whole.
    """

    def __init__(self, *, client: Any, source: SourceRef) -> None:
        self._source = source
        self._blob = client.bucket(source.bucket).blob(source.name)
        self._size: int | None = None

    @property
    def name(self) -> str:
        """The source's gs:// URI."""
        return self._source.uri

    def size(self) -> int:
        """Return the object's size (one metadata request, then cached)."""
        if self._size is None:
            self._call(self._blob.reload)
            self._size = int(self._blob.size)
        return self._size

    def read_range(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` of the object."""
        if stop <= start:
            return b""
        data: bytes = self._call(
            self._blob.download_as_bytes, start=start, end=stop - 1, checksum=None
        )
        return data

    def _call(self, fn: Any, /, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except gexc.NotFound as e:
            raise UsageError(f"source {self._source.uri} does not exist") from e
        except gexc.Forbidden as e:
            raise UsageError(f"source {self._source.uri} is not readable by skycut") from e
        except gexc.RequestRangeNotSatisfiable as e:
            raise UsageError(f"source {self._source.uri} is shorter than its headers say") from e
        except _TRANSIENT as e:
            raise ServiceUnavailableError(f"storage unavailable reading {self._source.uri}") from e


class UrlSigner:
    """Signs V4 URLs through IAM as a service account, for runtimes without a key.

    Cloud Functions credentials are tokens, not keys: the storage client then
    signs by calling IAM ``signBlob`` as ``service_account_email`` with the
    current access token (the account needs Token Creator on itself).
    """

    def __init__(self, *, service_account_email: str) -> None:
        self._email = service_account_email
        self._credentials: Any = None
        self._lock = threading.Lock()

    def signing_arguments(self) -> dict[str, str]:
        """Return the keyword arguments of ``generate_signed_url`` for IAM signing."""
        import google.auth
        import google.auth.transport.requests

        with self._lock:
            if self._credentials is None:
                self._credentials, _ = google.auth.default(
                    scopes=["https://www.googleapis.com/auth/cloud-platform"]
                )
            if not self._credentials.valid:
                self._credentials.refresh(google.auth.transport.requests.Request())
            token: str = self._credentials.token
        return {"service_account_email": self._email, "access_token": token}


class ResultWriter:
    """Writes result objects and hands out the URLs clients fetch them from."""

    def __init__(
        self,
        *,
        client: Any,
        bucket: str,
        public_base_url: str | None,
        signed_url_seconds: int,
        signer: UrlSigner | None = None,
    ) -> None:
        self._client = client
        self._bucket = client.bucket(bucket)
        self.bucket_name = bucket
        self._public = public_base_url.rstrip("/") if public_base_url else None
        self._ttl = timedelta(seconds=signed_url_seconds)
        self._signer = signer

    def write(
        self,
        object_name: str,
        data: bytes,
        *,
        content_type: str,
        expires: datetime | None = None,
    ) -> int:
        """Upload one result; return its size in bytes.

        ``expires`` becomes the object's Custom-Time, which the results bucket's
        lifecycle rule (days since custom time = 0) deletes it after; the
        bucket's age rule is the backstop for objects without one.
        """
        blob = self._bucket.blob(object_name)
        if expires is not None:
            blob.custom_time = expires
        try:
            blob.upload_from_string(data, content_type=content_type)
        except _TRANSIENT as e:
            raise ServiceUnavailableError(f"storage unavailable writing {object_name}") from e
        return len(data)

    def delete(self, object_names: list[str]) -> None:
        """Delete result objects (missing ones are fine)."""
        for name in object_names:
            with contextlib.suppress(gexc.NotFound):
                self._bucket.blob(name).delete()

    def read(self, object_name: str) -> bytes:
        """Return a (small) result object, e.g. an error document."""
        data: bytes = self._bucket.blob(object_name).download_as_bytes()
        return data

    def url(self, object_name: str) -> str:
        """Return the URL a client downloads the result from."""
        return self.object_url(self.bucket_name, object_name)

    def object_url(self, bucket: str, object_name: str) -> str:
        """Return a download URL of any object skycut may read (results, sources)."""
        if self._public is not None:
            return f"{self._public}/{bucket}/{quote(object_name, safe='/')}"
        extra = self._signer.signing_arguments() if self._signer is not None else {}
        url: str = (
            self._client.bucket(bucket)
            .blob(object_name)
            .generate_signed_url(version="v4", expiration=self._ttl, method="GET", **extra)
        )
        return url
