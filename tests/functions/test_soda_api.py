"""The soda_api function as functions-framework serves it."""

from __future__ import annotations

import io

import pytest
from lxml import etree
from werkzeug.datastructures import MultiDict

from skycut.xsd import load_schema

BASE = "/api/image/soda"


@pytest.fixture
def api(make_client):
    return make_client("soda_api", "http")


def test_capabilities_need_no_back_end_and_validate(make_client, monkeypatch):
    monkeypatch.delenv("SKYCUT_PUBLIC_BASE_URL", raising=False)  # derive from the request
    api = make_client("soda_api", "http")
    response = api.get(
        f"{BASE}/capabilities",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sky.example.org"},
    )
    assert response.status_code == 200
    doc = etree.fromstring(response.data)
    assert load_schema("capabilities").validate(doc)
    urls = {u.text for u in doc.iter("accessURL")}
    assert f"https://sky.example.org{BASE}/sync" in urls
    # the options beyond SODA the service takes are listed on both interfaces
    for standard in ("sync", "async"):
        (cap,) = [
            c
            for c in doc.iter("capability")
            if c.get("standardID") == f"ivo://ivoa.net/std/SODA#{standard}-1.0"
        ]
        names = {p.findtext("name"): p.get("use") for p in cap.iter("param")}
        for option in ("DETAIL", "MASKOUTSIDE", "RUNID"):
            assert names[option] == "optional", (standard, option)


@pytest.mark.parametrize("method", ["get", "post"])
def test_sync_validates_before_touching_any_back_end(api, method):
    response = getattr(api, method)(f"{BASE}/sync", query_string={"pos": "CIRCLE 1 2"})
    assert response.status_code == 400
    assert response.content_type.startswith("text/plain")
    assert response.get_data(as_text=True).startswith("UsageError: ")


def test_unknown_paths_and_examples_are_404(api):
    assert api.get(f"{BASE}/examples").status_code == 404
    response = api.get("/elsewhere")
    assert response.status_code == 404
    assert response.get_data(as_text=True).startswith("NotFound: ")


def test_wrong_method_is_405_with_a_label(api):
    response = api.delete(f"{BASE}/sync")
    assert response.status_code == 405
    assert response.get_data(as_text=True).startswith("UsageError: ")


def test_base_path_is_configurable(make_client, monkeypatch):
    monkeypatch.setenv("SKYCUT_BASE_PATH", "/soda")
    api = make_client("soda_api", "http")
    assert api.get("/soda/capabilities").status_code == 200
    assert api.get(f"{BASE}/capabilities").status_code == 404


@pytest.mark.integration
def test_sync_through_the_function_app(api, stack, http):
    source_id = f"gs://{stack.config.sources_bucket}/sample/deepcoadd-i-0001.fits"
    response = api.get(f"{BASE}/sync", query_string={"ID": source_id, "CIRCLE": "150.1 2.2 0.001"})
    assert response.status_code == 303
    assert http.get(response.headers["Location"], timeout=30).content[:9] == b"SIMPLE  ="


def test_oversized_bodies_are_refused_with_413(api):
    response = api.post(f"{BASE}/async", data={"ID": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.get_data(as_text=True).startswith("UsageError: ")


def test_too_many_combinations_are_refused_before_any_job(api):
    data = [("ID", f"gs://skycut-sources/a{i}.fits") for i in range(2)]
    data += [("CIRCLE", f"10 {i / 1000:.3f} 0.01") for i in range(501)]
    response = api.post(f"{BASE}/async", data=MultiDict(data))
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert text.startswith("UsageError: ")
    assert "1002 cutouts" in text


@pytest.mark.integration
def test_bulk_check_reports_each_row_and_refuses_what_an_upload_refuses(api, stack):
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    rows = f"id,ra,dec,radius,label\n{source},150.05,2.24,0.001,good\n{source},1,95,0.001,bad\n"
    checked = api.post(
        f"{BASE}/bulk/check",
        data={"BULK": (io.BytesIO(rows.encode()), "rows.csv", "text/csv")},
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200, checked.text
    report = checked.get_json()
    assert (report["rows"], report["cutouts"]) == (2, 1)
    assert [(r["line"], r["status"], r["cutouts"]) for r in report["lines"]] == [
        (2, "ok", 1),
        (3, "error", 0),
    ]
    for data, reason in (
        ({"BULK": (io.BytesIO(b""), "rows.csv")}, "the BULK file is empty"),
        ({"BULK": (io.BytesIO(rows.encode()), "rows.csv"), "package": "rar"}, "package 'rar'"),
        ({}, "send one BULK file"),
    ):
        refused = api.post(f"{BASE}/bulk/check", data=data, content_type="multipart/form-data")
        assert refused.status_code == 400, (reason, refused.text)
        assert reason in refused.text
