"""Cloud Storage access: range reads of sources, writes and links of results."""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from google.api_core import exceptions as gexc

from skycut.errors import ServiceUnavailableError, SourceChangedError, UsageError
from skycut.soda.ids import ObjectVersion, SourceRef

__all__ = ["DownloadLinks", "GcsRangeReader", "ResultWriter", "UrlSigner"]

_TRANSIENT = (
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.TooManyRequests,
    gexc.GatewayTimeout,
    ConnectionError,
)


class GcsRangeReader:
    """A :class:`~skycut.cutout.reader.RangeReader` over one version of a Cloud Storage object.

    Each :meth:`read_range` is one HTTP GET with a ``Range`` header; the object
    is never downloaded whole. Every read is pinned to one generation: the one
    given (what a cache learned earlier), or else the one the first read
    answers with. A read of a generation that is no longer the live object
    raises `SourceChangedError` rather than returning bytes of another version,
    so nothing read through one reader ever mixes two versions.
    """

    def __init__(
        self,
        *,
        client: Any,
        source: SourceRef,
        generation: int | None = None,
        size: int | None = None,
    ) -> None:
        self._source = source
        self._bucket = client.bucket(source.bucket)
        self._generation = generation
        self._confirmed = False
        # a size known with the generation (an object event carries both) saves a request
        self._size = size if generation is not None else None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The source's gs:// URI."""
        return self._source.uri

    @property
    def source(self) -> SourceRef:
        """The object read."""
        return self._source

    @property
    def generation(self) -> int | None:
        """The generation every read is of; None until the first read."""
        return self._generation

    @property
    def version(self) -> ObjectVersion | None:
        """The object version read; None until the first read."""
        return None if self._generation is None else self._source.at(self._generation)

    def size(self) -> int:
        """Return the object's size (one metadata request, then cached)."""
        if self._size is None:
            blob = self._blob()
            self._call(blob.reload, **self._condition())
            self._learn(blob.generation)
            self._size = int(blob.size)
        return self._size

    def read_range(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` of the object."""
        if stop <= start:
            return b""
        blob = self._blob()
        data: bytes = self._call(
            blob.download_as_bytes,
            start=start,
            end=stop - 1,
            checksum=None,
            **self._condition(),
        )
        self._learn(blob.generation)
        return data

    def confirm(self) -> ObjectVersion:
        """Check that the version named was the live object when read, and return it.

        Costs a metadata request only if no read has shown it yet, i.e. when
        everything came from a cache keyed by this version.

        Raises
        ------
        SourceChangedError
            If the object was replaced or deleted since.

        """
        if not self._confirmed:
            self._size = None
            self.size()
        version = self.version
        if version is None:  # pragma: no cover - size() always learns it
            raise SourceChangedError(f"source {self._source.uri} has no generation")
        return version

    def _blob(self) -> Any:
        # a Blob per request: the library writes response headers into it,
        # and reads of one reader run in parallel threads
        return self._bucket.blob(self._source.name, generation=self._generation)

    def _condition(self) -> dict[str, int]:
        # `generation` selects the version (404 once it is gone, as on the
        # emulator); the precondition also refuses it once it is not the live
        # object (412), which on a versioned bucket it may still be readable as
        generation = self._generation
        return {} if generation is None else {"if_generation_match": generation}

    def _learn(self, answered: Any) -> None:
        if answered is None:
            return
        generation = int(answered)
        with self._lock:
            if self._generation is None:
                self._generation = generation
            elif generation != self._generation:
                raise SourceChangedError(
                    f"source {self._source.uri} changed while it was read "
                    f"(generation {self._generation}, now {generation})"
                )
            self._confirmed = True

    def _call(self, fn: Any, /, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except (gexc.NotFound, gexc.PreconditionFailed) as e:
            if self._generation is not None:
                raise SourceChangedError(
                    f"source {self._source.uri} generation {self._generation} "
                    "was replaced or deleted"
                ) from e
            if isinstance(e, gexc.PreconditionFailed):  # pragma: no cover - no condition sent
                raise ServiceUnavailableError(f"storage refused reading {self.name}") from e
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
    """Writes, reads and deletes result objects in the results bucket."""

    def __init__(self, *, client: Any, bucket: str) -> None:
        self._bucket = client.bucket(bucket)
        self.bucket_name = bucket

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


class DownloadLinks:
    """Hands out the URLs clients download results (and sources) from.

    Apart from `ResultWriter`: a link is signed with the signer's rights, which
    only the API needs; the worker writes results and links none.
    """

    def __init__(
        self,
        *,
        client: Any,
        results_bucket: str,
        public_base_url: str | None,
        signed_url_seconds: int,
        signer: UrlSigner | None = None,
    ) -> None:
        self._client = client
        self._results_bucket = results_bucket
        self._public = public_base_url.rstrip("/") if public_base_url else None
        self._ttl = timedelta(seconds=signed_url_seconds)
        self._signer = signer

    def url(self, object_name: str) -> str:
        """Return the URL a client downloads a result from."""
        return self.object_url(self._results_bucket, object_name)

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
