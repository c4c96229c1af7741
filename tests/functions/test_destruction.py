"""A job's DESTRUCTION time, set through the soda_api function (over the real emulators)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

BASE = "/api/image/soda"


@pytest.fixture
def api(make_client, stack):
    return make_client("soda_api", "http")


def pending_job(api, stack) -> str:
    """Create a PENDING cutout job; return its path."""
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    response = api.post(f"{BASE}/async", data={"ID": source_id, "CIRCLE": "150.05 2.24 0.001"})
    assert response.status_code == 303
    return f"{BASE}/async/{response.headers['Location'].rsplit('/', 1)[1]}"


@pytest.mark.parametrize("past", ["2020-01-01T00:00:00Z", "0001-01-01T00:00:00Z"])
def test_a_destruction_in_the_past_is_refused_and_the_job_kept(api, stack, past):
    job = pending_job(api, stack)
    kept = api.get(f"{job}/destruction").get_data(as_text=True)
    response = api.post(f"{job}/destruction", data={"DESTRUCTION": past})
    assert response.status_code == 400
    message = response.get_data(as_text=True)
    assert message.startswith(f"UsageError: DESTRUCTION {past} is in the past")
    assert api.get(job).status_code == 200, "a typo does not destroy the job"
    assert api.get(f"{job}/destruction").get_data(as_text=True) == kept
