"""The SIA 2.0 capability: valid in a VOSI capabilities document, and found there by pyvo."""

from __future__ import annotations

import io

import pytest
from lxml import etree
from pyvo.io.vosi import parse_capabilities

from skycut.sia.capability import sia_capability
from skycut.uws.xml import XSI_NS
from skycut.vosi.xml import capabilities_xml
from skycut.xsd import load_schema

BASE = "https://images.example.org/api/image/soda"
SIA = "ivo://ivoa.net/std/SIA#query-2.0"


def capabilities_with_sia() -> bytes:
    """The service's capabilities with the SIA capability appended, as the API would serve them."""
    root = etree.fromstring(capabilities_xml(base_url=BASE))
    root.append(sia_capability(f"{BASE}/sia/query"))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def test_capabilities_with_sia_are_schema_valid() -> None:
    load_schema("capabilities").assertValid(etree.fromstring(capabilities_with_sia()))


def test_the_sia_capability_stands_alone_too() -> None:
    # it declares the prefixes its xsi:type values use, so it is valid wherever it is put
    element = sia_capability(f"{BASE}/sia/query")
    interface = element.find("interface")
    assert interface is not None
    prefix, _, name = interface.get(f"{{{XSI_NS}}}type", "").partition(":")
    assert (element.nsmap[prefix], name) == ("http://www.ivoa.net/xml/VODataService/v1.1",
                                             "ParamHTTP")  # fmt: skip


# pyvo 1.9's VOSI parser warns on valid VODataService 1.2: on a second queryType (W17),
# though its own docstring allows GET and POST, and on every interface param, which it does
# not model; the SODA capabilities draw the same warnings
@pytest.mark.filterwarnings("ignore::pyvo.io.vosi.exceptions.W17")
@pytest.mark.filterwarnings("ignore::pyvo.utils.xml.exceptions.UnknownElementWarning")
def test_pyvo_finds_the_query_url_as_sia2service_does() -> None:
    capabilities = parse_capabilities(io.BytesIO(capabilities_with_sia()))
    sia = [c for c in capabilities if c.standardid and c.standardid.lower() == SIA.lower()]
    assert len(sia) == 1
    urls = [url.content for interface in sia[0].interfaces for url in interface.accessurls]
    assert urls == [f"{BASE}/sia/query"]


def test_every_sia_parameter_is_described_with_its_unit() -> None:
    element = sia_capability(f"{BASE}/sia/query")
    params = {
        p.findtext("name"): (p.findtext("unit"), p.findtext("dataType"))
        for p in element.iter("param")
    }
    assert set(params) == {
        "POS", "BAND", "TIME", "POL", "FOV", "SPATRES", "EXPTIME", "ID", "COLLECTION",
        "FACILITY", "INSTRUMENT", "DPTYPE", "CALIB", "TARGET", "FORMAT", "MAXREC",
        "RESPONSEFORMAT",
    }  # fmt: skip
    # SIA 2.0's units: metres, MJD days, degrees, arcsec, seconds
    assert params["BAND"] == ("m", "double")
    assert params["TIME"] == ("d", "double")
    assert params["FOV"] == ("deg", "double")
    assert params["SPATRES"] == ("arcsec", "double")
    assert params["EXPTIME"] == ("s", "double")
    assert params["CALIB"] == (None, "int")
