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

from skycut.bulk.drops import DropObject
from skycut.bulk.submit import BulkSubmitter
from skycut.clients import Clients
from skycut.errors import UsageError

__all__ = ["store_bulk_upload", "submit_bulk_upload"]

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
) -> DropObject:
    """Put an uploaded bulk file in the drop bucket; return the stored object.

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
    return DropObject(settings.drop_bucket, name, str(blob.generation))


def submit_bulk_upload(
    clients: Clients,
    *,
    owner: str,
    filename: str,
    data: bytes,
    content_type: str | None,
    options: Mapping[str, str],
) -> str:
    """Store an uploaded bulk file and create its job now; return the job id.

    The job is the one the file's drop event would create (same id, same
    checks): a file that cannot be read makes a job in ERROR, as when dropped.

    Raises
    ------
    UsageError
        If the file is empty or over the configured size.

    """
    drop = store_bulk_upload(
        clients,
        owner=owner,
        filename=filename,
        data=data,
        content_type=content_type,
        options=options,
    )
    job_id = BulkSubmitter(clients=clients).submit(drop)
    if job_id is None:  # cannot happen: the object is under incoming/<owner>/
        raise UsageError(f"gs://{drop.bucket}/{drop.name} is not a bulk file")
    return job_id
