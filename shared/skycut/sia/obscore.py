"""An indexed image as an ObsCore 1.1 row: the columns an SIA 2.0 response carries.

Every column is described by :data:`COLUMNS` with the name, UCD, unit and
utype of ObsCore 1.1 (Appendix C, Tables 6 and 7, with the 2018 erratum's
``meta.ref.ivoid`` for ``obs_publisher_did``) and a VOTable datatype for its
ADQL type (VARCHAR and CLOB as ``char``, INTEGER as ``int``, BIGINT as
``long``, DOUBLE as ``double``; ``s_region``, an ADQL REGION in ObsCore, is
a DALI polygon, ``double[*]`` with ``xtype="polygon"``, SIA 2.0 allowing
the same column in any VOTable form).

How skycut fills the columns it has to derive:

- ``obs_publisher_did`` is the image's ``ID`` (``gs://bucket/object``), the
  one SODA and DataLink take; ``obs_id`` is the object's name.
- ``access_url`` is the DataLink ``{links}`` URL of that ID, so
  ``access_format`` is DataLink's MIME type (SIA 2.0 §3.1.3); the links
  lead to the file and to the SODA cutout service.
- ``access_estsize`` is the object's size in kB (1000 bytes), rounded up.
- ``s_ra``, ``s_dec``: the centre of the cap that encloses the footprint;
  ``s_fov``: that cap's diameter (twice its radius, degrees), within a few
  per cent of the smallest enclosing circle's.
- ``s_region``: the footprint's outline, simplified to at most
  :data:`~skycut.index.region.DEFAULT_MAX_VERTICES` vertices that still
  contain it (:mod:`skycut.index.region`), as the index stores it with the
  image (:attr:`skycut.index.record.ImageRecord.region`).
- ``s_resolution``: the pixel scale at the central pixel in arcsec; the
  index knows no PSF, and a pixel is the smallest feature an image resolves.
- ``t_xel`` is 1 and ``t_resolution`` the exposure time for a 2-D image
  with a known time (ObsCore 1.1 allows either for a
  time axis with no sampling);
  ``em_xel`` is 1 and ``em_res_power`` is λ/Δλ of the band's centre when
  the band is one sample (a 2-D image, or a filter band); unknown (null)
  for the axes of cubes, whose lengths the index does not keep.
- ``o_ucd`` is null: the index does not read ``BUNIT``.
- ``pol_states`` is ObsCore's ``/I/Q/`` form in ObsCore's order,
  ``pol_xel`` the number of states; both null without a Stokes axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from skycut.cutout.intervals import POL_STATES
from skycut.index.footprint import Footprint
from skycut.index.record import ImageRecord

__all__ = [
    "ACCESS_FORMAT",
    "COLUMNS",
    "Column",
    "ObsCoreRow",
    "Value",
    "field_of_view",
    "links_url",
    "obscore_row",
    "spatial_resolution",
]

ACCESS_FORMAT = "application/x-votable+xml;content=datalink"
"""The ``access_format`` of every row: ``access_url`` leads to a DataLink document."""

Datatype = Literal["char", "int", "long", "double"]
Value = str | int | float | tuple[float, ...] | None


@dataclass(frozen=True, slots=True)
class Column:
    """One ObsCore column as a VOTable FIELD describes it.

    Attributes
    ----------
    name
        The ObsCore column name.
    datatype
        The VOTable datatype.
    ucd, utype, unit
        ObsCore's UCD, utype (with the ``obscore:`` prefix) and unit.
    description
        What the column holds, for the FIELD's DESCRIPTION.
    arraysize, xtype
        ``*`` for strings and the polygon; ``polygon`` for ``s_region``.
    nullable
        Whether a row may leave it null.

    """

    name: str
    datatype: Datatype
    ucd: str
    utype: str
    description: str
    unit: str | None = None
    arraysize: str | None = None
    xtype: str | None = None
    nullable: bool = True


def _text(name: str, ucd: str, utype: str, description: str, *, null: bool = True) -> Column:
    return Column(name, "char", ucd, f"obscore:{utype}", description, arraysize="*", nullable=null)


def _number(
    name: str,
    datatype: Datatype,
    ucd: str,
    utype: str,
    description: str,
    unit: str | None = None,
    *,
    null: bool = True,
) -> Column:
    return Column(name, datatype, ucd, f"obscore:{utype}", description, unit=unit, nullable=null)


_SPACE = "Char.SpatialAxis"
_TIME = "Char.TimeAxis"
_SPECTRAL = "Char.SpectralAxis"
_POSITION = f"{_SPACE}.Coverage.Location.Coord.Position2D.Value2"

COLUMNS: tuple[Column, ...] = (
    _text("dataproduct_type", "meta.code.class", "ObsDataset.dataProductType",
          "Data product type: image or cube"),
    Column("calib_level", "int", "meta.code;obs.calib", "obscore:ObsDataset.calibLevel",
           "Calibration level, 0 (raw) to 4 (analysis product)", nullable=False),
    _text("obs_collection", "meta.id", "DataID.collection", "Name of the data collection",
          null=False),
    _text("obs_id", "meta.id", "DataID.observationID", "Object name of the image in its bucket",
          null=False),
    _text("obs_publisher_did", "meta.ref.ivoid", "Curation.publisherDID",
          "Dataset identifier: the ID for DataLink and SODA (gs://bucket/object)", null=False),
    _text("access_url", "meta.ref.url", "Access.reference",
          "DataLink links of the dataset: the file and the cutout service"),
    _text("access_format", "meta.code.mime", "Access.format", "Format of access_url's document"),
    Column("access_estsize", "long", "phys.size;meta.file", "obscore:Access.size",
           "Estimated size of the file", unit="kbyte", nullable=False),
    _text("target_name", "meta.id;src", "Target.name", "Target of the observation (OBJECT)"),
    _number("s_ra", "double", "pos.eq.ra", f"{_POSITION}.C1", "Central right ascension, ICRS",
            "deg"),
    _number("s_dec", "double", "pos.eq.dec", f"{_POSITION}.C2", "Central declination, ICRS",
            "deg"),
    _number("s_fov", "double", "phys.angSize;instr.fov",
            f"{_SPACE}.Coverage.Bounds.Extent.diameter", "Diameter of a circle enclosing the image",
            "deg"),
    Column("s_region", "double", "pos.outline;obs.field",
           f"obscore:{_SPACE}.Coverage.Support.Area",
           "Polygon (ICRS) holding the whole image", unit="deg", arraysize="*", xtype="polygon"),
    _number("s_resolution", "double", "pos.angResolution", f"{_SPACE}.Resolution.Refval.value",
            "Spatial resolution: the pixel scale at the image centre", "arcsec"),
    _number("s_xel1", "long", "meta.number", f"{_SPACE}.numBins1",
            "Number of pixels along the first spatial axis", null=False),
    _number("s_xel2", "long", "meta.number", f"{_SPACE}.numBins2",
            "Number of pixels along the second spatial axis", null=False),
    _number("t_min", "double", "time.start;obs.exposure",
            f"{_TIME}.Coverage.Bounds.Limits.StartTime", "Start of the exposure (MJD, UTC)", "d"),
    _number("t_max", "double", "time.end;obs.exposure",
            f"{_TIME}.Coverage.Bounds.Limits.StopTime", "End of the exposure (MJD, UTC)", "d"),
    _number("t_exptime", "double", "time.duration;obs.exposure",
            f"{_TIME}.Coverage.Support.Extent", "Exposure time", "s"),
    _number("t_resolution", "double", "time.resolution", f"{_TIME}.Resolution.Refval.value",
            "Time resolution", "s"),
    _number("t_xel", "long", "meta.number", f"{_TIME}.numBins",
            "Number of samples along the time axis"),
    _number("em_min", "double", "em.wl;stat.min", f"{_SPECTRAL}.Coverage.Bounds.Limits.LoLimit",
            "Shortest vacuum wavelength observed", "m"),
    _number("em_max", "double", "em.wl;stat.max", f"{_SPECTRAL}.Coverage.Bounds.Limits.HiLimit",
            "Longest vacuum wavelength observed", "m"),
    _number("em_res_power", "double", "spect.resolution",
            f"{_SPECTRAL}.Resolution.ResolPower.refVal", "Spectral resolving power λ/Δλ"),
    _number("em_xel", "long", "meta.number", f"{_SPECTRAL}.numBins",
            "Number of samples along the spectral axis"),
    _text("o_ucd", "meta.ucd", "Char.ObservableAxis.ucd", "UCD of the pixel values"),
    _text("pol_states", "meta.code;phys.polarization", "Char.PolarizationAxis.stateList",
          "Polarization states, e.g. /I/Q/U/"),
    _number("pol_xel", "long", "meta.number", "Char.PolarizationAxis.numBins",
            "Number of polarization states"),
    _text("facility_name", "meta.id;instr.tel", "Provenance.ObsConfig.Facility.name",
          "Telescope (TELESCOP)"),
    _text("instrument_name", "meta.id;instr", "Provenance.ObsConfig.Instrument.name",
          "Instrument (INSTRUME)"),
)  # fmt: skip
"""The columns of an SIA 2.0 response, in order: ObsCore 1.1's mandatory ones."""


