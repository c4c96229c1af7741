"""The UWS 1.1 job tree under ``{async}`` (UWS §2.2, DALI §2.1)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from flask import Request, Response

from skycut.api.bulk_form import bulk_form
from skycut.api.context import RequestContext
from skycut.api.http import form_params, redirect, request_params, text, xml
from skycut.api.service import SodaService, parse_job_parameters
from skycut.bulk.upload import BulkUpload
from skycut.config import Settings
from skycut.errors import NotFoundError, UsageError
from skycut.jobs.lifecycle import JobLifecycle
from skycut.jobs.records import JobRecord, StoredResult
from skycut.soda.params import REPEATABLE, group_params
from skycut.uws.model import ExecutionPhase, Job, JobResult
from skycut.uws.parameters import changed_parameters, refuse_controls
from skycut.uws.xml import (
    error_votable,
    format_time,
    job_xml,
    jobs_xml,
    parameters_xml,
    parse_time,
    results_xml,
)

__all__ = ["JobTree", "UwsRoutes"]

_ATOMS = ("owner", "quote", "executionduration", "destruction")


class JobTree(Protocol):
    """What the UWS routes ask of the service of one job tree (``{async}``, ``mosaic``)."""

    def job(self, job_id: str, *, owner: str) -> JobRecord:
        """Return the caller's job of this tree (NotFoundError otherwise)."""
        ...

    def jobs(
        self,
        *,
        owner: str,
        phases: Collection[ExecutionPhase],
        after: datetime | None,
        last: int | None,
    ) -> list[JobRecord]:
        """Return the caller's jobs of this tree, newest first."""
        ...

    def run(self, job_id: str, *, owner: str) -> JobRecord:
        """Queue a PENDING job."""
        ...

    def results(self, job_id: str) -> list[StoredResult]:
        """Return a job's results."""
        ...

    def result(self, job_id: str, result_id: str) -> StoredResult | None:
        """Return one of a job's results, if it is recorded."""
        ...

    def wait(self, record: JobRecord, *, seconds: float, phase: ExecutionPhase | None) -> JobRecord:
        """Block while the job stays in its phase."""
        ...


