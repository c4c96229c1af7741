"""Bulk files posted to ``{async}`` (multipart field ``BULK``).

They are stored in the drop bucket under the caller's own
``incoming/<owner>/`` prefix, so they run exactly like dropped files, and
their job is created before the API answers: the redirect it sends names a
job that is there (the drop event that follows finds it and does nothing).

Behind API Gateway this is how users submit bulk jobs: their identity is the
gateway's, and they need no write access to the drop bucket.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from skycut.bulk.drops import DropObject
from skycut.errors import UsageError

__all__ = ["OWNER_FOLDER", "BulkUpload", "check_upload_size", "store_bulk_upload"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_OWNER_CHARACTERS = "A-Za-z0-9@._+-"
OWNER_FOLDER = re.compile(f"[{_OWNER_CHARACTERS}]+")
"""An owner's folder under ``incoming/``: the characters an upload keeps of an identity."""
_SAFE_OWNER = re.compile(f"[^{_OWNER_CHARACTERS}]+")


@dataclass(frozen=True)
class BulkUpload:
    """A bulk file posted to the API, and who posted it."""

    owner: str
    filename: str
    data: bytes
    content_type: str | None
    options: Mapping[str, str]


def check_upload_size(data: bytes, *, max_bytes: int) -> None:
    """Refuse an empty bulk file, or one over ``max_bytes``.

    Raises
    ------
    UsageError
        Saying which.

    """
    if not data:
        raise UsageError("the BULK file is empty")
    if len(data) > max_bytes:
        raise UsageError(f"the BULK file is over {max_bytes} bytes; split it")


def store_bulk_upload(
    storage: Any, upload: BulkUpload, *, drop_bucket: str, max_bytes: int
) -> DropObject:
    """Put an uploaded bulk file in the drop bucket; return the stored object.

    Parameters
    ----------
    storage
        A Cloud Storage client.
    upload
        The file and its owner.
    drop_bucket
        The bucket whose files are bulk requests.
    max_bytes
        The largest file accepted.

    Raises
    ------
    UsageError
        If the file is empty or over ``max_bytes``.

    """
    data = upload.data
    check_upload_size(data, max_bytes=max_bytes)
    safe_owner = _SAFE_OWNER.sub("_", upload.owner)[:200] or "anonymous"
    safe_name = _SAFE_NAME.sub("_", upload.filename.rsplit("/", 1)[-1])[:100] or "bulk.csv"
    name = f"incoming/{safe_owner}/{uuid.uuid4().hex[:12]}-{safe_name}"
    blob = storage.bucket(drop_bucket).blob(name)
    blob.metadata = dict(upload.options)
    blob.upload_from_string(data, content_type=upload.content_type or "application/octet-stream")
    return DropObject(drop_bucket, name, str(blob.generation))
