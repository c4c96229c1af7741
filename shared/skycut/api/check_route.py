"""``<base>/bulk/check``: what each row of a bulk file would become, without running it.

POST the file as the multipart field ``BULK`` (with the same option fields
as a ``BULK`` upload to ``{async}``); the answer is JSON
(:func:`skycut.bulk.check.check_bulk_file`). Nothing is stored and no job
is made: the web page shows it before a person submits the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Request, Response

from skycut.api.context import RequestContext
from skycut.bulk.check import check_bulk_file
from skycut.bulk.drops import BULK_OPTIONS
from skycut.bulk.found import FoundRecorder
from skycut.config import Settings
from skycut.errors import UsageError
from skycut.sia.covering import CoveringImages

__all__ = ["CheckRoute"]


class CheckRoute:
    """Checks bulk files.

    Parameters
    ----------
    settings
        The limits of bulk files and the buckets an ID may name.
    covering
        Returns the finder of the images covering rows without ``id``.

    """

    def __init__(self, *, settings: Settings, covering: Callable[[], CoveringImages]) -> None:
        self._settings = settings
        self._covering = covering

    def check(self, request: Request, ctx: RequestContext) -> Response:
        """Answer a POSTed ``BULK`` file with a JSON report of every row."""
        _ = ctx.owner  # only callers the service knows may use the index
        files = [f for k, f in request.files.items(multi=True) if k.upper() == "BULK"]
        if len(files) != 1:
            raise UsageError("send one BULK file (multipart/form-data) to check")
        upload = files[0]
        settings = self._settings
        report = check_bulk_file(
            upload.read(settings.max_bulk_bytes + 1),
            filename=upload.filename or "bulk.csv",
            content_type=upload.mimetype,
            options={k.lower(): v for k, v in request.form.items() if k.lower() in BULK_OPTIONS},
            allowed_buckets=settings.source_buckets,
            find=FoundRecorder(self._covering()),
            max_bytes=settings.max_bulk_bytes,
            max_rows=settings.max_bulk_rows,
        )
        return Response(json.dumps(report), status=200, content_type="application/json")
