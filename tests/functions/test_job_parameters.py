"""A PENDING cutout job's parameters mended before it runs; UWS controls are not parameters."""

from __future__ import annotations

import pytest
from lxml import etree

BASE = "/api/image/soda"
NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0"}

pytestmark = pytest.mark.integration


@pytest.fixture
def api(make_client):
    return make_client("soda_api", "http")


@pytest.fixture
def pending(api, stack):
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    created = api.post(
        f"{BASE}/async",
        data={"ID": source, "CIRCLE": "150.05 2.24 0.001", "RESPONSEFORMAT": "image/png"},
    )
    assert created.status_code == 303, created.get_data(as_text=True)
    return created.headers["Location"].split(BASE, 1)[1]


def parameters(api, job):
    doc = etree.fromstring(api.get(f"{BASE}{job}/parameters").get_data())
    return [(p.get("id"), p.text) for p in doc.iterfind("uws:parameter", NS)]


def test_a_single_valued_parameter_posted_again_is_replaced_and_the_job_runs(api, pending):
    changed = api.post(f"{BASE}{pending}/parameters", data={"RESPONSEFORMAT": "application/fits"})
    assert changed.status_code == 303, changed.get_data(as_text=True)
    assert [v for n, v in parameters(api, pending) if n == "RESPONSEFORMAT"] == ["application/fits"]
    # a repeatable one is added to, as before
    assert (
        api.post(f"{BASE}{pending}/parameters", data={"CIRCLE": "150.06 2.24 0.001"}).status_code
        == 303
    )
    assert [n for n, _ in parameters(api, pending)].count("CIRCLE") == 2
    ran = api.post(f"{BASE}{pending}/phase", data={"PHASE": "RUN"})
    assert ran.status_code == 303, ran.get_data(as_text=True)
    assert api.get(f"{BASE}{pending}/phase").get_data(as_text=True) != "PENDING"


def test_an_empty_value_removes_a_parameter(api, pending):
    assert api.post(f"{BASE}{pending}/parameters", data={"RESPONSEFORMAT": ""}).status_code == 303
    assert "RESPONSEFORMAT" not in {n for n, _ in parameters(api, pending)}


@pytest.mark.parametrize("name", ["PHASE", "EXECUTIONDURATION", "DESTRUCTION"])
def test_uws_controls_posted_as_parameters_are_refused_and_change_nothing(api, pending, name):
    before = parameters(api, pending)
    refused = api.post(f"{BASE}{pending}/parameters", data={name: "RUN"})
    assert refused.status_code == 400
    assert refused.get_data(as_text=True).startswith(f"UsageError: {name} is not a job parameter")
    assert parameters(api, pending) == before
    assert api.get(f"{BASE}{pending}/phase").get_data(as_text=True) == "PENDING"


@pytest.mark.parametrize(("name", "value"), [("EXECUTIONDURATION", "abc"), ("DESTRUCTION", "x")])
def test_uws_controls_given_at_creation_are_refused_before_a_job_exists(api, stack, name, value):
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    refused = api.post(f"{BASE}/async", data={"ID": source, name: value})
    assert refused.status_code == 400
    assert f"set it with POST {{job}}/{name.lower()}" in refused.get_data(as_text=True)


def test_a_job_that_left_pending_keeps_its_parameters_with_a_403_usage_error(api, pending):
    assert api.post(f"{BASE}{pending}/phase", data={"PHASE": "RUN"}).status_code == 303
    before = parameters(api, pending)
    refused = api.post(f"{BASE}{pending}/parameters", data={"CIRCLE": "150.07 2.24 0.001"})
    assert refused.status_code == 403
    # a change the job's phase does not allow, labelled as a phase change refused is
    assert refused.get_data(as_text=True).startswith("UsageError: ")
    assert "no longer PENDING" in refused.get_data(as_text=True)
    assert parameters(api, pending) == before
