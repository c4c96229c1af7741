"""SODA input parameters and their three-factor semantics (SODA 1.0 §3.5, §4).

One table, used by the VOSI capabilities and by DataLink service descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "COLLECTION_PARAMETER",
    "OPTION_PARAMETERS",
    "SODA_PARAMETERS",
    "SODA_PARAMETER_SEMANTICS",
    "ExtensionParameter",
    "SodaParameter",
    "SodaParameterSemantics",
]

SodaParameter = Literal["ID", "POS", "CIRCLE", "POLYGON", "BAND", "TIME", "POL", "RESPONSEFORMAT"]
ExtensionParameter = Literal["COLLECTION", "DETAIL", "MASKOUTSIDE", "RUNID"]


@dataclass(frozen=True, slots=True)
class SodaParameterSemantics:
    """One SODA input parameter with its three-factor semantics (SODA §3.5)."""

    name: SodaParameter | ExtensionParameter
    description: str
    ucd: str | None
    unit: str | None
    datatype: Literal["char", "double"]
    arraysize: str
    xtype: str | None = None
    required: bool = False


SODA_PARAMETER_SEMANTICS: tuple[SodaParameterSemantics, ...] = (
    SodaParameterSemantics(
        "ID",
        "Identifier of the dataset to cut out",
        "meta.ref.url;meta.curation",
        None,
        "char",
        "*",
        required=True,
    ),
    SodaParameterSemantics(
        "POS",
        "Region to cut out: CIRCLE lon lat r, RANGE lon1 lon2 lat1 lat2 or POLYGON lon lat ...",
        "pos.outline;obs",
        None,
        "char",
        "*",
    ),
    SodaParameterSemantics(
        "CIRCLE",
        "Circle to cut out: lon lat radius (ICRS degrees)",
        "pos.outline;obs",
        "deg",
        "double",
        "3",
        xtype="circle",
    ),
    SodaParameterSemantics(
        "POLYGON",
        "Polygon to cut out: lon1 lat1 lon2 lat2 ... (ICRS degrees)",
        "pos.outline;obs",
        "deg",
        "double",
        "*",
        xtype="polygon",
    ),
    SodaParameterSemantics(
        "BAND",
        "Wavelength interval to keep (barycentric, metres)",
        "em.wl;stat.interval",
        "m",
        "double",
        "2",
        xtype="interval",
    ),
    SodaParameterSemantics(
        "TIME",
        "Time interval to keep (MJD, UTC)",
        "time.interval;obs.exposure",
        "d",
        "double",
        "2",
        xtype="interval",
    ),
    SodaParameterSemantics(
        "POL",
        "Polarization states to keep (ObsCore pol_states values)",
        "meta.code;phys.polarization",
        None,
        "char",
        "*",
    ),
    SodaParameterSemantics(
        "RESPONSEFORMAT",
        "Media type of the result",
        None,
        None,
        "char",
        "*",
    ),
)

SODA_PARAMETERS: tuple[SodaParameter, ...] = (
    "ID", "POS", "CIRCLE", "POLYGON", "BAND", "TIME", "POL", "RESPONSEFORMAT",
)  # fmt: skip
"""Every SODA parameter name, in the order descriptors list them."""

COLLECTION_PARAMETER = SodaParameterSemantics(
    "COLLECTION",
    "skycut extension, async only: instead of ID, cut each position from every indexed "
    "image of this collection that it overlaps (as SIA 2.0 finds them), one result per image",
    "meta.id;meta.dataset",
    None,
    "char",
    "*",
)
"""Skycut's parameter beyond SODA 1.0 that async jobs take in place of ``ID``."""

OPTION_PARAMETERS: tuple[SodaParameterSemantics, ...] = (
    SodaParameterSemantics(
        "DETAIL",
        "skycut extension: the HDUs a FITS cutout holds: image (default), "
        "image,mask,variance or all",
        "meta.code",
        None,
        "char",
        "*",
    ),
    SodaParameterSemantics(
        "MASKOUTSIDE",
        "skycut extension: true to blank the pixels outside the region (default false)",
        "meta.code",
        None,
        "char",
        "*",
    ),
    SodaParameterSemantics(
        "RUNID",
        "Name given to the job by its client (at most 64 characters)",
        "meta.id",
        None,
        "char",
        "*",
    ),
)
"""Skycut's optional parameters beyond SODA 1.0, on both interfaces."""
