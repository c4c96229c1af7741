"""VOSI availability and capabilities: schema-valid and what registries read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from skycut.uws.xml import XSI_NS
from skycut.vosi.xml import (
    AVAILABILITY_NS,
    CAPABILITIES_NS,
    SODA_PARAMETERS,
    VODATASERVICE_NS,
    SodaParameter,
    availability_xml,
    capabilities_xml,
)
from skycut.xsd import load_schema

NS = {"a": AVAILABILITY_NS, "c": CAPABILITIES_NS, "xsi": XSI_NS}
BASE = "https://cutouts.example.org/soda"
SYNC = "ivo://ivoa.net/std/SODA#sync-1.0"
ASYNC = "ivo://ivoa.net/std/SODA#async-1.0"
UWS = "ivo://ivoa.net/std/UWS#rest-1.1"
DATALINK = "ivo://ivoa.net/std/DataLink#links-1.0"
VOSI_CAPABILITIES = "ivo://ivoa.net/std/VOSI#capabilities"
VOSI_AVAILABILITY = "ivo://ivoa.net/std/VOSI#availability"

# SODA 1.0 §3.5 three-factor semantics plus VOTable type (CHECKLIST item 22):
# name -> (ucd, unit, datatype, arraysize, xtype)
THREE_FACTORS: dict[str, tuple[str | None, str | None, str, str, str | None]] = {
    "ID": ("meta.ref.url;meta.curation", None, "char", "*", None),
    "POS": ("pos.outline;obs", None, "char", "*", None),
    "CIRCLE": ("pos.outline;obs", "deg", "double", "3", "circle"),
    "POLYGON": ("pos.outline;obs", "deg", "double", "*", "polygon"),
    "BAND": ("em.wl;stat.interval", "m", "double", "2", "interval"),
    "TIME": ("time.interval;obs.exposure", "d", "double", "2", "interval"),
    "POL": ("meta.code;phys.polarization", None, "char", "*", None),
    "RESPONSEFORMAT": (None, None, "char", "*", None),
}


def parse(document: bytes) -> etree._Element:
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return etree.fromstring(document)


def many(root: etree._Element, path: str) -> list[etree._Element]:
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [element for element in found if isinstance(element, etree._Element)]


def only(root: etree._Element, path: str) -> etree._Element:
    found = many(root, path)
    assert len(found) == 1, f"{path}: {len(found)} matches"
    return found[0]


def child_text(element: etree._Element, name: str) -> str | None:
    found = many(element, name)
    assert len(found) <= 1
    return found[0].text if found else None


def xsi_type(element: etree._Element) -> etree.QName:
    """Resolve an ``xsi:type`` value against the element's in-scope prefixes."""
    value = element.get(f"{{{XSI_NS}}}type")
    assert value is not None
    prefix, _, local = value.rpartition(":")
    return etree.QName(element.nsmap[prefix or None], local)


# --- availability -----------------------------------------------------------


@pytest.mark.parametrize("available", [True, False])
@pytest.mark.parametrize("up_since", [None, datetime(2026, 11, 21, 22, 0, 0, 5000, tzinfo=UTC)])
@pytest.mark.parametrize("notes", [(), ("draining for maintenance", "back at 23:00")])
def test_availability_is_valid(
    available: bool, up_since: datetime | None, notes: tuple[str, ...]
) -> None:
    root = parse(availability_xml(available=available, up_since=up_since, notes=notes))

    load_schema("availability").assertValid(root)
    assert root.tag == f"{{{AVAILABILITY_NS}}}availability"
    assert only(root, "a:available").text == ("true" if available else "false")
    since = many(root, "a:upSince")
    assert [e.text for e in since] == ([] if up_since is None else ["2026-11-21T22:00:00.005Z"])
    assert [e.text for e in many(root, "a:note")] == list(notes)


def test_availability_times_are_utc() -> None:
    document = availability_xml(
        available=False,
        up_since=datetime(2026, 11, 21, 23, 0, tzinfo=timezone(timedelta(hours=1))),
        back_at=datetime(2026, 11, 21, 18, 30, tzinfo=timezone(timedelta(hours=-5))),
    )
    root = parse(document)

    load_schema("availability").assertValid(root)
    assert only(root, "a:upSince").text == "2026-11-21T22:00:00.000Z"
    assert only(root, "a:backAt").text == "2026-11-21T23:30:00.000Z"


def test_available_service_gives_no_back_at() -> None:
    back = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
    root = parse(availability_xml(available=True, up_since=None, back_at=back))

    assert many(root, "a:backAt") == []


def test_availability_validation_rejects_missing_available() -> None:
    root = parse(availability_xml(available=True, up_since=None, notes=["ok"]))
    root.remove(only(root, "a:available"))

    assert not load_schema("availability").validate(root)


# --- capabilities -----------------------------------------------------------


@pytest.fixture(scope="module")
def capabilities() -> etree._Element:
    return parse(capabilities_xml(base_url=BASE))


def capability(root: etree._Element, standard_id: str) -> etree._Element:
    return only(root, f"capability[@standardID='{standard_id}']")


