"""VOSI 1.1 availability and capabilities documents.

Availability is vo-models' ``Availability`` model. Capabilities are built with
lxml: vo-models' ``Capability`` serialises its interfaces as the base
``Interface`` (a ``ParamHTTP``'s queryType, resultType and params are dropped),
writes ``xsi:type=""`` on a capability without a type, and its ``InputParam``
has no ``name`` (added by a subclass, it comes after ``dataType``, where the
schema rejects it) and its ``DataType`` no ``extendedType``.

The capabilities list one ``capability`` per resource (SODA 1.0 §2.5, VOSI
1.1 §4): SODA sync and async, UWS 1.1 for the async resource, and the two
VOSI resources.  Interfaces are ``vod:ParamHTTP``; SODA resources give their
URL as a base to add parameters to, VOSI ones as the full URL (VOSI §4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Literal

from lxml import etree
from vo_models.vosi.availability.models import Availability

from skycut.soda.semantics import (
    SODA_PARAMETER_SEMANTICS,
    SODA_PARAMETERS,
    SodaParameter,
    SodaParameterSemantics,
)
from skycut.uws.xml import XSI_NS
from skycut.uws.xml_models import as_utc, render

__all__ = [
    "AVAILABILITY_NS",
    "CAPABILITIES_NS",
    "SODA_PARAMETERS",
    "VODATASERVICE_NS",
    "SodaParameter",
    "availability_xml",
    "capabilities_xml",
]

AVAILABILITY_NS = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
CAPABILITIES_NS = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
VODATASERVICE_NS = "http://www.ivoa.net/xml/VODataService/v1.1"

_SODA_SYNC = "ivo://ivoa.net/std/SODA#sync-1.0"
_SODA_ASYNC = "ivo://ivoa.net/std/SODA#async-1.0"
_UWS = "ivo://ivoa.net/std/UWS#rest-1.1"
_DATALINK = "ivo://ivoa.net/std/DataLink#links-1.0"
_VOSI_CAPABILITIES = "ivo://ivoa.net/std/VOSI#capabilities"
_VOSI_AVAILABILITY = "ivo://ivoa.net/std/VOSI#availability"


_Param = SodaParameterSemantics
_SODA_PARAMS = SODA_PARAMETER_SEMANTICS


def availability_xml(
    *,
    available: bool,
    up_since: datetime | None,
    notes: Sequence[str] = (),
    back_at: datetime | None = None,
) -> bytes:
    """Build the VOSI availability document.

    Parameters
    ----------
    available
        Whether the service accepts requests now.
    up_since
        When it last became available, if known (naive means UTC).
    notes
        Free-text notes, e.g. which back end is down.
    back_at
        When an unavailable service expects to be back, if known.

    Returns
    -------
    document
        A ``vosi:availability`` document, valid against
        VOSIAvailability-v1.0.xsd.

    """
    document = Availability(
        available=available,
        up_since=as_utc(up_since),
        back_at=None if available else as_utc(back_at),
        note=list(notes),
    )
    return render(document)


def capabilities_xml(
    *,
    base_url: str,
    parameters: Iterable[SodaParameter] = SODA_PARAMETERS,
    async_extensions: Iterable[_Param] = (),
    options: Iterable[_Param] = (),
    others: Iterable[etree._Element] = (),
) -> bytes:
    """Build the VOSI capabilities document of a SODA service.

    Parameters
    ----------
    base_url
        The service's base URL; resources are ``<base_url>/sync``,
        ``/async``, ``/capabilities`` and ``/availability``.
    parameters
        The SODA parameters to describe on the sync and async interfaces;
        SODA 1.0 §4 asks to list only the supported ones (and POS only if
        all of its shapes are). They are listed in the order of
        :data:`SODA_PARAMETERS`.
    async_extensions
        Parameters beyond SODA that the async interface also takes in place
        of ``ID`` (e.g. ``COLLECTION``); ``ID`` is then optional there.
    options
        Optional parameters beyond SODA that both interfaces take (e.g.
        ``DETAIL``), listed after the others.
    others
        Capabilities of the service's other resources (e.g. SIA 2.0's
        ``{query}``, :func:`skycut.sia.capability.sia_capability`), after SODA's.

    Returns
    -------
    document
        A ``vosi:capabilities`` document, valid against VOSICapabilities-v1.0
        with VODataService-v1.2.

    """
    base = base_url.rstrip("/")
    root = etree.Element(
        f"{{{CAPABILITIES_NS}}}capabilities",
        nsmap={"vosi": CAPABILITIES_NS, "vod": VODATASERVICE_NS, "xsi": XSI_NS},
    )
    wanted = set(parameters)
    params = [p for p in _SODA_PARAMS if p.name in wanted]
    beyond = list(options)
    _soda_capability(root, _SODA_SYNC, f"{base}/sync", params + beyond)
    extensions = list(async_extensions)
    async_params = [
        replace(p, required=False) if p.name == "ID" and extensions else p for p in params
    ]
    _soda_capability(root, _SODA_ASYNC, f"{base}/async", async_params + extensions + beyond)
    _interface(_capability(root, _UWS), f"{base}/async", use="base")
    _interface(_capability(root, _DATALINK), f"{base}/links", use="base")
    root.extend(others)
    _interface(_capability(root, _VOSI_CAPABILITIES), f"{base}/capabilities", use="full")
    _interface(_capability(root, _VOSI_AVAILABILITY), f"{base}/availability", use="full")
    return _serialize(root)


def _capability(root: etree._Element, standard_id: str) -> etree._Element:
    # VOSICapabilities declares capability unqualified, as VOResource does its children
    return etree.SubElement(root, "capability", standardID=standard_id)


def _interface(
    capability: etree._Element, url: str, *, use: Literal["base", "full"]
) -> etree._Element:
    interface = etree.SubElement(capability, "interface", role="std")
    interface.set(f"{{{XSI_NS}}}type", "vod:ParamHTTP")
    etree.SubElement(interface, "accessURL", use=use).text = url
    return interface


def _soda_capability(
    root: etree._Element, standard_id: str, url: str, params: Iterable[_Param]
) -> None:
    interface = _interface(_capability(root, standard_id), url, use="base")
    for method in ("GET", "POST"):
        etree.SubElement(interface, "queryType").text = method
    etree.SubElement(interface, "resultType").text = "application/fits"
    for param in params:
        _add_param(interface, param)


def _add_param(interface: etree._Element, param: _Param) -> None:
    element = etree.SubElement(interface, "param", use="required" if param.required else "optional")
    etree.SubElement(element, "name").text = param.name
    etree.SubElement(element, "description").text = param.description
    if param.unit is not None:
        etree.SubElement(element, "unit").text = param.unit
    if param.ucd is not None:
        etree.SubElement(element, "ucd").text = param.ucd
    datatype = etree.SubElement(element, "dataType", arraysize=param.arraysize)
    # VODataService 1.2 asks DALI-compliant services for VOTable types here
    datatype.set(f"{{{XSI_NS}}}type", "vod:VOTableType")
    if param.xtype is not None:
        datatype.set("extendedType", param.xtype)
    datatype.text = param.datatype


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
