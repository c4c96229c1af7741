"""The web page's files, and the deployment's filter table its band menus offer."""

from __future__ import annotations

import json

import pytest
from flask import Flask, Response

from skycut.api.context import RequestContext
from skycut.api.ui_route import UiRoute, page_limits
from skycut.config import Settings
from skycut.errors import NotFoundError
from skycut.index.bands import DEFAULT_FILTERS, filter_table

BASE = "/api/image/soda"


def get(route: UiRoute, name: str, **headers: str) -> Response:
    settings = Settings()
    with Flask(__name__).test_request_context(f"{BASE}/ui/{name}", headers=headers) as ctx:
        return route.file(ctx.request, RequestContext(ctx.request, settings), name=name)


def test_the_band_menus_offer_the_deployments_filters_bluest_first() -> None:
    custom = {"N540": (5.3e-7, 5.5e-7), "r": (5.6e-7, 7.0e-7)}  # a narrow band; r redefined
    response = get(UiRoute(filters=filter_table(custom), limits={}), "filters.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    table = json.loads(response.get_data())["filters"]
    names = [f["name"] for f in table]
    assert set(names) == set(DEFAULT_FILTERS) | {"N540"}
    assert names[:4] == ["u", "g", "N540", "r"]
    r = next(f for f in table if f["name"] == "r")
    assert (r["em_min"], r["em_max"]) == (5.6e-7, 7.0e-7)
    again = get(UiRoute(filters=filter_table(custom), limits={}), "filters.json", **{
        "If-None-Match": response.headers["ETag"]
    })  # fmt: skip
    assert again.status_code == 304


def test_the_page_and_its_scripts_are_served_and_nothing_else() -> None:
    route = UiRoute(filters=filter_table({}), limits={})
    page = get(route, "index.html")
    assert page.status_code == 200
    assert b'select name="band"' in page.get_data()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert get(route, "filters.js").content_type.startswith("text/javascript")
    with pytest.raises(NotFoundError):
        get(route, "../config.py")


def test_the_mosaic_form_is_told_the_deployments_mosaic_limits() -> None:
    settings = Settings(mosaic_sync_max_pixels=40_000, mosaic_max_inputs=12)
    route = UiRoute(filters=filter_table({}), limits=page_limits(settings))
    response = get(route, "limits.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert json.loads(response.get_data()) == {
        "mosaic_sync_max_pixels": 40_000,
        "mosaic_sync_max_inputs": settings.mosaic_sync_max_inputs,
        "mosaic_sync_max_area": settings.mosaic_sync_max_area,
        "mosaic_max_pixels": settings.mosaic_max_pixels,
        "mosaic_max_inputs": 12,
        "mosaic_max_area": settings.mosaic_max_area,
    }
