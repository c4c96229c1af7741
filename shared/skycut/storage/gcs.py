"""Cloud Storage access: range reads of sources, writes and links of results."""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import quote

import requests
from google.api_core import exceptions as gexc
from google.auth.transport.requests import AuthorizedSession
from requests.adapters import HTTPAdapter

from skycut.errors import ServiceUnavailableError, SourceChangedError, UsageError
from skycut.soda.ids import ObjectVersion, SourceRef

__all__ = ["DownloadLinks", "GcsRangeReader", "ResultWriter", "UrlSigner", "range_session"]

TRANSIENT_ERRORS = (
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.TooManyRequests,
    gexc.GatewayTimeout,
    ConnectionError,
)
_RETRIED = frozenset({408, 429, 500, 502, 503, 504})
_ATTEMPTS = 3  # then the error is transient: the job's message is delivered again
_BACKOFF = 0.05  # seconds before the first retry; x4 each time
_TIMEOUT = (10.0, 60.0)  # connect, read (between bytes)
_PIECE = 1 << 20
_CONNECTIONS = 32  # kept alive per client: several cuts at once, each up to read_concurrency


class GcsRangeReader:
    """A :class:`~skycut.cutout.reader.RangeReader` over one version of a Cloud Storage object.

    Each :meth:`read_range` is one HTTP GET with a ``Range`` header; the object
    is never downloaded whole. Every read is pinned to one generation: the one
    given (what a cache learned earlier), or else the one the first read
    answers with. A read of a generation that is no longer the live object
    raises `SourceChangedError` rather than returning bytes of another version,
    so nothing read through one reader ever mixes two versions.

    The GET is made directly on an authorised session with the storage
    client's credentials (`range_session`), not through
    ``Blob.download_as_bytes``: that path streams the body in small chunks
    and hides the response headers, where the object's generation
    (``x-goog-generation``) and size (``Content-Range``) come back with every
    read, so no metadata request is needed to learn either.
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
        self._client = client
        self._url = (
            f"{client.api_endpoint}/download/storage/v1/b/{quote(source.bucket, safe='')}"
            f"/o/{quote(source.name, safe='')}"
        )
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
        """Return the object's size: learned from a read, else one metadata request."""
        if self._size is None:
            blob = self._client.bucket(self._source.bucket).blob(
                self._source.name, generation=self._generation
            )
            self._call(blob.reload, **self._condition())
            self._learn(blob.generation)
            self._size = int(blob.size)
        return self._size

    def known_size(self) -> int | None:
        """Return the object's size if a read (or the caller) told it, else None."""
        return self._size

    def read_range(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` of the object."""
        if stop <= start:
            return b""
        generation = self._generation
        params = {"alt": "media"}
        if generation is not None:
            # `generation` selects the version (404 once it is gone, as on the
            # emulator); the precondition also refuses it once it is not the live
            # object (412), which on a versioned bucket it may still be readable as
            params["generation"] = params["ifGenerationMatch"] = str(generation)
        headers = {"Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
        status, answered, data = self._get(params, headers)
        self._learn(answered.get("x-goog-generation"))
        if status == 200:  # the whole object: the store ignored the range
            self._size = len(data)
            return data[start:stop]
        total = answered.get("content-range", "").rpartition("/")[2]
        if total.isdigit():
            self._size = int(total)
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

    def _get(
        self, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send one range GET, retrying what may pass; return status, headers and body."""
        session = range_session(self._client)
        for attempt in range(_ATTEMPTS):
            try:
                response = session.get(
                    self._url, params=params, headers=headers, stream=True, timeout=_TIMEOUT
                )
                with response:  # back to the pool once read
                    # in large pieces: `.content` reads 10 KiB at a time, slow for big ranges
                    data = b"".join(response.iter_content(_PIECE)) if response.ok else b""
            except requests.RequestException:
                if attempt + 1 == _ATTEMPTS:
                    raise ServiceUnavailableError(
                        f"storage unavailable reading {self._source.uri}"
                    ) from None
            else:
                status = response.status_code
                if status in (200, 206):
                    return status, {k.lower(): v for k, v in response.headers.items()}, data
                if status not in _RETRIED or attempt + 1 == _ATTEMPTS:
                    self._refused(status)
            time.sleep(_BACKOFF * 4**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _refused(self, status: int) -> NoReturn:
        """Raise the error of a refused read."""
        uri = self._source.uri
        if status in (404, 412):
            if self._generation is not None:
                raise SourceChangedError(
                    f"source {uri} generation {self._generation} was replaced or deleted"
                )
            if status == 412:  # pragma: no cover - no condition sent
                raise ServiceUnavailableError(f"storage refused reading {uri}")
            raise UsageError(f"source {uri} does not exist")
        if status in (401, 403):
            raise UsageError(f"source {uri} is not readable by skycut")
        if status == 416:
            raise UsageError(f"source {uri} is shorter than its headers say")
        raise ServiceUnavailableError(f"storage answered HTTP {status} reading {uri}")

    def _condition(self) -> dict[str, int]:
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
        except TRANSIENT_ERRORS as e:
            raise ServiceUnavailableError(f"storage unavailable reading {self._source.uri}") from e


_SESSIONS: weakref.WeakKeyDictionary[Any, requests.Session] = weakref.WeakKeyDictionary()
_SESSIONS_LOCK = threading.Lock()


def range_session(client: Any) -> requests.Session:
    """Return the session range reads through ``client`` share: its credentials, a larger pool.

    The client's own session (``client._http``) keeps 10 connections, fewer
    than the requests several cuts have in flight (the surplus ones are
    opened and closed again, a round trip each), and looks up proxies and CA
    bundle in the process environment on every request (``trust_env``; 0.2-0.6
    ms a request here). This one is made once per client with the same
    credentials, 32 connections kept alive, and the environment's settings for
    the storage endpoint read once. A client with a mutual-TLS channel keeps
    its own session (its adapter holds the client certificate).

    Parameters
    ----------
    client
        A ``google.cloud.storage.Client``.

    Returns
    -------
    requests.Session
        An authorised session; shared, safe to use from many threads.

    """
    own: requests.Session = client._http
    if getattr(own, "is_mtls", False):
        return own
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(client)
        if session is None:
            session = AuthorizedSession(client._credentials)  # type: ignore[no-untyped-call]
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=_CONNECTIONS)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            found = session.merge_environment_settings(client.api_endpoint, {}, None, None, None)
            session.proxies.update(found["proxies"])
            session.verify = found["verify"]
            session.trust_env = False  # read just now, for this endpoint
            _SESSIONS[client] = session
    return session


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
        except TRANSIENT_ERRORS as e:
            raise ServiceUnavailableError(f"storage unavailable writing {object_name}") from e
        return len(data)

    def delete(self, object_names: list[str]) -> None:
        """Delete result objects (missing ones are fine)."""
        for name in object_names:
            with contextlib.suppress(gexc.NotFound):
                self._bucket.blob(name).delete()

    def delete_under(self, prefix: str) -> int:
        """Delete every object whose name starts with ``prefix``; return how many there were."""
        removed = 0
        try:
            for blob in self._bucket.list_blobs(prefix=prefix):
                with contextlib.suppress(gexc.NotFound):
                    blob.delete()
                removed += 1
        except TRANSIENT_ERRORS as e:
            raise ServiceUnavailableError(f"storage unavailable deleting {prefix}") from e
        return removed

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
