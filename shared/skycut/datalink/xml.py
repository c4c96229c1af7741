"""DataLink 1.0 {links} documents with SODA service descriptors (SODA §4, DataLink §3-4)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from skycut.datalink.footprint import Footprint
from skycut.soda.semantics import SODA_PARAMETER_SEMANTICS, SodaParameter
from skycut.uws.xml import VOTABLE_NS

__all__ = ["LinkRow", "links_votable"]

_LINKS_STANDARD = "ivo://ivoa.net/std/DataLink#links-1.0"
_SODA_SYNC = "ivo://ivoa.net/std/SODA#sync-1.0"
_FIELDS = (
    ("ID", "char", "meta.id;meta.main", None),
    ("access_url", "char", "meta.ref.url", None),
    ("service_def", "char", "meta.ref", None),
    ("error_message", "char", "meta.code.error", None),
    ("semantics", "char", "meta.code", None),
    ("description", "char", "meta.note", None),
    ("content_type", "char", "meta.code.mime", None),
    ("content_length", "long", "phys.size;meta.file", "byte"),
)


@dataclass(frozen=True, slots=True)
class LinkRow:
    """One row of a links table; a ``footprint`` makes it a SODA cutout service row."""

    id: str
    semantics: str
    description: str
    access_url: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    error_message: str | None = None
    footprint: Footprint | None = None


def _param(parent: etree._Element, name: str, value: str, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{VOTABLE_NS}}}PARAM", name=name, value=value)
    for key, text in attrs.items():
        element.set(key, text)
    return element


def _descriptor(
    root: etree._Element,
    row: LinkRow,
    service_id: str,
    *,
    sync_url: str,
    parameters: Sequence[SodaParameter],
) -> None:
    resource = etree.SubElement(
        root, f"{{{VOTABLE_NS}}}RESOURCE", type="meta", utype="adhoc:service", ID=service_id
    )
    _param(resource, "standardID", _SODA_SYNC, datatype="char", arraysize="*")
    _param(resource, "accessURL", sync_url, datatype="char", arraysize="*")
    group = etree.SubElement(resource, f"{{{VOTABLE_NS}}}GROUP", name="inputParams")
    footprint = row.footprint
    assert footprint is not None
    for spec in SODA_PARAMETER_SEMANTICS:
        if spec.name not in parameters:
            continue
        attrs = {"datatype": spec.datatype, "arraysize": spec.arraysize}
        if spec.ucd:
            attrs["ucd"] = spec.ucd
        if spec.unit:
            attrs["unit"] = spec.unit
        if spec.xtype:
            attrs["xtype"] = spec.xtype
        value = row.id if spec.name == "ID" else ""
        param = _param(group, spec.name, value, **attrs)
        etree.SubElement(param, f"{{{VOTABLE_NS}}}DESCRIPTION").text = spec.description
        # SODA §4.2: dataset-specific descriptors say where the data are
        if spec.name == "CIRCLE":
            values = etree.SubElement(param, f"{{{VOTABLE_NS}}}VALUES")
            ra, dec = footprint.centre
            etree.SubElement(
                values, f"{{{VOTABLE_NS}}}MAX", value=f"{ra!r} {dec!r} {footprint.radius!r}"
            )
        elif spec.name == "POLYGON":
            values = etree.SubElement(param, f"{{{VOTABLE_NS}}}VALUES")
            corners = " ".join(f"{ra!r} {dec!r}" for ra, dec in footprint.polygon)
            etree.SubElement(values, f"{{{VOTABLE_NS}}}MAX", value=corners)


def links_votable(
    rows: Iterable[LinkRow], *, sync_url: str, parameters: Sequence[SodaParameter]
) -> bytes:
    """Build the {links} response: the links table, then one descriptor per cutout row.

    Parameters
    ----------
    rows
        The links of every requested ID, errors included.
    sync_url
        The SODA sync URL the descriptors point at.
    parameters
        The SODA parameters the service supports, described in each descriptor.

    Returns
    -------
    bytes
        A VOTable 1.4 document, valid against VOTable-v1.4.xsd.

    """
    root = etree.Element(f"{{{VOTABLE_NS}}}VOTABLE", nsmap={None: VOTABLE_NS}, version="1.4")  # type: ignore[dict-item]
    results = etree.SubElement(root, f"{{{VOTABLE_NS}}}RESOURCE", type="results")
    etree.SubElement(results, f"{{{VOTABLE_NS}}}INFO", name="standardID", value=_LINKS_STANDARD)
    table = etree.SubElement(results, f"{{{VOTABLE_NS}}}TABLE")
    for name, datatype, ucd, unit in _FIELDS:
        field = etree.SubElement(
            table, f"{{{VOTABLE_NS}}}FIELD", name=name, datatype=datatype, ucd=ucd
        )
        if datatype == "char":
            field.set("arraysize", "*")
        if unit:
            field.set("unit", unit)
    data = etree.SubElement(
        etree.SubElement(table, f"{{{VOTABLE_NS}}}DATA"), f"{{{VOTABLE_NS}}}TABLEDATA"
    )
    descriptors = []
    for number, row in enumerate(rows):
        service_def = f"soda-{number}" if row.footprint is not None else None
        values = (
            row.id,
            row.access_url,
            service_def,
            row.error_message,
            row.semantics,
            row.description,
            row.content_type,
            None if row.content_length is None else str(row.content_length),
        )
        tr = etree.SubElement(data, f"{{{VOTABLE_NS}}}TR")
        for value in values:
            etree.SubElement(tr, f"{{{VOTABLE_NS}}}TD").text = value
        if service_def is not None:
            descriptors.append((row, service_def))
    for row, service_def in descriptors:
        _descriptor(root, row, service_def, sync_url=sync_url, parameters=parameters)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
