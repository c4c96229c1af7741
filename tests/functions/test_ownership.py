"""Two users behind the gateway: each job is invisible and untouchable to the other."""

from __future__ import annotations

import base64
import json

import pytest

from skycut.api.identity import USERINFO_HEADER

pytestmark = pytest.mark.integration

BASE = "/api/image/soda"


def as_user(email):
    claims = base64.urlsafe_b64encode(json.dumps({"email": email, "sub": email}).encode())
    return {USERINFO_HEADER: claims.decode().rstrip("=")}


ALICE, BOB = as_user("alice@example.org"), as_user("bob@example.org")

# every route of one job, with the request another user could try
ROUTES = [
    ("get", "", {}),
    ("get", "", {"WAIT": "1"}),
    ("post", "", {"ACTION": "DELETE"}),
    ("delete", "", {}),
    ("get", "/phase", {}),
    ("post", "/phase", {"PHASE": "RUN"}),
    ("post", "/phase", {"PHASE": "ABORT"}),
    ("get", "/executionduration", {}),
    ("post", "/executionduration", {"EXECUTIONDURATION": "10"}),
    ("get", "/destruction", {}),
    ("post", "/destruction", {"DESTRUCTION": "2030-01-01T00:00:00Z"}),
    ("get", "/quote", {}),
    ("get", "/owner", {}),
    ("get", "/results", {}),
    ("get", "/results/cutout-000000", {}),
    ("get", "/parameters", {}),
    ("post", "/parameters", {"CIRCLE": "1 1 1"}),
    ("get", "/error", {}),
]


@pytest.fixture
def gateway_api(make_client, stack, monkeypatch):
    monkeypatch.setenv("SKYCUT_TRUST_GATEWAY_IDENTITY", "true")
    return make_client("soda_api", "http")


@pytest.fixture
def alice_job(gateway_api, stack):
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    response = gateway_api.post(
        f"{BASE}/async", headers=ALICE, data={"ID": source_id, "CIRCLE": "150.05 2.24 0.001"}
    )
    assert response.status_code == 303
    return response.headers["Location"].rsplit("/", 1)[1]


@pytest.mark.parametrize(("method", "path", "data"), ROUTES)
def test_other_users_get_404_on_every_route(gateway_api, alice_job, method, path, data):
    url = f"{BASE}/async/{alice_job}{path}"
    call = getattr(gateway_api, method)
    response = (
        call(url, headers=BOB, query_string=data)
        if method == "get"
        else call(url, headers=BOB, data=data)
    )
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.get_data(as_text=True).startswith("NotFound: ")
    # and nothing changed for the owner
    owner_view = gateway_api.get(f"{BASE}/async/{alice_job}/phase", headers=ALICE)
    assert owner_view.status_code == 200
    assert owner_view.get_data(as_text=True) == "PENDING"


def test_job_lists_show_only_ones_own_jobs(gateway_api, alice_job):
    assert alice_job in gateway_api.get(f"{BASE}/async", headers=ALICE).get_data(as_text=True)
    assert alice_job not in gateway_api.get(f"{BASE}/async", headers=BOB).get_data(as_text=True)
    owner = gateway_api.get(f"{BASE}/async/{alice_job}/owner", headers=ALICE)
    assert owner.get_data(as_text=True) == "alice@example.org"


def test_no_identity_behind_the_gateway_is_401_but_vosi_stays_anonymous(gateway_api):
    response = gateway_api.get(f"{BASE}/async")
    assert response.status_code == 401
    assert response.get_data(as_text=True).startswith("AuthenticationError: ")
    assert gateway_api.get(f"{BASE}/capabilities").status_code == 200
    assert gateway_api.get(f"{BASE}/availability").status_code == 200


@pytest.fixture
def alice_mosaic(gateway_api, stack):
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    response = gateway_api.post(
        f"{BASE}/mosaic",
        headers=ALICE,
        data={"ID": source_id, "POS": "CIRCLE 150.05 2.24 0.01", "PIXSCALE": "0.0002"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


@pytest.mark.parametrize(("method", "path", "data"), ROUTES)
def test_other_users_get_404_on_every_mosaic_job_route(
    gateway_api, alice_mosaic, method, path, data
):
    url = f"{BASE}/mosaic/{alice_mosaic}{path}"
    call = getattr(gateway_api, method)
    response = (
        call(url, headers=BOB, query_string=data)
        if method == "get"
        else call(url, headers=BOB, data=data)
    )
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.get_data(as_text=True).startswith("NotFound: ")
    owner_view = gateway_api.get(f"{BASE}/mosaic/{alice_mosaic}/phase", headers=ALICE)
    assert owner_view.get_data(as_text=True) == "PENDING"
    listed = gateway_api.get(f"{BASE}/mosaic", headers=BOB).get_data(as_text=True)
    assert alice_mosaic not in listed
