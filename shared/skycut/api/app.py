"""HTTP routing of the API: SODA sync, the UWS async tree, VOSI, DataLink, SIA 2.0, errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property

from flask import Request, Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from skycut.api.check_route import CheckRoute
from skycut.api.context import RequestContext
from skycut.api.http import redirect, request_params, text, xml
from skycut.api.links import LinksRoute
from skycut.api.mosaic_jobs_route import MosaicJobRoutes
from skycut.api.mosaic_route import MosaicRoute
from skycut.api.service import SodaService, parse_job_parameters
from skycut.api.sia_route import SiaRoute
from skycut.api.ui_route import UiRoute
from skycut.api.uws_routes import UwsRoutes
from skycut.config import Settings
from skycut.errors import SkycutError
from skycut.jobs.service_state import ServiceStatus
from skycut.logs import log
from skycut.mosaic.capability import mosaic_capability, mosaic_job_capability
from skycut.sia.capability import sia_capability
from skycut.soda.semantics import COLLECTION_PARAMETER, OPTION_PARAMETERS
from skycut.timing import Steps
from skycut.uws.model import ExecutionPhase
from skycut.vosi.xml import SodaParameter, availability_xml, capabilities_xml

__all__ = ["ROUTES", "SUPPORTED_PARAMETERS", "SodaApi"]

# SODA §4: describe only what works (POS with all three shapes, and BAND, TIME, POL).
SUPPORTED_PARAMETERS: tuple[SodaParameter, ...] = (
    "ID",
    "POS",
    "CIRCLE",
    "POLYGON",
    "BAND",
    "TIME",
    "POL",
    "RESPONSEFORMAT",
)

# (path under the base path, endpoint, methods); the API Gateway's OpenAPI
# document must list exactly these.
ROUTES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/sync", "sync", ("GET", "POST")),
    ("/availability", "availability", ("GET",)),
    ("/capabilities", "capabilities", ("GET",)),
    ("/async", "uws.job_list", ("GET", "POST")),
    ("/async/<job_id>", "uws.job", ("GET", "POST", "DELETE")),
    ("/async/<job_id>/phase", "uws.phase", ("GET", "POST")),
    ("/async/<job_id>/executionduration", "uws.execution_duration", ("GET", "POST")),
    ("/async/<job_id>/destruction", "uws.destruction", ("GET", "POST")),
    ("/async/<job_id>/<any(owner, quote):atom>", "uws.atom", ("GET",)),
    ("/async/<job_id>/results", "uws.results", ("GET",)),
    ("/async/<job_id>/results/<result_id>", "uws.result", ("GET",)),
    ("/async/<job_id>/parameters", "uws.parameters", ("GET", "POST")),
    ("/async/<job_id>/error", "uws.error", ("GET",)),
    ("/links", "links.links", ("GET", "POST")),
    ("/sia/query", "sia.query", ("GET", "POST")),
    # SIA 2.0 §2: VOSI capabilities are a sibling of {query}
    ("/sia/capabilities", "capabilities", ("GET",)),
    ("/bulk/check", "check.check", ("POST",)),
    ("/mosaic/sync", "mosaic.sync", ("GET", "POST")),
    # asynchronous mosaics: the same UWS tree as {async}, over mosaic jobs
    ("/mosaic", "mosaic_jobs.job_list", ("GET", "POST")),
    ("/mosaic/<job_id>", "mosaic_jobs.job", ("GET", "POST", "DELETE")),
    ("/mosaic/<job_id>/phase", "mosaic_jobs.phase", ("GET", "POST")),
    ("/mosaic/<job_id>/executionduration", "mosaic_jobs.execution_duration", ("GET", "POST")),
    ("/mosaic/<job_id>/destruction", "mosaic_jobs.destruction", ("GET", "POST")),
    ("/mosaic/<job_id>/<any(owner, quote):atom>", "mosaic_jobs.atom", ("GET",)),
    ("/mosaic/<job_id>/results", "mosaic_jobs.results", ("GET",)),
    ("/mosaic/<job_id>/results/<result_id>", "mosaic_jobs.result", ("GET",)),
    ("/mosaic/<job_id>/parameters", "mosaic_jobs.parameters", ("GET", "POST")),
    ("/mosaic/<job_id>/error", "mosaic_jobs.error", ("GET",)),
    # the web page: anonymous files (it holds no data; its calls carry the caller's token)
    ("/ui/", "ui.index", ("GET",)),
    ("/ui/<name>", "ui.file", ("GET",)),
)


class SodaApi:
    """The SODA service as one handler of Flask requests.

    The job service is asked for once a request's parameters are known to be
    good, so a request that needs no back end builds no client.

    Parameters
    ----------
    settings
        The base path, the request size limits and what an ID may name.
    service
        Returns the SODA job service.
    uws
        The handlers of the UWS job tree.
    links
        The DataLink handler.
    sia
        The SIA 2.0 query handler.
    check
        The bulk file checker.
    mosaic
        The synchronous mosaic handler.
    mosaic_jobs
        The handlers of the mosaic job tree (``mosaic``).
    ui
        The web page's files.
    result_url
        The download URL of a result object.
    unreachable
        Returns a note for each back end that cannot be reached (empty if all can).
    status
        Returns the operators' drain switch, read now.

    """

    def __init__(
        self,
        *,
        settings: Settings,
        service: Callable[[], SodaService],
        uws: UwsRoutes,
        links: LinksRoute,
        sia: SiaRoute,
        check: CheckRoute,
        mosaic: MosaicRoute,
        mosaic_jobs: MosaicJobRoutes,
        ui: UiRoute,
        result_url: Callable[[str], str],
        unreachable: Callable[[], list[str]],
        status: Callable[[], ServiceStatus],
    ) -> None:
        self._settings = settings
        self._make_service = service
        self._uws = uws
        self._links = links
        self._sia = sia
        self._ui = ui
        self._check = check
        self._mosaic = mosaic
        self._mosaic_jobs = mosaic_jobs
        self._result_url = result_url
        self._unreachable = unreachable
        self._status = status
        self._map = Map(
            [
                Rule(self._settings.base_path + path, endpoint=endpoint, methods=list(methods))
                for path, endpoint, methods in ROUTES
            ],
            strict_slashes=False,
        )
        self._started = datetime.now(UTC)

    def __call__(self, request: Request) -> Response:
        """Answer one HTTP request; every error becomes a labelled text/plain body."""
        # Bodies are bounded: BULK uploads by the bulk limit, everything else by far less.
        # Checked on the declared length, so nothing is read (the platform caps
        # bodies without one: 32 MiB on Cloud Functions).
        limit = (
            self._settings.max_bulk_bytes
            if request.mimetype == "multipart/form-data"
            else self._settings.max_request_bytes
        )
        if request.content_length is not None and request.content_length > limit:
            return text(
                f"UsageError: the request body has {request.content_length} bytes, over the "
                f"limit of {limit}\n",
                413,
            )
        try:
            endpoint, args = self._map.bind_to_environ(request.environ).match()
            ctx = RequestContext(request, self._settings)
            return self._handler(endpoint)(request, ctx, **args)
        except SkycutError as e:
            log(logging.INFO, "request refused", path=request.path, error=e.to_text())
            return text(e.to_text() + "\n", e.status_code)
        except MethodNotAllowed as e:
            response = text(f"UsageError: {request.method} is not allowed here\n", 405)
            response.headers["Allow"] = ", ".join(e.valid_methods or [])
            return response
        except NotFound:
            return text(f"NotFound: no resource at {request.path}\n", 404)
        except HTTPException as e:
            return text(f"UsageError: {e.description}\n", e.code or 400)

    @cached_property
    def _service(self) -> SodaService:
        return self._make_service()

    def _handler(self, endpoint: str) -> Callable[..., Response]:
        owner, _, name = endpoint.rpartition(".")
        routes = {
            "uws": self._uws,
            "links": self._links,
            "sia": self._sia,
            "check": self._check,
            "mosaic": self._mosaic,
            "mosaic_jobs": self._mosaic_jobs,
            "ui": self._ui,
        }
        target: object = routes.get(owner, self)
        handler: Callable[..., Response] = getattr(target, name if owner else f"_{name}")
        return handler

    # -- SODA sync -----------------------------------------------------------
    def _sync(self, request: Request, ctx: RequestContext) -> Response:
        steps = Steps()
        pairs = request_params(request)
        with steps.step("parse"):
            parsed = parse_job_parameters(pairs, settings=self._settings, complete=True)
            parsed.single()
        outcome = self._service.sync(parsed, pairs, owner=ctx.owner, steps=steps)
        job, result = outcome.record.job, outcome.result
        if job.phase == ExecutionPhase.ERROR or result is None:
            error = job.error
            message = error.message if error else "Error: the cutout failed"
            return text(message + "\n", (error.status if error else None) or 500)
        if result.status == "no_overlap":
            return Response(status=204)  # SODA §5.1: no pixels, no body
        if result.error is not None:
            return text(result.error.message + "\n", result.error.status or 500)
        return redirect(self._result_url(result.object_name))

    # -- VOSI --------------------------------------------------------------
    def _availability(self, request: Request, ctx: RequestContext) -> Response:
        notes = self._unreachable()
        status = None
        if not notes:
            status = self._status()
            if not status.available:
                notes.append(status.note or "the service is draining for maintenance")
        return xml(
            availability_xml(
                available=not notes,
                up_since=self._started,
                back_at=status.back_at if status is not None else None,
                notes=notes or ["all back ends reachable"],
            )
        )

    def _capabilities(self, request: Request, ctx: RequestContext) -> Response:
        return xml(
            capabilities_xml(
                base_url=ctx.base_url,
                parameters=SUPPORTED_PARAMETERS,
                async_extensions=[COLLECTION_PARAMETER],
                options=OPTION_PARAMETERS,
                others=[
                    sia_capability(f"{ctx.base_url}/sia/query"),
                    mosaic_capability(f"{ctx.base_url}/mosaic/sync"),
                    mosaic_job_capability(f"{ctx.base_url}/mosaic"),
                ],
            )
        )
