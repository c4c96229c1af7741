"""``<base>/mosaic``: the UWS 1.1 tree of asynchronous mosaic jobs.

The same routes, XML, ownership and identity rules as the cutout jobs under
``{async}`` (`UwsRoutes`); what differs is how a job is made: its
parameters are those of ``/mosaic/sync`` (`skycut.mosaic.request`, a
``TEMPLATE`` as a value or an uploaded file), parsed once into a
`MosaicRequest` the job keeps, and a job is run by the mosaic fan-out
(`skycut.mosaic.job`). A bad parameter is a ``400 UsageError`` and nothing
is stored; so is a region no image covers, when the job is to run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property

from flask import Request, Response

from skycut.api.context import RequestContext
from skycut.api.uws_routes import JobTree, UwsRoutes
from skycut.config import Settings
from skycut.errors import UsageError
from skycut.jobs.lifecycle import JobLifecycle
from skycut.jobs.records import JobRecord
from skycut.mosaic.job.service import MosaicJobs
from skycut.mosaic.request import REPEATABLE_PARAMETERS, MosaicRequest, parse_mosaic_request
from skycut.soda.params import group_params

__all__ = ["MosaicJobRoutes"]


def _unused() -> object:
    raise AssertionError("the mosaic job tree has no SODA service")


class MosaicJobRoutes(UwsRoutes):
    """Handlers of the mosaic job list, each mosaic job and its children.

    Parameters
    ----------
    settings
        The async mosaic limits and the buckets an ID may name.
    jobs
        Returns the mosaic job service (built on first use).
    lifecycle
        Returns the service that aborts, deletes and re-times jobs.
    result_url
        The download URL of a result object.

    """

    tree = "mosaic"
    repeatable = REPEATABLE_PARAMETERS

    def __init__(
        self,
        *,
        settings: Settings,
        jobs: Callable[[], MosaicJobs],
        lifecycle: Callable[[], JobLifecycle],
        result_url: Callable[[str], str],
    ) -> None:
        super().__init__(
            settings=settings,
            service=_unused,  # type: ignore[arg-type]
            lifecycle=lifecycle,
            result_url=result_url,
            upload=_unused,  # type: ignore[arg-type]
        )
        self._make_jobs = jobs

    @cached_property
    def _mosaic_jobs(self) -> MosaicJobs:
        return self._make_jobs()

    @property
    def _jobs(self) -> JobTree:
        return self._mosaic_jobs

    def _parse(self, params: Mapping[str, Sequence[str]], template: bytes | None) -> MosaicRequest:
        settings = self._settings
        return parse_mosaic_request(
            params,
            template=template,
            allowed_buckets=settings.source_buckets,
            max_pixels=settings.mosaic_max_pixels,
            max_inputs=settings.mosaic_max_inputs,
            max_area=settings.mosaic_max_area,
        )

    def _template(self, request: Request) -> bytes | None:
        files = [f for k, f in request.files.items(multi=True) if k.upper() == "TEMPLATE"]
        if len(files) > 1:
            raise UsageError("send one TEMPLATE file")
        if not files:
            return None
        limit = self._settings.max_request_bytes
        data: bytes = files[0].read(limit + 1)
        if len(data) > limit:
            raise UsageError(f"TEMPLATE is over the limit of {limit} bytes")
        return data

    def _create(
        self, request: Request, ctx: RequestContext, pairs: list[tuple[str, str]], *, run: bool
    ) -> JobRecord:
        template = self._template(request)
        parsed = self._parse(group_params(pairs), template)
        if template is not None:  # the job's parameters show the grid the file gave
            pairs = [*pairs, ("TEMPLATE", parsed.grid.header().tostring(sep="\n"))]
        return self._mosaic_jobs.create_job(parsed, pairs, owner=ctx.owner, run=run)

    def _bulk_upload(self, request: Request, ctx: RequestContext) -> Response:
        raise UsageError("a mosaic job takes no BULK file; post the mosaic's parameters")

    def _set_parameters(
        self, request: Request, ctx: RequestContext, record: JobRecord, pairs: list[tuple[str, str]]
    ) -> None:
        """Give a PENDING job these parameters: the whole list must parse as a mosaic request."""
        parsed = self._parse(group_params(pairs), None)
        self._mosaic_jobs.set_request(record, parsed, pairs, owner=ctx.owner)