@dataclass(frozen=True, slots=True)
class ObsCoreRow:
    """One image as ObsCore 1.1 describes it (see :data:`COLUMNS` for each column)."""

    dataproduct_type: str
    calib_level: int
    obs_collection: str
    obs_id: str
    obs_publisher_did: str
    access_url: str
    access_format: str
    access_estsize: int
    target_name: str | None
    s_ra: float
    s_dec: float
    s_fov: float
    s_region: tuple[float, ...]
    s_resolution: float
    s_xel1: int
    s_xel2: int
    t_min: float | None
    t_max: float | None
    t_exptime: float | None
    t_resolution: float | None
    t_xel: int | None
    em_min: float | None
    em_max: float | None
    em_res_power: float | None
    em_xel: int | None
    o_ucd: str | None
    pol_states: str | None
    pol_xel: int | None
    facility_name: str | None
    instrument_name: str | None

    def value(self, column: Column) -> Value:
        """Return the value of one column (`None` for null)."""
        value: Value = getattr(self, column.name)
        return value


def field_of_view(footprint: Footprint) -> float:
    """ObsCore ``s_fov`` (degrees): the diameter of the cap enclosing the footprint."""
    return 2.0 * footprint.radius


def spatial_resolution(footprint: Footprint) -> float:
    """ObsCore ``s_resolution`` (arcsec): the pixel scale at the image's central pixel."""
    return footprint.pixel_scale * 3600.0


