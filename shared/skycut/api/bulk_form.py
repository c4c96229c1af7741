"""The ``BULK`` part of a multipart request: the file, its name and type, the job options.

Both ``{async}`` (a bulk job) and ``<base>/bulk/check`` (its rows checked,
nothing run) take a bulk file this way.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Request

from skycut.bulk.drops import BULK_OPTIONS, job_options
from skycut.bulk.upload import check_upload_size
from skycut.errors import UsageError

__all__ = ["BulkForm", "bulk_form"]


@dataclass(frozen=True)
class BulkForm:
    """A posted bulk file and its job-wide options (checked)."""

    filename: str
    data: bytes
    content_type: str | None
    options: dict[str, str]


def bulk_form(request: Request, *, max_bytes: int) -> BulkForm:
    """Return the request's one ``BULK`` file (at most ``max_bytes``) and its options.

    Raises
    ------
    UsageError
        If there is not exactly one ``BULK`` file, it is empty or too big, or
        an option (``package``, ``package_size``) is not valid.

    """
    files = [f for k, f in request.files.items(multi=True) if k.upper() == "BULK"]
    if len(files) != 1:
        raise UsageError("send one BULK file per request")
    upload = files[0]
    options = {k.lower(): v for k, v in request.form.items() if k.lower() in BULK_OPTIONS}
    job_options(options)  # refuse bad options now rather than in a failed job
    data = upload.read(max_bytes + 1)
    check_upload_size(data, max_bytes=max_bytes)
    return BulkForm(
        filename=upload.filename or "bulk.csv",
        data=data,
        content_type=upload.mimetype,
        options=options,
    )
