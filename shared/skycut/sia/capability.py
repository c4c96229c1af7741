"""The VOSI capability that advertises the SIA 2.0 ``{query}`` resource.

One ``capability`` element with ``standardID="ivo://ivoa.net/std/SIA#query-2.0"``
and a ``vod:ParamHTTP`` interface listing the parameters SIA 2.0 defines
with their VOTable types and units, for a ``vosi:capabilities`` document
(:mod:`skycut.vosi.xml`) to hold next to the SODA ones. Like the minimal
example of SIA 2.0 ("Capabilities: VOSI-capabilities"), it needs no
registry extension schema.
"""

from __future__ import annotations

from lxml import etree

from skycut.sia.votable import SIA_QUERY_STANDARD
from skycut.uws.xml import XSI_NS

__all__ = ["SIA_PARAMETERS", "sia_capability"]

_VODATASERVICE_NS = "http://www.ivoa.net/xml/VODataService/v1.1"

# name, description, unit, ucd, datatype, xtype
SIA_PARAMETERS: tuple[tuple[str, str, str | None, str | None, str, str | None], ...] = (
    ("POS", "Region the images must overlap: CIRCLE ra dec r, RANGE ra1 ra2 dec1 dec2 or "
     "POLYGON ra1 dec1 ... (ICRS degrees)", None, "pos.outline;obs", "char", None),
    ("BAND", "Vacuum wavelength interval the images' band must overlap: lo hi",
     "m", "em.wl;stat.interval", "double", "interval"),
    ("TIME", "Time interval the exposures must overlap: lo hi (MJD, UTC)",
     "d", "time.interval;obs.exposure", "double", "interval"),
    ("POL", "Polarization state (ObsCore pol_states name)", None,
     "meta.code;phys.polarization", "char", None),
    ("FOV", "Interval holding the field of view (s_fov)", "deg",
     "phys.angSize;instr.fov", "double", "interval"),
    ("SPATRES", "Interval holding the spatial resolution (s_resolution)", "arcsec",
     "pos.angResolution", "double", "interval"),
    ("EXPTIME", "Interval holding the exposure time (t_exptime)", "s",
     "time.duration;obs.exposure", "double", "interval"),
    ("ID", "Dataset identifier (obs_publisher_did)", None, "meta.ref.ivoid", "char", None),
    ("COLLECTION", "Collection name (obs_collection)", None, "meta.id", "char", None),
    ("FACILITY", "Facility name (facility_name)", None, "meta.id;instr.tel", "char", None),
    ("INSTRUMENT", "Instrument name (instrument_name)", None, "meta.id;instr", "char", None),
    ("DPTYPE", "Data product type: image or cube", None, "meta.code.class", "char", None),
    ("CALIB", "Calibration level, 0 to 4", None, "meta.code;obs.calib", "int", None),
    ("TARGET", "Target name (target_name)", None, "meta.id;src", "char", None),
    ("FORMAT", "Format of access_url's document (access_format)", None,
     "meta.code.mime", "char", None),
    ("MAXREC", "Maximum number of records to return", None, None, "int", None),
    ("RESPONSEFORMAT", "application/x-votable+xml, with an optional "
     ";serialization=TABLEDATA|BINARY|BINARY2", None, None, "char", None),
)  # fmt: skip
"""The parameters the capability describes: every one SIA 2.0 ``{query}`` defines."""


def sia_capability(url: str) -> etree._Element:
    """Build the SIA 2.0 ``{query}`` capability for a VOSI capabilities document.

    Parameters
    ----------
    url
        The ``{query}`` resource's URL, e.g. ``<base>/sia/query``.

    Returns
    -------
    lxml.etree._Element
        An unqualified ``capability`` element (as ``vosi:capabilities``
        holds them) that declares the ``vod`` and ``xsi`` prefixes it
        uses, to be appended to the capabilities root.

    """
    capability = etree.Element(
        "capability",
        {"standardID": SIA_QUERY_STANDARD},
        nsmap={"vod": _VODATASERVICE_NS, "xsi": XSI_NS},
    )
    interface = etree.SubElement(capability, "interface", role="std")
    interface.set(f"{{{XSI_NS}}}type", "vod:ParamHTTP")
    etree.SubElement(interface, "accessURL", use="base").text = url
    for method in ("GET", "POST"):
        etree.SubElement(interface, "queryType").text = method
    etree.SubElement(interface, "resultType").text = "application/x-votable+xml"
    for name, description, unit, ucd, datatype, xtype in SIA_PARAMETERS:
        param = etree.SubElement(interface, "param", use="optional", std="true")
        etree.SubElement(param, "name").text = name
        etree.SubElement(param, "description").text = description
        if unit is not None:
            etree.SubElement(param, "unit").text = unit
        if ucd is not None:
            etree.SubElement(param, "ucd").text = ucd
        # VODataService 1.2 asks DALI services for VOTable types
        type_ = etree.SubElement(param, "dataType", arraysize="1" if datatype == "int" else "*")
        type_.set(f"{{{XSI_NS}}}type", "vod:VOTableType")
        if xtype is not None:
            type_.set("extendedType", xtype)
        type_.text = datatype
    return capability
