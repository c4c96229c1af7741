"""A sync cutout is not a job of the caller's list, unless it outlives the request."""

from __future__ import annotations

import pytest
from lxml import etree

BASE = "/api/image/soda"
NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0"}

pytestmark = pytest.mark.integration


def listed(api) -> set[str]:
    doc = etree.fromstring(api.get(f"{BASE}/async").get_data())
    return {ref.get("id") for ref in doc.iterfind("uws:jobref", NS)}


def test_the_job_list_shows_async_jobs_and_no_sync_request(make_client, stack, http):
    api = make_client("soda_api", "http")
    source = f"gs://{stack.config.sources_bucket}/sample/deepcoadd-i-0001.fits"
    before = listed(api)
    cut = api.get(f"{BASE}/sync", query_string={"ID": source, "CIRCLE": "150.1 2.2 0.001"})
    assert cut.status_code == 303
    assert http.get(cut.headers["Location"], timeout=30).content[:9] == b"SIMPLE  ="
    created = api.post(f"{BASE}/async", data={"ID": source, "CIRCLE": "150.1 2.2 0.001"})
    job_id = created.headers["Location"].rsplit("/", 1)[1]
    assert listed(api) - before == {job_id}  # the sync request's job is not in it


def test_a_sync_request_that_times_out_is_listed_as_the_async_job_it_names(
    make_client, stack, monkeypatch
):
    monkeypatch.setenv("SKYCUT_SYNC_TIMEOUT_SECONDS", "0.001")
    api = make_client("soda_api", "http")
    source = f"gs://{stack.config.sources_bucket}/sample/deepcoadd-i-0001.fits"
    before = listed(api)
    late = api.get(f"{BASE}/sync", query_string={"ID": source, "CIRCLE": "150.1 2.2 0.002"})
    assert late.status_code == 503
    job_id = late.get_data(as_text=True).split()[-1]
    assert listed(api) - before == {job_id}
    assert api.get(f"{BASE}/async/{job_id}").status_code == 200
