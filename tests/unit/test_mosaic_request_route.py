"""The mosaic route: known callers only, a TEMPLATE file within the limit, 303 to the result."""

from __future__ import annotations

import base64
import io
import json
from typing import Any, cast

import pytest
from flask import Flask, Response

from skycut.api.context import RequestContext
from skycut.api.identity import USERINFO_HEADER, AuthenticationError
from skycut.api.mosaic_route import MosaicRoute
from skycut.config import Settings
from skycut.errors import UsageError
from skycut.jobs.service_state import ServiceStatus
from skycut.mosaic.grid import grid_from_parameters
from skycut.mosaic.request import MosaicRequest
from skycut.mosaic.service import MadeMosaic, MosaicService

BASE = "/api/image/soda"
ALICE = {
    USERINFO_HEADER: base64.urlsafe_b64encode(json.dumps({"email": "a@example.org"}).encode())
    .decode()
    .rstrip("=")
}


class Service:
    def __init__(self) -> None:
        self.requests: list[MosaicRequest] = []

    def make(self, request: MosaicRequest) -> MadeMosaic:
        self.requests.append(request)
        return MadeMosaic("mosaics/x/mosaic.fits", "application/fits", (), 1)


@pytest.fixture
def settings() -> Settings:
    return Settings(trust_gateway_identity=True, max_request_bytes=20_000)


def route(settings: Settings, service: Service) -> MosaicRoute:
    def make() -> MosaicService:
        return cast(MosaicService, service)  # the route only calls make()

    return MosaicRoute(
        settings=settings,
        service=make,
        result_url=lambda name: f"https://results/{name}",
        status=ServiceStatus,
    )


def call(settings: Settings, service: Service, **kwargs: Any) -> Response:
    with Flask(__name__).test_request_context(f"{BASE}/mosaic/sync", **kwargs) as ctx:
        return route(settings, service).sync(ctx.request, RequestContext(ctx.request, settings))


def test_anonymous_callers_are_refused_before_anything_runs(settings: Settings) -> None:
    service = Service()
    with pytest.raises(AuthenticationError):
        call(settings, service, query_string={"POS": "CIRCLE 1 1 0.01", "PIXSCALE": "0.001"})
    assert service.requests == []


def test_a_get_is_parsed_once_and_answered_303(settings: Settings) -> None:
    service = Service()
    params = {"pos": "CIRCLE 1 1 0.01", "pixscale": "0.001", "collection": "calexp"}
    response = call(settings, service, query_string=params, headers=ALICE)
    assert response.status_code == 303
    assert response.headers["Location"] == "https://results/mosaics/x/mosaic.fits"
    (request,) = service.requests
    assert request.images.collections == ("calexp",)


def test_a_template_file_is_the_grid(settings: Settings) -> None:
    header = grid_from_parameters(center=(1, 1), width=30, height=20, pixscale=1e-3).header()
    upload = (io.BytesIO(header.tostring().encode()), "grid.hdr")
    service = Service()
    response = call(
        settings, service, method="POST", data={"TEMPLATE": upload, "COLLECTION": "calexp"},
        headers=ALICE,
    )  # fmt: skip
    assert response.status_code == 303
    assert service.requests[0].grid.shape == (20, 30)


def test_a_template_file_over_the_limit_is_refused(settings: Settings) -> None:
    upload = (io.BytesIO(b" " * 20_001), "grid.hdr")
    with pytest.raises(UsageError, match="TEMPLATE is over the limit of 20000 bytes"):
        call(settings, Service(), method="POST", data={"TEMPLATE": upload}, headers=ALICE)