class UwsRoutes:
    """Handlers of the job list, each job and its children.

    The services are asked for on first need, so a request refused for its
    parameters builds no client.

    Parameters
    ----------
    settings
        Limits (WAIT, BULK files) and the buckets an ID may name.
    service
        Returns the SODA job service.
    lifecycle
        Returns the service that aborts, deletes and re-times jobs.
    result_url
        The download URL of a result object.
    upload
        Stores a posted bulk file and creates its job; returns the job id.

    """

    tree = "async"
    """The job list's path under the base URL."""
    repeatable: frozenset[str] = REPEATABLE
    """Parameters a POST to ``{job}/parameters`` adds values to (the others it replaces)."""

    def __init__(
        self,
        *,
        settings: Settings,
        service: Callable[[], SodaService],
        lifecycle: Callable[[], JobLifecycle],
        result_url: Callable[[str], str],
        upload: Callable[[BulkUpload], str],
    ) -> None:
        self._settings = settings
        self._make_service = service
        self._make_lifecycle = lifecycle
        self._result_url = result_url
        self._upload = upload

    @cached_property
    def _service(self) -> SodaService:
        return self._make_service()

    @property
    def _jobs(self) -> JobTree:
        """The service of this tree's jobs."""
        return self._service

    def _list_url(self, ctx: RequestContext) -> str:
        return f"{ctx.base_url}/{self.tree}"

    def _job_url(self, ctx: RequestContext, job_id: str) -> str:
        return f"{self._list_url(ctx)}/{job_id}"

    @cached_property
    def _lifecycle(self) -> JobLifecycle:
        return self._make_lifecycle()

    def _record(self, ctx: RequestContext, job_id: str) -> JobRecord:
        return self._jobs.job(job_id, owner=ctx.owner)

    def _with_results(self, ctx: RequestContext, record: JobRecord) -> Job:
        job = record.job
        job_url = self._job_url(ctx, job.job_id)
        job.results = [
            JobResult(
                result_id=r.result_id,
                href=f"{job_url}/results/{r.result_id}",
                mime_type=r.mime_type,
                size=r.size,
            )
            for r in self._jobs.results(job.job_id)
        ]
        return job

    # -- the job list ------------------------------------------------------
    def job_list(self, request: Request, ctx: RequestContext) -> Response:
        """GET: the caller's jobs (PHASE, AFTER, LAST filters); POST: a new job."""
        if request.method == "POST" and "BULK" in {k.upper() for k in request.files}:
            return self._bulk_upload(request, ctx)
        if request.method == "POST":
            pairs = request_params(request)
            grouped = group_params(pairs)
            phase = grouped.get("PHASE", [])
            if phase not in ([], ["RUN"]):
                raise UsageError("PHASE at job creation can only be RUN")
            refuse_controls(pairs, allowed=("PHASE",), where="when a job is created")
            job_pairs = [(n, v) for n, v in pairs if n.strip().upper() != "PHASE"]
            record = self._create(request, ctx, job_pairs, run=bool(phase))
            return redirect(self._job_url(ctx, record.job.job_id))
        grouped = group_params(request.args.items(multi=True))
        phases = {_phase(p) for p in grouped.get("PHASE", [])}
        after = _after(grouped.get("AFTER"))
        last = _last(grouped.get("LAST"))
        records = self._jobs.jobs(owner=ctx.owner, phases=phases, after=after, last=last)
        return xml(jobs_xml([r.job for r in records], base_url=self._list_url(ctx)))

    def _create(
        self, request: Request, ctx: RequestContext, pairs: list[tuple[str, str]], *, run: bool
    ) -> JobRecord:
        """Create a job of the POSTed parameters (PHASE taken out), queued if ``run``."""
        parsed = parse_job_parameters(pairs, settings=self._settings, complete=run)
        return self._service.create_job(parsed, pairs, owner=ctx.owner, run=run)

    def _bulk_upload(self, request: Request, ctx: RequestContext) -> Response:
        """POST a file as ``BULK`` (multipart): it becomes a bulk job of the caller."""
        form = bulk_form(request, max_bytes=self._settings.max_bulk_bytes)
        self._service.refuse_if_draining()
        job_id = self._upload(
            BulkUpload(
                owner=ctx.owner,
                filename=form.filename,
                data=form.data,
                content_type=form.content_type,
                options=form.options,
            )
        )
        return redirect(self._job_url(ctx, job_id))

    # -- one job -----------------------------------------------------------
    def job(self, request: Request, ctx: RequestContext, job_id: str) -> Response:
        """GET the job (WAIT, PHASE); DELETE or POST ACTION=DELETE destroys it."""
        grouped = group_params(request_params(request))
        if request.method == "DELETE" or (
            request.method == "POST" and grouped.get("ACTION") == ["DELETE"]
        ):
            self._record(ctx, job_id)
            self._lifecycle.delete(job_id, owner=ctx.owner)
            return redirect(self._list_url(ctx))
        if request.method == "POST":
            self._record(ctx, job_id)
            raise UsageError(
                "POST to a job takes only ACTION=DELETE; parameters go to its /parameters"
            )
        record = self._record(ctx, job_id)
        if "WAIT" in grouped:
            seconds = _wait(grouped["WAIT"], self._settings.wait_max_seconds)
            wanted = _phase(grouped["PHASE"][-1]) if grouped.get("PHASE") else None
            record = self._jobs.wait(record, seconds=seconds, phase=wanted)
        return xml(job_xml(self._with_results(ctx, record), base_url=self._list_url(ctx)))

    def phase(self, request: Request, ctx: RequestContext, job_id: str) -> Response:
        """GET the phase; POST PHASE=RUN or PHASE=ABORT."""
        if request.method == "GET":
            return text(self._record(ctx, job_id).job.phase.value)
        phase = group_params(form_params(request)).get("PHASE", [])
        if phase == ["RUN"]:
            self._jobs.run(job_id, owner=ctx.owner)
        elif phase == ["ABORT"]:
            self._record(ctx, job_id)
            self._lifecycle.abort(job_id, owner=ctx.owner)
        else:
            self._record(ctx, job_id)
            raise UsageError("PHASE must be RUN or ABORT")
        return redirect(self._job_url(ctx, job_id))

    def execution_duration(self, request: Request, ctx: RequestContext, job_id: str) -> Response:
        """GET the limit in seconds; POST EXECUTIONDURATION=<seconds>."""
        if request.method == "GET":
            return text(str(self._record(ctx, job_id).job.execution_duration))
        value = _one(form_params(request), "EXECUTIONDURATION")
        self._record(ctx, job_id)
        self._lifecycle.set_execution_duration(job_id, owner=ctx.owner, text=value)
        return redirect(self._job_url(ctx, job_id))

    def destruction(self, request: Request, ctx: RequestContext, job_id: str) -> Response:
        """GET the destruction time; POST DESTRUCTION=<ISO 8601>."""
        if request.method == "GET":
            job = self._record(ctx, job_id).job
            return text(format_time(job.destruction) if job.destruction else "")
        value = _one(form_params(request), "DESTRUCTION")
        try:
            when = parse_time(value)
        except ValueError as e:
            raise UsageError("DESTRUCTION must be an ISO 8601 UTC time") from e
        self._record(ctx, job_id)
        self._lifecycle.set_destruction(job_id, owner=ctx.owner, when=when)
        return redirect(self._job_url(ctx, job_id))

    def atom(self, request: Request, ctx: RequestContext, job_id: str, atom: str) -> Response:
        """GET ``owner`` or ``quote`` as text/plain (empty when unset)."""
        job = self._record(ctx, job_id).job
        values: dict[str, Any] = {
            "owner": job.owner or "",
            "quote": format_time(job.quote) if job.quote else "",
        }
        return text(values[atom])

    def results(self, request: Request, ctx: RequestContext, job_id: str) -> Response:
        """GET the result list."""
        job = self._with_results(ctx, self._record(ctx, job_id))
        return xml(results_xml(job.results, job_url=self._job_url(ctx, job_id)))

    def result(
        self, request: Request, ctx: RequestContext, job_id: str, result_id: str
    ) -> Response:
        """GET one result: ``303`` to a fresh link to its file."""
        self._record(ctx, job_id)
        # one document read: a client fetching each of a job's n results reads n, not n²
        result = self._jobs.result(job_id, result_id)
        if result is None:
            raise NotFoundError(f"job {job_id} has no result {result_id!r}")
        return redirect(self._result_url(result.object_name))

    def parameters(self, request: Request, ctx: RequestContext, job_id: str) -> Response:
        """GET the parameters; POST sets some while the job is PENDING (`changed_parameters`)."""
        record = self._record(ctx, job_id)
        if request.method == "POST":
            posted = form_params(request)
            refuse_controls(posted, where="by {job}/parameters")
            pairs = changed_parameters(record.job.parameters, posted, repeatable=self.repeatable)
            self._set_parameters(request, ctx, record, pairs)
            return redirect(self._job_url(ctx, job_id))
        return xml(parameters_xml(record.job.parameters))

    def _set_parameters(
        self, request: Request, ctx: RequestContext, record: JobRecord, pairs: list[tuple[str, str]]
    ) -> None:
        """Give a PENDING job these parameters, once they parse."""
        self._service.set_parameters(record, pairs, owner=ctx.owner)

    def error(self, request: Request, ctx: RequestContext, job_id: str) -> Response:
        """GET the error document (a DALI VOTable) of a failed job."""
        record = self._record(ctx, job_id)
        if record.job.error is None:
            raise NotFoundError(f"job {job_id} has no error")
        return Response(
            error_votable(record.job.error.message),
            status=200,
            content_type="application/x-votable+xml",
        )


