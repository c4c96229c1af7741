"""Bulk files posted to ``{async}`` (multipart field ``BULK``).

They are stored in the drop bucket under the caller's own
``incoming/<owner>/`` prefix, so they run exactly like dropped files.

Behind API Gateway this is how users submit bulk jobs: their identity is the
gateway's, and they need no write access to the drop bucket.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from skycut.bulk.submit import DropObject, bulk_job_id
from skycut.clients import Clients
from skycut.errors import UsageError

__all__ = ["store_bulk_upload"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SAFE_OWNER = re.compile(r"[^A-Za-z0-9@._+-]+")


def store_bulk_upload(
    clients: Clients,
    *,
    owner: str,
    filename: str,
    data: bytes,
    content_type: str | None,
    options: Mapping[str, str],
) -> str:
    """Put an uploaded bulk file in the drop bucket; return the id its job will have.

    Raises
    ------
    UsageError
        If the file is empty or over the configured size.

    """
    settings = clients.settings
    if not data:
        raise UsageError("the BULK file is empty")
    if len(data) > settings.max_bulk_bytes:
        raise UsageError(f"the BULK file is over {settings.max_bulk_bytes} bytes; split it")
    safe_owner = _SAFE_OWNER.sub("_", owner)[:200] or "anonymous"
    safe_name = _SAFE_NAME.sub("_", filename.rsplit("/", 1)[-1])[:100] or "bulk.csv"
    name = f"incoming/{safe_owner}/{uuid.uuid4().hex[:12]}-{safe_name}"
    blob = clients.storage.bucket(settings.drop_bucket).blob(name)
    blob.metadata = dict(options)
    blob.upload_from_string(data, content_type=content_type or "application/octet-stream")
    return bulk_job_id(DropObject(settings.drop_bucket, name, str(blob.generation)))
