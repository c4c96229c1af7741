"""HTTP routing of the SODA API: SODA sync, UWS async tree, VOSI, DALI errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Request, Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from skycut.api.health import check_backends
from skycut.api.identity import caller_identity
from skycut.api.service import SodaService
from skycut.api.urls import service_base_url
from skycut.clients import Clients
from skycut.errors import NotFoundError, SkycutError, UsageError
from skycut.jobs.records import JobRecord
from skycut.logs import log
from skycut.soda.params import group_params
from skycut.uws.model import ExecutionPhase, Job, JobResult
from skycut.uws.xml import (
    error_votable,
    format_time,
    job_xml,
    jobs_xml,
    parameters_xml,
    parse_time,
    results_xml,
)
from skycut.vosi.xml import SodaParameter, availability_xml, capabilities_xml

__all__ = ["SodaApi"]

_XML = "application/xml"
_TEXT = "text/plain; charset=utf-8"
_MAX_WAIT_SECONDS = 600.0
# SODA §4: describe only what works; POS is listed once RANGE and POLYGON are supported.
_SUPPORTED_PARAMETERS: tuple[SodaParameter, ...] = ("ID", "CIRCLE", "RESPONSEFORMAT")

_RULES = [
    Rule("/sync", endpoint="sync", methods=["GET", "POST"]),
    Rule("/availability", endpoint="availability", methods=["GET"]),
    Rule("/capabilities", endpoint="capabilities", methods=["GET"]),
    Rule("/async", endpoint="job_list", methods=["GET", "POST"]),
    Rule("/async/<job_id>", endpoint="job", methods=["GET", "POST", "DELETE"]),
    Rule("/async/<job_id>/phase", endpoint="phase", methods=["GET", "POST"]),
    Rule("/async/<job_id>/results", endpoint="results", methods=["GET"]),
    Rule("/async/<job_id>/results/<result_id>", endpoint="result", methods=["GET"]),
    Rule("/async/<job_id>/parameters", endpoint="parameters", methods=["GET", "POST"]),
    Rule("/async/<job_id>/error", endpoint="error", methods=["GET"]),
    Rule(
        "/async/<job_id>/<any(owner, quote, executionduration, destruction):atom>",
        endpoint="atom",
        methods=["GET"],
    ),
]


def _params(request: Request) -> list[tuple[str, str]]:
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs += list(request.form.items(multi=True))
    return pairs


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type=_TEXT)


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type=_XML)


def _redirect(location: str) -> Response:
    return Response(status=303, headers={"Location": location})


class SodaApi:
    """The SODA service as one WSGI-style handler of Flask requests."""

    def __init__(self, *, clients: Clients) -> None:
        self._clients = clients
        self._settings = clients.settings
        self._service = SodaService(clients=clients)
        self._map = Map(
            [
                Rule(self._settings.base_path + r.rule, endpoint=r.endpoint, methods=r.methods)
                for r in _RULES
            ],
            strict_slashes=False,
        )
        self._started = datetime.now(UTC)

    def __call__(self, request: Request) -> Response:
        """Answer one HTTP request."""
        try:
            adapter = self._map.bind_to_environ(request.environ)
            endpoint, args = adapter.match()
            handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
            return handler(request, **args)
        except SkycutError as e:
            log(logging.INFO, "request refused", path=request.path, error=e.to_text())
            return _text(e.to_text() + "\n", e.status_code)
        except MethodNotAllowed as e:
            return _text(f"UsageError: {request.method} is not allowed here\n", e.code or 405)
        except NotFound:
            return _text(f"NotFound: no resource at {request.path}\n", 404)
        except HTTPException as e:
            return _text(f"UsageError: {e.description}\n", e.code or 400)

    # -- helpers -----------------------------------------------------------
    def _owner(self, request: Request) -> str:
        return caller_identity(request.headers, self._settings)

    def _async_url(self, request: Request) -> str:
        return service_base_url(request, self._settings) + "/async"

    def _job_url(self, request: Request, job_id: str) -> str:
        return f"{self._async_url(request)}/{job_id}"

    def _record(self, request: Request, job_id: str) -> JobRecord:
        return self._clients.jobs.get_for(job_id, owner=self._owner(request))

    def _with_results(self, request: Request, record: JobRecord) -> Job:
        job = record.job
        job_url = self._job_url(request, job.job_id)
        job.results = [
            JobResult(
                result_id=r.result_id,
                href=f"{job_url}/results/{r.result_id}",
                mime_type=r.mime_type,
                size=r.size,
            )
            for r in self._service.results(job.job_id)
        ]
        return job

    # -- SODA sync and VOSI ------------------------------------------------
    def _sync(self, request: Request) -> Response:
        outcome = self._service.sync(_params(request), owner=self._owner(request))
        result = outcome.result
        if outcome.record.job.phase == ExecutionPhase.ERROR or result is None:
            message = (
                outcome.record.job.error.message
                if outcome.record.job.error
                else "Error: the cutout failed"
            )
            status = 400 if message.startswith(("UsageError", "MultiValued")) else 500
            return _text(message + "\n", status)
        if result.status == "no_overlap":
            return Response(status=204)
        if result.status == "error":
            return _text((result.message or "Error: the cutout failed") + "\n", 400)
        return _redirect(self._clients.results.url(result.object_name))

    def _availability(self, request: Request) -> Response:
        notes = check_backends(self._clients)
        return _xml(
            availability_xml(
                available=not notes,
                up_since=self._started,
                notes=notes or ["all back ends reachable"],
            )
        )

    def _capabilities(self, request: Request) -> Response:
        return _xml(
            capabilities_xml(
                base_url=service_base_url(request, self._settings), parameters=_SUPPORTED_PARAMETERS
            )
        )

    # -- UWS ---------------------------------------------------------------
    def _job_list(self, request: Request) -> Response:
        owner = self._owner(request)
        if request.method == "POST":
            pairs = _params(request)
            grouped = group_params(pairs)
            run = [v.upper() for v in grouped.get("PHASE", [])] == ["RUN"]
            if grouped.get("PHASE") and not run:
                raise UsageError("PHASE at job creation can only be RUN")
            job_pairs = [(n, v) for n, v in pairs if n.upper() != "PHASE"]
            record = self._service.create_job(job_pairs, owner=owner, run=run)
            return _redirect(self._job_url(request, record.job.job_id))
        grouped = group_params(request.args.items(multi=True))
        try:
            phases = {ExecutionPhase(p) for p in grouped.get("PHASE", [])}
        except ValueError as e:
            raise UsageError(f"PHASE must be one of {[p.value for p in ExecutionPhase]}") from e
        after = _parse_after(grouped.get("AFTER"))
        last = _parse_last(grouped.get("LAST"))
        records = self._clients.jobs.list_for(owner=owner, phases=phases, after=after, last=last)
        return _xml(jobs_xml([r.job for r in records], base_url=self._async_url(request)))

    def _job(self, request: Request, job_id: str) -> Response:
        record = self._record(request, job_id)
        grouped = group_params(_params(request))
        if request.method == "DELETE" or (
            request.method == "POST" and grouped.get("ACTION") == ["DELETE"]
        ):
            self._clients.jobs.delete(job_id)
            return _redirect(self._async_url(request))
        if request.method == "POST":
            raise UsageError("POST to a job takes only ACTION=DELETE; parameters go to /parameters")
        if "WAIT" in grouped:
            seconds = _parse_wait(grouped["WAIT"])
            phase = None
            if grouped.get("PHASE"):
                try:
                    phase = ExecutionPhase(grouped["PHASE"][0])
                except ValueError as e:
                    raise UsageError("PHASE must be a UWS phase name") from e
            record = self._service.wait(record, seconds=seconds, phase=phase)
        return _xml(job_xml(self._with_results(request, record), base_url=self._async_url(request)))

    def _phase(self, request: Request, job_id: str) -> Response:
        owner = self._owner(request)
        if request.method == "GET":
            return _text(self._record(request, job_id).job.phase.value)
        phase = group_params(request.form.items(multi=True)).get("PHASE", [])
        if phase == ["RUN"]:
            self._service.run(job_id, owner=owner)
        elif phase == ["ABORT"]:
            self._service.abort(job_id, owner=owner)
        else:
            self._record(request, job_id)
            raise UsageError("PHASE must be RUN or ABORT")
        return _redirect(self._job_url(request, job_id))

    def _results(self, request: Request, job_id: str) -> Response:
        job = self._with_results(request, self._record(request, job_id))
        return _xml(results_xml(job.results, job_url=self._job_url(request, job_id)))

    def _result(self, request: Request, job_id: str, result_id: str) -> Response:
        self._record(request, job_id)
        for result in self._service.results(job_id):
            if result.result_id == result_id:
                return _redirect(self._clients.results.url(result.object_name))
        raise NotFoundError(f"job {job_id} has no result {result_id!r}")

    def _parameters(self, request: Request, job_id: str) -> Response:
        record = self._record(request, job_id)
        if request.method == "POST":
            added = list(request.form.items(multi=True))
            self._service.parse(added, complete=False)
            params = [{"name": p.name, "value": p.value} for p in record.job.parameters]
            params += [{"name": n, "value": v} for n, v in added]
            self._clients.jobs.update_pending(
                job_id, owner=self._owner(request), fields={"parameters": params}
            )
            return _redirect(self._job_url(request, job_id))
        return _xml(parameters_xml(record.job.parameters))

    def _error(self, request: Request, job_id: str) -> Response:
        record = self._record(request, job_id)
        if record.job.error is None:
            raise NotFoundError(f"job {job_id} has no error")
        return Response(
            error_votable(record.job.error.message),
            status=200,
            content_type="application/x-votable+xml",
        )

    def _atom(self, request: Request, job_id: str, atom: str) -> Response:
        job = self._record(request, job_id).job
        values: dict[str, Any] = {
            "owner": job.owner or "",
            "quote": format_time(job.quote) if job.quote else "",
            "executionduration": str(job.execution_duration),
            "destruction": format_time(job.destruction) if job.destruction else "",
        }
        return _text(values[atom])


def _parse_wait(values: list[str]) -> float:
    try:
        seconds = float(values[-1])
    except ValueError as e:
        raise UsageError("WAIT must be a number of seconds (-1 waits the longest allowed)") from e
    if seconds < 0:
        return _MAX_WAIT_SECONDS
    return min(seconds, _MAX_WAIT_SECONDS)


def _parse_after(values: list[str] | None) -> datetime | None:
    if not values:
        return None
    try:
        return parse_time(values[-1])
    except ValueError as e:
        raise UsageError("AFTER must be an ISO 8601 time, e.g. 2026-11-21T12:00:00Z") from e


def _parse_last(values: list[str] | None) -> int | None:
    if not values:
        return None
    try:
        last = int(values[-1])
    except ValueError as e:
        raise UsageError("LAST must be a positive integer") from e
    if last <= 0:
        raise UsageError("LAST must be a positive integer")
    return last