def links_url(base_url: str, image_id: str) -> str:
    """Return the DataLink ``{links}`` URL of an ID: ``<base_url>/links?ID=<ID, %-encoded>``."""
    return f"{base_url.rstrip('/')}/links?ID={quote(image_id, safe='')}"


def _pol_states(states: tuple[str, ...]) -> list[str]:
    order: dict[str, int] = {name: k for k, name in enumerate(POL_STATES)}
    return sorted(dict.fromkeys(states), key=lambda s: order.get(s, len(order)))


def obscore_row(record: ImageRecord, *, base_url: str) -> ObsCoreRow:
    """Describe an indexed image as an ObsCore row.

    Parameters
    ----------
    record
        The image's index entry.
    base_url
        The service's base URL as clients see it; ``access_url`` is
        ``<base_url>/links?ID=...``.

    Returns
    -------
    ObsCoreRow
        The row, with `None` for each value the index does not know.

    """
    meta, footprint = record.metadata, record.footprint
    single_band = (
        meta.em_min is not None
        and meta.em_max is not None
        and (meta.dataproduct_type == "image" or meta.filter_name is not None)
    )
    resolving_power = None
    if single_band and meta.em_min is not None and meta.em_max is not None:
        width = meta.em_max - meta.em_min
        resolving_power = 0.5 * (meta.em_min + meta.em_max) / width if width > 0 else None
    single_time = meta.t_min is not None and meta.dataproduct_type == "image"
    pol = _pol_states(meta.pol_states)
    return ObsCoreRow(
        dataproduct_type=meta.dataproduct_type,
        calib_level=meta.calib_level,
        obs_collection=meta.obs_collection,
        obs_id=record.source.name,
        obs_publisher_did=record.image_id,
        access_url=links_url(base_url, record.image_id),
        access_format=ACCESS_FORMAT,
        access_estsize=math.ceil(record.size / 1000),
        target_name=meta.target_name,
        s_ra=footprint.centre[0],
        s_dec=footprint.centre[1],
        s_fov=field_of_view(footprint),
        s_region=record.region,
        s_resolution=spatial_resolution(footprint),
        s_xel1=footprint.naxis1,
        s_xel2=footprint.naxis2,
        t_min=meta.t_min,
        t_max=meta.t_max,
        t_exptime=meta.t_exptime,
        t_resolution=meta.t_exptime if meta.dataproduct_type == "image" else None,
        t_xel=1 if single_time else None,
        em_min=meta.em_min,
        em_max=meta.em_max,
        em_res_power=resolving_power,
        em_xel=1 if single_band else None,
        o_ucd=None,
        pol_states="/" + "/".join(pol) + "/" if pol else None,
        pol_xel=len(pol) if pol else None,
        facility_name=meta.facility_name,
        instrument_name=meta.instrument_name,
    )
