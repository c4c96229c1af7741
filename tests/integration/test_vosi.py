"""VOSI availability and capabilities of the running service, valid against the XSDs."""

from __future__ import annotations

import pytest
from lxml import etree

from skycut.xsd import load_schema

pytestmark = pytest.mark.integration


def test_availability_reports_reachable_back_ends(base_url, http):
    response = http.get(f"{base_url}/availability", timeout=30)
    assert response.status_code == 200
    doc = etree.fromstring(response.content)
    assert load_schema("availability").validate(doc)
    ns = {"vosi": "http://www.ivoa.net/xml/VOSIAvailability/v1.0"}
    assert doc.findtext("vosi:available", namespaces=ns) == "true"


def test_capabilities_point_at_this_service(base_url, http):
    response = http.get(f"{base_url}/capabilities", timeout=30)
    assert response.status_code == 200
    doc = etree.fromstring(response.content)
    assert load_schema("capabilities").validate(doc)
    urls = {u.text for u in doc.iter("accessURL")}
    assert {
        f"{base_url}/sync",
        f"{base_url}/async",
        f"{base_url}/capabilities",
        f"{base_url}/availability",
    } <= urls


def test_examples_are_not_implemented_so_404(base_url, http):
    assert http.get(f"{base_url}/examples", timeout=30).status_code == 404


def test_links_document_validates_against_votable(base_url, http, stack):
    source_id = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    response = http.get(
        f"{base_url}/links", params={"ID": [source_id, "gs://nope/x.fits"]}, timeout=30
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/x-votable+xml")
    doc = etree.fromstring(response.content)
    schema = load_schema("votable")
    assert schema.validate(doc), schema.error_log
    ns = {"v": "http://www.ivoa.net/xml/VOTable/v1.3"}
    assert doc.find("v:RESOURCE[@utype='adhoc:service']", namespaces=ns) is not None
    polygon = doc.find(".//v:PARAM[@name='POLYGON']/v:VALUES/v:MAX", namespaces=ns)
    assert len(polygon.get("value").split()) == 8, "the image's four corners"
