"""One cutout's work: everything the worker needs to cut, parsed once, at the API.

The API parses a SODA request (:mod:`skycut.soda.params`) or a bulk row
once and ships each of its cutouts as a :class:`CutWork`: the source object,
at most one stencil, one ``BAND`` and one ``TIME`` interval, the ``POL``
states, and ``DETAIL``, ``MASKOUTSIDE`` and ``RESPONSEFORMAT``. The worker
builds the engine's :class:`~skycut.cutout.selection.Selection` from its
numbers (:meth:`CutWork.selection`) without reading SODA text again, and each
result describes its own cutout with :meth:`CutWork.describe`.

One form serves as JSON in a job message and as a map in a Firestore job
document (:meth:`CutWork.to_document`): numbers stay numbers, an open
interval end is ``null`` (JSON has no ``Infinity``), and a polygon's
vertices are one flat list (Firestore has no arrays of arrays). Stencils are
a discriminated union on ``type``.

The model checks types only. Values are checked when the engine's objects
are built from them (:meth:`CutWork.selection`), so a cutout whose values
are out of range fails on its own, as that cutout's error, not its message.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from skycut.cutout.dali import format_number
from skycut.cutout.intervals import Interval, PolState
from skycut.cutout.selection import FITS, Detail, ResponseFormat, Selection
from skycut.cutout.stencil import Circle, Polygon, Range, Stencil
from skycut.errors import UsageError
from skycut.soda.ids import SourceRef
from skycut.soda.params import CutoutSpec, SodaRequest

__all__ = [
    "Bounds",
    "CircleStencil",
    "CutWork",
    "PolygonStencil",
    "RangeStencil",
    "StencilModel",
    "works_of",
]

# finite numbers only: an open end is None, so JSON never needs Infinity
_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _open(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _number(value: float | None, *, open_end: float) -> float:
    return open_end if value is None else value


def _text(value: float | None, *, open_end: float) -> str:
    return format_number(_number(value, open_end=open_end))


class CircleStencil(BaseModel):
    """A ``CIRCLE``: centre and radius in ICRS degrees."""

    model_config = _CONFIG

    type: Literal["circle"]
    ra: float
    dec: float
    radius: float

    def to_stencil(self) -> Circle:
        """Return the engine's circle (raises ``UsageError`` if out of range)."""
        return Circle(ra=self.ra, dec=self.dec, radius=self.radius)

    def to_param(self) -> tuple[str, str]:
        """Return the SODA parameter, ``("CIRCLE", "ra dec radius")``."""
        return "CIRCLE", " ".join(map(format_number, (self.ra, self.dec, self.radius)))


class PolygonStencil(BaseModel):
    """A ``POLYGON``: its vertices as one flat list ``lon1, lat1, lon2, lat2, ...``."""

    model_config = _CONFIG

    type: Literal["polygon"]
    vertices: tuple[float, ...]

    def to_stencil(self) -> Polygon:
        """Return the engine's polygon (raises ``UsageError`` if unusable)."""
        if len(self.vertices) % 2:
            raise UsageError(f"POLYGON needs lon lat pairs, got {len(self.vertices)} numbers")
        lon, lat = self.vertices[::2], self.vertices[1::2]
        return Polygon(tuple(zip(lon, lat, strict=True)))

    def to_param(self) -> tuple[str, str]:
        """Return the SODA parameter, ``("POLYGON", "lon1 lat1 lon2 lat2 ...")``."""
        return "POLYGON", " ".join(map(format_number, self.vertices))


class RangeStencil(BaseModel):
    """A ``POS=RANGE``: longitude and latitude bounds in degrees, None for an open end."""

    model_config = _CONFIG

    type: Literal["range"]
    lon1: float | None = None
    lon2: float | None = None
    lat1: float | None = None
    lat2: float | None = None

    def to_stencil(self) -> Range:
        """Return the engine's range (raises ``UsageError`` if out of range)."""
        return Range(
            _number(self.lon1, open_end=-math.inf),
            _number(self.lon2, open_end=math.inf),
            _number(self.lat1, open_end=-math.inf),
            _number(self.lat2, open_end=math.inf),
        )

    def to_param(self) -> tuple[str, str]:
        """Return the SODA parameter, ``("POS", "RANGE lon1 lon2 lat1 lat2")``."""
        low, high = -math.inf, math.inf
        values = (
            _text(self.lon1, open_end=low),
            _text(self.lon2, open_end=high),
            _text(self.lat1, open_end=low),
            _text(self.lat2, open_end=high),
        )
        return "POS", "RANGE " + " ".join(values)


StencilModel = Annotated[
    CircleStencil | PolygonStencil | RangeStencil, Field(discriminator="type")
]
"""Any stencil of a work, told apart by its ``type``."""


