"""``<base>/mosaic/sync``: a mosaic of the images covering a region, ``303`` to the result.

GET or POST the mosaic parameters (:mod:`skycut.mosaic.request`); a header
``TEMPLATE`` may be a form value or an uploaded file (``multipart/form-data``).
The mosaic is made in this request (`skycut.mosaic.service.MosaicService`),
so its size and inputs are limited by the ``mosaic_sync_*`` settings; the
answer is a ``303 See Other`` to the result, as SODA sync answers, or a
labelled text error (``400`` for a bad request or a region no image covers).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from flask import Request, Response

from skycut.api.context import RequestContext
from skycut.api.http import redirect, request_params
from skycut.config import Settings
from skycut.errors import UsageError
from skycut.jobs.service_state import ServiceStatus, refuse_if_draining
from skycut.mosaic.request import parse_mosaic_request
from skycut.mosaic.service import MosaicService
from skycut.soda.params import group_params

__all__ = ["MosaicRoute"]


class MosaicRoute:
    """Answers synchronous mosaic requests.

    Parameters
    ----------
    settings
        The limits and the buckets an ``ID`` may name.
    service
        Returns the mosaic service (built on first use).
    result_url
        The download URL of a result object.
    status
        The operators' drain switch: while drained, a mosaic is refused (``503``) as
        sync cutouts and new jobs are.

    """

    def __init__(
        self,
        *,
        settings: Settings,
        service: Callable[[], MosaicService],
        result_url: Callable[[str], str],
        status: Callable[[], ServiceStatus],
    ) -> None:
        self._settings = settings
        self._make_service = service
        self._result_url = result_url
        self._status = status

    @cached_property
    def _service(self) -> MosaicService:
        return self._make_service()

    def sync(self, request: Request, ctx: RequestContext) -> Response:
        """GET or POST the mosaic parameters: ``303`` to the mosaic."""
        _ = ctx.owner  # only callers the service knows may read the sources
        settings = self._settings
        files = [f for k, f in request.files.items(multi=True) if k.upper() == "TEMPLATE"]
        if len(files) > 1:
            raise UsageError("send one TEMPLATE file")
        template = files[0].read(settings.max_request_bytes + 1) if files else None
        if template is not None and len(template) > settings.max_request_bytes:
            raise UsageError(f"TEMPLATE is over the limit of {settings.max_request_bytes} bytes")
        parsed = parse_mosaic_request(
            group_params(request_params(request)),
            template=template,
            allowed_buckets=settings.source_buckets,
            max_pixels=settings.mosaic_sync_max_pixels,
            max_inputs=settings.mosaic_sync_max_inputs,
            max_area=settings.mosaic_sync_max_area,
        )
        refuse_if_draining(self._status())
        made = self._service.make(parsed)
        return redirect(self._result_url(made.object_name))
