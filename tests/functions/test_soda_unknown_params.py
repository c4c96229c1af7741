"""A misspelt SODA parameter is ignored, and the refusal of the request names it."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

BASE = "/api/image/soda"
ID = "gs://skycut-sources/sample/deepcoadd-i-0001.fits"
NAMED = "(ignored unknown parameter: CIRCEL, did you mean CIRCLE?)"


@pytest.fixture
def api(make_client):
    return make_client("soda_api", "http")


@pytest.mark.parametrize("method", ["get", "post"])
def test_sync_refusal_names_the_misspelt_parameter(api, method):
    response = getattr(api, method)(f"{BASE}/sync", query_string={"ID": ID, "CIRCEL": "1 2 0.1"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert text.startswith("UsageError: a filter is required")
    assert NAMED in text


def test_async_job_run_at_creation_is_refused_naming_the_misspelt_parameter(api):
    response = api.post(
        f"{BASE}/async", data=MultiDict([("ID", ID), ("CIRCEL", "1 2 0.1"), ("PHASE", "RUN")])
    )
    assert response.status_code == 400
    assert NAMED in response.get_data(as_text=True)


@pytest.mark.integration
def test_pending_job_refuses_to_run_naming_the_misspelt_parameter(api, stack):
    created = api.post(f"{BASE}/async", data=MultiDict([("ID", ID), ("circel", "1 2 0.1")]))
    assert created.status_code == 303
    run = api.post(f"{created.headers['Location']}/phase", data={"PHASE": "RUN"})
    assert run.status_code == 400
    assert NAMED in run.get_data(as_text=True)
