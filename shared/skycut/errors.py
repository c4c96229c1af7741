"""The one error hierarchy of skycut.

Every error a user can see carries its IVOA label (SODA 1.0 §5.2, DALI 1.1
§4.2) and the HTTP status the API answers with; the API renders them in one
place and the worker records them on the job.
"""

from __future__ import annotations

from typing import ClassVar, Literal

__all__ = [
    "ConflictError",
    "ErrorType",
    "MultiValuedParamNotSupportedError",
    "NoOverlapError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServiceUnavailableError",
    "SkycutError",
    "SourceChangedError",
    "UnsupportedSourceError",
    "UsageError",
]

ErrorType = Literal["fatal", "transient"]


class SkycutError(Exception):
    """Root of every error skycut reports to a user."""

    label: ClassVar[str] = "Error"
    status_code: ClassVar[int] = 500
    error_type: ClassVar[ErrorType] = "fatal"

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_text(self) -> str:
        """Render as the DALI text/plain error body: ``Label: message``."""
        return f"{self.label}: {self.message}"


class UsageError(SkycutError):
    """A parameter is malformed, out of range or refers to nothing usable."""

    label = "UsageError"
    status_code = 400


class MultiValuedParamNotSupportedError(UsageError):
    """A parameter was repeated where only one value is supported."""

    label = "MultiValuedParamNotSupported"


class NoOverlapError(UsageError):
    """The stencil does not overlap the image."""


class UnsupportedSourceError(UsageError):
    """The source file is readable but not a kind of image skycut can cut yet."""


class NotFoundError(SkycutError):
    """The job, result or source object does not exist (for this user)."""

    label = "NotFound"
    status_code = 404


class PermissionDeniedError(SkycutError):
    """The request is not allowed in the job's current state or for this user."""

    label = "AuthorizationError"
    status_code = 403


class ConflictError(PermissionDeniedError):
    """A phase change that UWS does not allow from the current phase."""

    label = "UsageError"


class ServiceUnavailableError(SkycutError):
    """A back end (Firestore, Pub/Sub, Storage) cannot be reached right now."""

    label = "ServiceUnavailable"
    status_code = 503
    error_type = "transient"


class SourceChangedError(ServiceUnavailableError):
    """The source object was replaced or deleted while it was being read.

    Raised instead of returning bytes of another version than the one already
    read from: the caller forgets what it knew of the object and starts over.
    """
