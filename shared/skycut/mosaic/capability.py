"""The VOSI capabilities that advertise ``<base>/mosaic/sync`` and the job list ``<base>/mosaic``.

The mosaic service follows no IVOA standard, so its ``capability`` carries
no ``standardID`` (VOResource 1.1 allows that) and a ``description``; its
``vod:ParamHTTP`` interface lists every parameter the request parser reads
(``skycut.mosaic.request.KNOWN_PARAMETERS``; a test keeps the two lists
equal), marked ``std="false"``, with its VOTable type and unit, as the SIA
capability does.
"""

from __future__ import annotations

from lxml import etree

from skycut.uws.xml import XSI_NS

__all__ = ["MOSAIC_PARAMETERS", "mosaic_capability", "mosaic_job_capability"]

_VODATASERVICE_NS = "http://www.ivoa.net/xml/VODataService/v1.1"
_DESCRIPTION = (
    "skycut mosaic (synchronous): the images covering a region or an output grid, "
    "reprojected and coadded; 303 to the FITS file or PNG/JPEG preview"
)
_JOB_DESCRIPTION = (
    "skycut mosaic job (asynchronous, a UWS 1.1 job list): POST the parameters of "
    "mosaic/sync (with PHASE=RUN to run at once) for larger mosaics made by many workers; "
    "the job's results are the mosaic (FITS file or PNG/JPEG) and a preview"
)

# name, description, unit, datatype
MOSAIC_PARAMETERS: tuple[tuple[str, str, str | None, str], ...] = (
    ("POS", "Region the mosaic holds: CIRCLE ra dec r, RANGE ra1 ra2 dec1 dec2 or "
     "POLYGON ra1 dec1 ... (ICRS degrees)", None, "char"),
    ("CIRCLE", "As POS=CIRCLE: ra dec r (ICRS degrees)", "deg", "double"),
    ("POLYGON", "As POS=POLYGON: ra1 dec1 ra2 dec2 ... (ICRS degrees)", "deg", "double"),
    ("CRVAL", "Centre of an explicit grid: lon lat in FRAME", "deg", "double"),
    ("CENTER", "Same as CRVAL", "deg", "double"),
    ("WIDTH", "Width of an explicit grid in pixels", None, "int"),
    ("HEIGHT", "Height of an explicit grid in pixels", None, "int"),
    ("PIXSCALE", "Output pixel size", "deg", "double"),
    ("PROJECTION", "FITS celestial projection code: TAN (default), SIN, ZEA, CAR, AIT...",
     None, "char"),
    ("ROTATION", "Position angle of the grid's up direction, east of north (default 0)",
     "deg", "double"),
    ("FRAME", "ICRS (default) or GALACTIC", None, "char"),
    ("TEMPLATE", "A FITS header giving the whole output grid (text or a FITS file)",
     None, "char"),
    ("ID", "Input image (gs:// URI); repeatable", None, "char"),
    ("COLLECTION", "Without ID: the indexed images' collection; repeatable", None, "char"),
    ("BAND", "Without ID: wavelength interval the images' band overlaps: lo hi", "m", "double"),
    ("TIME", "Without ID: time interval the exposures overlap: lo hi (MJD)", "d", "double"),
    ("METHOD", "bilinear (default), bicubic or exact (flux-conserving)", None, "char"),
    ("COMBINE", "mean (default), median, sum or weighted", None, "char"),
    ("BACKGROUND", "none (default) or match (planes fitted to the overlaps)", None, "char"),
    ("DETAIL", "Extra FITS planes: coverage, count or coverage,count", None, "char"),
    ("RESPONSEFORMAT", "application/fits (default), image/png or image/jpeg", None, "char"),
    ("COLOR", "grey (default), or rgb: three separate BANDs in one colour preview",
     None, "char"),
    ("RUNID", "A label kept with the request", None, "char"),
)  # fmt: skip
"""The parameters the capability describes, every one the parser reads."""


def mosaic_capability(url: str) -> etree._Element:
    """Build the sync mosaic's capability for a VOSI capabilities document.

    Parameters
    ----------
    url
        The sync mosaic resource's URL, ``<base>/mosaic/sync``.

    Returns
    -------
    lxml.etree._Element
        An unqualified ``capability`` element declaring the ``vod`` and
        ``xsi`` prefixes it uses, to append to the capabilities root.

    """
    return _capability(url, _DESCRIPTION, methods=("GET", "POST"), result="application/fits")


def mosaic_job_capability(url: str) -> etree._Element:
    """Build the mosaic job list's capability (``<base>/mosaic``), as `mosaic_capability`.

    It takes the same parameters, POSTed; what it answers is a UWS job.
    """
    return _capability(url, _JOB_DESCRIPTION, methods=("POST",), result="text/xml")


def _capability(
    url: str, description: str, *, methods: tuple[str, ...], result: str
) -> etree._Element:
    capability = etree.Element("capability", nsmap={"vod": _VODATASERVICE_NS, "xsi": XSI_NS})
    etree.SubElement(capability, "description").text = description
    interface = etree.SubElement(capability, "interface")
    interface.set(f"{{{XSI_NS}}}type", "vod:ParamHTTP")
    etree.SubElement(interface, "accessURL", use="full").text = url
    for method in methods:
        etree.SubElement(interface, "queryType").text = method
    etree.SubElement(interface, "resultType").text = result
    for name, description, unit, datatype in MOSAIC_PARAMETERS:
        param = etree.SubElement(interface, "param", use="optional", std="false")
        etree.SubElement(param, "name").text = name
        etree.SubElement(param, "description").text = description
        if unit is not None:
            etree.SubElement(param, "unit").text = unit
        type_ = etree.SubElement(param, "dataType", arraysize="1" if datatype == "int" else "*")
        type_.set(f"{{{XSI_NS}}}type", "vod:VOTableType")
        type_.text = datatype
    return capability
