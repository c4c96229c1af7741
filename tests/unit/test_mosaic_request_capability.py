"""The mosaic's VOSI capability: schema-valid beside SODA's, and describing every parameter."""

from __future__ import annotations

from lxml import etree

from skycut.mosaic.capability import mosaic_capability, mosaic_job_capability
from skycut.mosaic.request import KNOWN_PARAMETERS
from skycut.vosi.xml import capabilities_xml
from skycut.xsd import load_schema

BASE = "https://images.example.org/api/image/soda"


def test_capabilities_with_the_mosaic_are_schema_valid() -> None:
    root = etree.fromstring(capabilities_xml(base_url=BASE))
    root.append(mosaic_capability(f"{BASE}/mosaic/sync"))
    load_schema("capabilities").assertValid(root)
    (mosaic,) = [c for c in root.iter("capability") if c.get("standardID") is None]
    assert [u.text for u in mosaic.iter("accessURL")] == [f"{BASE}/mosaic/sync"]


def test_every_parameter_the_parser_reads_is_described() -> None:
    element = mosaic_capability(f"{BASE}/mosaic/sync")
    names = [str(p.findtext("name")) for p in element.iter("param")]
    assert sorted(names) == sorted(KNOWN_PARAMETERS)
    units = {p.findtext("name"): p.findtext("unit") for p in element.iter("param")}
    assert (units["PIXSCALE"], units["BAND"], units["TIME"]) == ("deg", "m", "d")


def test_the_mosaic_job_list_is_described_with_the_same_parameters() -> None:
    root = etree.fromstring(capabilities_xml(base_url=BASE))
    root.append(mosaic_capability(f"{BASE}/mosaic/sync"))
    root.append(mosaic_job_capability(f"{BASE}/mosaic"))
    load_schema("capabilities").assertValid(root)
    job = mosaic_job_capability(f"{BASE}/mosaic")
    assert [u.text for u in job.iter("accessURL")] == [f"{BASE}/mosaic"]
    assert [q.text for q in job.iter("queryType")] == ["POST"]
    assert sorted(str(p.findtext("name")) for p in job.iter("param")) == sorted(KNOWN_PARAMETERS)