def _one(pairs: list[tuple[str, str]], name: str) -> str:
    values = group_params(pairs).get(name, [])
    if len(values) != 1:
        raise UsageError(f"{name} must be given once")
    return values[0]


def _phase(value: str) -> ExecutionPhase:
    try:
        return ExecutionPhase(value)
    except ValueError as e:
        raise UsageError(f"PHASE must be one of {[p.value for p in ExecutionPhase]}") from e


def _wait(values: list[str], maximum: float) -> float:
    try:
        seconds = float(values[-1])
    except ValueError as e:
        raise UsageError("WAIT must be a number of seconds (-1 waits the longest allowed)") from e
    if seconds != seconds:  # NaN
        raise UsageError("WAIT must be a number of seconds")
    return maximum if seconds < 0 else min(seconds, maximum)


def _after(values: list[str] | None) -> datetime | None:
    if not values:
        return None
    try:
        return parse_time(values[-1])
    except ValueError as e:
        raise UsageError("AFTER must be an ISO 8601 time, e.g. 2026-11-21T12:00:00Z") from e


def _last(values: list[str] | None) -> int | None:
    if not values:
        return None
    try:
        last = int(values[-1])
    except ValueError as e:
        raise UsageError("LAST must be a positive integer") from e
    if last <= 0:
        raise UsageError("LAST must be a positive integer")
    return last
