"""``<base>/bulk/check``: what each row of a bulk file would become, without running it.

POST the file as the multipart field ``BULK`` (with the same option fields
as a ``BULK`` upload to ``{async}``); the answer is JSON
(:func:`skycut.bulk.check.row_report`), the file read as its job
would read it (:meth:`skycut.bulk.dropfiles.DropFiles.parse`). Nothing is stored and no job
is made: the web page shows it before a person submits the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Request, Response

from skycut.api.bulk_form import bulk_form
from skycut.api.context import RequestContext
from skycut.bulk.check import row_report
from skycut.bulk.dropfiles import DropFiles
from skycut.bulk.drops import job_options
from skycut.bulk.found import FoundRecorder
from skycut.config import Settings
from skycut.sia.covering import CoveringImages

__all__ = ["CheckRoute"]


class CheckRoute:
    """Checks bulk files.

    Parameters
    ----------
    settings
        The limits of bulk files.
    drops
        Returns the reader of bulk files (the one that makes their jobs).
    covering
        Returns the finder of the images covering rows without ``id``.

    """

    def __init__(
        self,
        *,
        settings: Settings,
        drops: Callable[[], DropFiles],
        covering: Callable[[], CoveringImages],
    ) -> None:
        self._settings = settings
        self._drops = drops
        self._covering = covering

    def check(self, request: Request, ctx: RequestContext) -> Response:
        """Answer a POSTed ``BULK`` file with a JSON report of every row."""
        _ = ctx.owner  # only callers the service knows may use the index
        form = bulk_form(request, max_bytes=self._settings.max_bulk_bytes)
        parsed = self._drops().parse(
            form.data,
            name=form.filename,
            content_type=form.content_type,
            options=job_options(form.options),
            find=FoundRecorder(self._covering()),
        )
        return Response(json.dumps(row_report(parsed)), status=200, content_type="application/json")