class Bounds(BaseModel):
    """A ``BAND`` (metres) or ``TIME`` (MJD) interval, None for an open end."""

    model_config = _CONFIG

    lo: float | None = None
    hi: float | None = None

    @classmethod
    def of(cls, interval: Interval) -> Bounds:
        """Return the bounds of the engine's interval."""
        return cls(lo=_open(interval.lo), hi=_open(interval.hi))

    def to_interval(self) -> Interval:
        """Return the engine's interval (raises ``UsageError`` if ``lo > hi``)."""
        return Interval(_number(self.lo, open_end=-math.inf), _number(self.hi, open_end=math.inf))

    def to_soda(self) -> str:
        """Return the DALI interval text, ``lo hi`` with ``-Inf``/``+Inf`` for open ends."""
        return f"{_text(self.lo, open_end=-math.inf)} {_text(self.hi, open_end=math.inf)}"


def _stencil_model(stencil: Stencil) -> CircleStencil | PolygonStencil | RangeStencil:
    if isinstance(stencil, Circle):
        return CircleStencil(type="circle", ra=stencil.ra, dec=stencil.dec, radius=stencil.radius)
    if isinstance(stencil, Polygon):
        flat = tuple(value for vertex in stencil.vertices for value in vertex)
        return PolygonStencil(type="polygon", vertices=flat)
    return RangeStencil(
        type="range",
        lon1=_open(stencil.lon1),
        lon2=_open(stencil.lon2),
        lat1=_open(stencil.lat1),
        lat2=_open(stencil.lat2),
    )


class CutWork(BaseModel):
    """One cutout, as the API hands it to the worker.

    Attributes
    ----------
    source
        The image (bucket and object name).
    stencil
        The sky region, or None for the image's whole spatial extent.
    band
        Wavelength interval in metres, or None.
    time
        MJD (UTC) interval, or None.
    pol
        Polarization states to keep (one filter); empty keeps all.
    detail
        Which HDUs a FITS cutout holds (``DETAIL``).
    mask_outside
        Whether pixels outside the stencil are blanked (``MASKOUTSIDE``).
    response_format
        The media type delivered (``RESPONSEFORMAT``).

    """

    model_config = _CONFIG

    source: SourceRef
    stencil: StencilModel | None = None
    band: Bounds | None = None
    time: Bounds | None = None
    pol: tuple[PolState, ...] = ()
    detail: Detail = "image"
    mask_outside: bool = False
    response_format: ResponseFormat = FITS

    @classmethod
    def of(cls, spec: CutoutSpec, request: SodaRequest) -> CutWork:
        """Return the work of one combination ``spec`` of a parsed ``request``."""
        return cls(
            source=spec.source,
            stencil=None if spec.stencil is None else _stencil_model(spec.stencil),
            band=None if spec.band is None else Bounds.of(spec.band),
            time=None if spec.time is None else Bounds.of(spec.time),
            pol=spec.pol,
            detail=request.detail,
            mask_outside=request.mask_outside,
            response_format=request.response_format,
        )

    @property
    def source_id(self) -> str:
        """The source's ``ID``, ``gs://<bucket>/<object>``."""
        return self.source.uri

    def selection(self) -> Selection:
        """Return the filters as the engine takes them, built from the numbers.

        Raises
        ------
        skycut.errors.UsageError
            If a value is out of range for its filter (the engine's own checks).

        """
        return Selection(
            stencil=None if self.stencil is None else self.stencil.to_stencil(),
            band=None if self.band is None else self.band.to_interval(),
            time=None if self.time is None else self.time.to_interval(),
            pol=self.pol,
        )

    def spec(self) -> CutoutSpec:
        """Return the cutout as a combination of source and filters (see `selection`)."""
        selection = self.selection()
        return CutoutSpec(
            source=self.source,
            stencil=selection.stencil,
            band=selection.band,
            time=selection.time,
            pol=selection.pol,
        )

    def to_params(self) -> list[tuple[str, str]]:
        """Return the SODA parameters of this cutout alone, without its ``ID``.

        Options at their defaults are left out; ``[("ID", work.source_id)]``
        followed by these is a sync request for the same cutout.
        """
        params: list[tuple[str, str]] = []
        if self.stencil is not None:
            params.append(self.stencil.to_param())
        if self.band is not None:
            params.append(("BAND", self.band.to_soda()))
        if self.time is not None:
            params.append(("TIME", self.time.to_soda()))
        params += [("POL", p) for p in self.pol]
        if self.detail != "image":
            params.append(("DETAIL", self.detail))
        if self.mask_outside:
            params.append(("MASKOUTSIDE", "true"))
        if self.response_format != FITS:
            params.append(("RESPONSEFORMAT", self.response_format))
        return params

    def describe(self) -> str:
        """Return this cutout's filters, ``CIRCLE=150.1 2.2 0.002; BAND=5e-07 6e-07``.

        What a manifest shows of one cutout; never raises, whatever the values.
        """
        return "; ".join(f"{name}={value}" for name, value in self.to_params()) or "(everything)"

    def to_document(self) -> dict[str, Any]:
        """Return the work as a JSON- and Firestore-ready map (defaults left out)."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> CutWork:
        """Rebuild a work from :meth:`to_document`'s map.

        Raises
        ------
        pydantic.ValidationError
            If the map is not a work.

        """
        return cls.model_validate(doc)


def works_of(request: SodaRequest) -> list[CutWork]:
    """Return the work of every combination of ``request``, in SODA §6 order."""
    return [CutWork.of(spec, request) for spec in request.combinations()]