def test_capabilities_are_valid(capabilities: etree._Element) -> None:
    load_schema("capabilities").assertValid(capabilities)
    assert capabilities.tag == f"{{{CAPABILITIES_NS}}}capabilities"


def test_one_capability_per_resource(capabilities: etree._Element) -> None:
    ids = [c.get("standardID") for c in many(capabilities, "capability")]

    assert sorted(ids, key=str) == sorted(
        [SYNC, ASYNC, UWS, DATALINK, VOSI_CAPABILITIES, VOSI_AVAILABILITY], key=str
    )


@pytest.mark.parametrize(
    ("standard_id", "url", "use"),
    [
        (SYNC, f"{BASE}/sync", "base"),
        (ASYNC, f"{BASE}/async", "base"),
        (UWS, f"{BASE}/async", "base"),
        (DATALINK, f"{BASE}/links", "base"),
        (VOSI_CAPABILITIES, f"{BASE}/capabilities", "full"),
        (VOSI_AVAILABILITY, f"{BASE}/availability", "full"),
    ],
)
def test_access_urls(capabilities: etree._Element, standard_id: str, url: str, use: str) -> None:
    interface = only(capability(capabilities, standard_id), "interface")

    assert xsi_type(interface) == etree.QName(VODATASERVICE_NS, "ParamHTTP")
    assert interface.get("role") == "std"
    access = only(interface, "accessURL")
    assert access.text == url
    assert access.get("use") == use
    # VOSI §2: anonymous access, so no securityMethod
    assert many(interface, "securityMethod") == []


def test_trailing_slash_in_base_url_is_ignored() -> None:
    root = parse(capabilities_xml(base_url=BASE + "/"))

    assert only(capability(root, SYNC), "interface/accessURL").text == f"{BASE}/sync"


@pytest.mark.parametrize("standard_id", [SYNC, ASYNC])
def test_soda_interfaces_take_get_and_post_and_return_fits(
    capabilities: etree._Element, standard_id: str
) -> None:
    interface = only(capability(capabilities, standard_id), "interface")

    assert [e.text for e in many(interface, "queryType")] == ["GET", "POST"]
    assert child_text(interface, "resultType") == "application/fits"


@pytest.mark.parametrize("standard_id", [SYNC, ASYNC])
def test_soda_parameters_carry_three_factor_semantics(
    capabilities: etree._Element, standard_id: str
) -> None:
    params = many(capability(capabilities, standard_id), "interface/param")

    described = {}
    for param in params:
        datatype = only(param, "dataType")
        assert xsi_type(datatype) == etree.QName(VODATASERVICE_NS, "VOTableType")
        described[child_text(param, "name")] = (
            child_text(param, "ucd"),
            child_text(param, "unit"),
            datatype.text,
            datatype.get("arraysize"),
            datatype.get("extendedType"),
        )
    assert described == THREE_FACTORS
    assert [p.get("use") for p in params if child_text(p, "name") == "ID"] == ["required"]


def test_only_the_chosen_parameters_are_described() -> None:
    chosen: list[SodaParameter] = ["RESPONSEFORMAT", "CIRCLE", "ID"]
    root = parse(capabilities_xml(base_url=BASE, parameters=chosen))

    load_schema("capabilities").assertValid(root)
    for standard_id in (SYNC, ASYNC):
        names = [child_text(p, "name") for p in many(capability(root, standard_id), "*/param")]
        assert names == [name for name in SODA_PARAMETERS if name in chosen]


@pytest.mark.parametrize("standard_id", [UWS, VOSI_CAPABILITIES, VOSI_AVAILABILITY])
def test_non_soda_interfaces_have_no_parameters(
    capabilities: etree._Element, standard_id: str
) -> None:
    assert many(capability(capabilities, standard_id), "interface/param") == []


def test_validation_rejects_the_soda_example_attribute_spelling() -> None:
    # SODA 1.0 §2.5 writes standardid=; the schema only knows standardID
    root = parse(capabilities_xml(base_url=BASE))
    first = many(root, "capability")[0]
    first.set("standardid", first.attrib.pop("standardID"))

    schema = load_schema("capabilities")
    assert not schema.validate(root)
    assert "standardid" in str(schema.error_log)


def test_validation_rejects_a_bad_access_url_use() -> None:
    root = parse(capabilities_xml(base_url=BASE))
    only(capability(root, SYNC), "interface/accessURL").set("use", "partial")

    assert not load_schema("capabilities").validate(root)


def test_async_advertises_collection_in_place_of_id_and_sync_does_not() -> None:
    from skycut.soda.semantics import COLLECTION_PARAMETER

    root = parse(capabilities_xml(base_url=BASE, async_extensions=[COLLECTION_PARAMETER]))

    def params(standard_id: str) -> dict[str, str]:
        interface = capability(root, standard_id).find("interface")
        return {p.findtext("name"): p.get("use") for p in interface.findall("param")}

    sync, run = (
        params("ivo://ivoa.net/std/SODA#sync-1.0"),
        params("ivo://ivoa.net/std/SODA#async-1.0"),
    )
    assert sync["ID"] == "required"
    assert "COLLECTION" not in sync
    assert run["ID"] == "optional"
    assert run["COLLECTION"] == "optional"
