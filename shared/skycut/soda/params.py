"""SODA request parameters: DALI name handling, multiplicity and combinations.

Parameter names are case-insensitive and values case-sensitive (DALI 1.1
§3.1). The values themselves are parsed by the engine's value types
(:mod:`skycut.cutout.stencil`, :mod:`skycut.cutout.intervals`).

Multiplicity (SODA 1.0 §3.1, §6): ``ID``, ``POS``, ``CIRCLE``, ``POLYGON``,
``BAND``, ``TIME`` and ``POL`` may be repeated; every other parameter this
service knows is single-valued and refused with
``MultiValuedParamNotSupported`` when repeated. A request makes one cutout
per combination of ID, stencil, BAND and TIME, all POL values forming one
filter; a request with no stencil, BAND or TIME counts as one of each.

Parameters the service does not know are ignored, as DALI 1.1 §3.1 allows;
since a misspelt name is ignored too, every ``UsageError`` a request gets
names them (``CIRCEL`` in ``a filter is required ... (ignored unknown
parameter: CIRCEL, did you mean CIRCLE?)``).

Parameters beyond SODA 1.0:

``DETAIL``
    ``image`` (default), ``image,mask,variance`` or ``all``: which HDUs a
    FITS cutout holds (see :mod:`skycut.cutout.selection`).
``MASKOUTSIDE``
    ``true`` or ``false`` (default): blank the pixels of the box whose
    centres are outside the stencil (see :mod:`skycut.cutout.mask`).
``RESPONSEFORMAT``
    ``application/fits`` (default; also ``fits``, ``image/fits``),
    ``image/png`` (``png``) or ``image/jpeg`` (``jpeg``, ``jpg``).
``COLLECTION``
    Instead of ``ID`` (async jobs only): cut each stencil from every indexed
    image of the named collection(s) that it overlaps, as SIA 2.0 would find
    them with the same ``POS``, ``BAND``, ``TIME`` and ``COLLECTION``
    (:mod:`skycut.sia.covering`); a stencil is then required.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product

from skycut.cutout.intervals import Interval, PolState, parse_band, parse_pol, parse_time
from skycut.cutout.selection import (
    DETAILS,
    FITS,
    JPEG,
    PNG,
    Detail,
    ResponseFormat,
    Selection,
)
from skycut.cutout.stencil import (
    Stencil,
    parse_circle,
    parse_polygon,
    parse_stencil,
)
from skycut.errors import MultiValuedParamNotSupportedError, UsageError
from skycut.soda.ids import SourceRef, parse_source_id
from skycut.soda.ignored import name_ignored

__all__ = [
    "FITS",
    "JPEG",
    "PNG",
    "REPEATABLE",
    "CutoutSpec",
    "SodaRequest",
    "group_params",
    "parse_circle",
    "parse_soda_request",
]

_RESPONSE_FORMATS: dict[str, ResponseFormat] = {
    FITS: FITS, "fits": FITS, "image/fits": FITS,
    PNG: PNG, "png": PNG,
    JPEG: JPEG, "jpeg": JPEG, "jpg": JPEG,
}  # fmt: skip
_BOOLEANS = {"true": True, "false": False}
_MAX_RUNID = 64
_FILTERS = ("POS", "CIRCLE", "POLYGON", "BAND", "TIME", "POL")
# every parameter a SODA request is read for; DALI lets a service ignore the others
_KNOWN = ("ID", "COLLECTION", *_FILTERS, "RESPONSEFORMAT", "DETAIL", "MASKOUTSIDE", "RUNID")
REPEATABLE = frozenset({"ID", "COLLECTION", *_FILTERS})
"""The parameters that take several values (every other known one takes one)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def group_params(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group ``(name, value)`` pairs by upper-cased name, keeping value order.

    Raises
    ------
    UsageError
        If a name or value holds control characters (they could not be shown
        back in the job's XML).

    """
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise UsageError(f"parameter {name[:40]!r} contains control characters")
        grouped.setdefault(name.strip().upper(), []).append(value)
    return grouped


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise MultiValuedParamNotSupportedError(
            f"{name} was given {len(values)} times; it takes one value"
        )
    return values[0]


@dataclass(frozen=True, slots=True)
class CutoutSpec:
    """One combination of source and filters: one cutout, one result.

    Attributes
    ----------
    source
        The image.
    stencil
        The sky region, or `None` for the image's whole spatial extent.
    band
        Wavelength interval (m), or `None`.
    time
        MJD interval, or `None`.
    pol
        Every ``POL`` value of the request (one filter); empty keeps all.

    """

    source: SourceRef
    stencil: Stencil | None = None
    band: Interval | None = None
    time: Interval | None = None
    pol: tuple[PolState, ...] = ()

    @property
    def selection(self) -> Selection:
        """The filters, as the engine takes them."""
        return Selection(stencil=self.stencil, band=self.band, time=self.time, pol=self.pol)


@dataclass(frozen=True, slots=True)
class SodaRequest:
    """A validated SODA request."""

    sources: tuple[SourceRef, ...]
    stencils: tuple[Stencil, ...] = ()
    bands: tuple[Interval, ...] = ()
    times: tuple[Interval, ...] = ()
    pol: tuple[PolState, ...] = ()
    response_format: ResponseFormat = FITS
    detail: Detail = "image"
    mask_outside: bool = False
    run_id: str | None = None
    # the request's parameters that were not read, in request order (named in its errors)
    ignored: tuple[str, ...] = ()
    # the collections to find the images in when no ID names them (skycut's extension)
    collections: tuple[str, ...] = ()

    @property
    def by_position(self) -> bool:
        """Whether the images are to be found by position (``COLLECTION``, no ``ID``)."""
        return not self.sources and bool(self.collections)

    def combinations(self) -> list[CutoutSpec]:
        """Every ID, stencil, BAND and TIME combination, in request order (SODA §6).

        A request `by_position` has none until its images are found
        (:func:`skycut.sia.covering.covered_works`).
        """
        return [
            CutoutSpec(source=source, stencil=stencil, band=band, time=time, pol=self.pol)
            for source, stencil, band, time in product(
                self.sources, self.stencils or (None,), self.bands or (None,), self.times or (None,)
            )
        ]

    def single(self) -> CutoutSpec:
        """Return the one combination of a request that must have one (SODA {sync}).

        Raises
        ------
        MultiValuedParamNotSupportedError
            If an ID, stencil, BAND or TIME is given more than once, naming it.
        UsageError
            If the request names a ``COLLECTION`` instead of an ``ID``.

        """
        if self.by_position:
            raise UsageError(
                "COLLECTION without ID cuts from every image covering the position, so it "
                "makes one cutout per image: use async (sync makes one cutout)"
            )
        for name, values in (
            ("ID", self.sources),
            ("stencil (POS, CIRCLE, POLYGON)", self.stencils),
            ("BAND", self.bands),
            ("TIME", self.times),
        ):
            if len(values) > 1:
                raise name_ignored(
                    MultiValuedParamNotSupportedError(
                        f"sync takes one {name}, got {len(values)}; use async for several"
                    ),
                    self.ignored,
                    known=_KNOWN,
                )
        return self.combinations()[0]


def _stencils(params: dict[str, list[str]]) -> tuple[Stencil, ...]:
    """Stencils in the order CIRCLE, POLYGON, POS, each in request order."""
    return tuple(
        [parse_circle(v) for v in params.get("CIRCLE", [])]
        + [parse_polygon(v) for v in params.get("POLYGON", [])]
        + [parse_stencil(v) for v in params.get("POS", [])]
    )


def parse_soda_request(
    params: dict[str, list[str]],
    *,
    allowed_buckets: Sequence[str],
    require_complete: bool = True,
) -> SodaRequest:
    """Validate grouped SODA parameters.

    Parameters
    ----------
    params
        Parameters grouped by :func:`group_params`.
    allowed_buckets
        Buckets an ``ID`` may name.
    require_complete
        Require at least one ID and one filter (true for sync and for
        running a job; false while an async job is still being built up).

    Raises
    ------
    UsageError
        On any malformed or missing value, saying what is expected and naming the
        parameters ignored as unknown.
    MultiValuedParamNotSupportedError
        If a single-valued parameter is repeated.

    """
    ignored = tuple(name for name in params if name and name not in _KNOWN)
    try:
        return _parse(
            params,
            allowed_buckets=allowed_buckets,
            require_complete=require_complete,
            ignored=ignored,
        )
    except UsageError as e:
        name_ignored(e, ignored, known=_KNOWN)
        raise


def _parse(
    params: dict[str, list[str]],
    *,
    allowed_buckets: Sequence[str],
    require_complete: bool,
    ignored: tuple[str, ...],
) -> SodaRequest:
    sources = tuple(
        parse_source_id(v, allowed_buckets=allowed_buckets) for v in params.get("ID", [])
    )
    stencils = _stencils(params)
    bands = tuple(parse_band(v) for v in params.get("BAND", []))
    times = tuple(parse_time(v) for v in params.get("TIME", []))
    pol = tuple(dict.fromkeys(parse_pol(v) for v in params.get("POL", [])))
    response_format = FITS
    if (fmt_text := _single(params, "RESPONSEFORMAT")) is not None:
        if fmt_text not in _RESPONSE_FORMATS:
            raise UsageError(
                f"RESPONSEFORMAT {fmt_text!r} is not supported; use {FITS}, {PNG} or {JPEG}"
            )
        response_format = _RESPONSE_FORMATS[fmt_text]
    detail: Detail = "image"
    if (detail_text := _single(params, "DETAIL")) is not None:
        chosen = next((d for d in DETAILS if d == detail_text), None)
        if chosen is None:
            raise UsageError(
                f"DETAIL {detail_text!r} is not supported; use one of {', '.join(DETAILS)}"
            )
        detail = chosen
    if detail != "image" and response_format != FITS:
        raise UsageError(
            f"DETAIL={detail} needs RESPONSEFORMAT={FITS}; a {response_format} preview shows "
            "the image only"
        )
    mask_outside = False
    if (mask_text := _single(params, "MASKOUTSIDE")) is not None:
        if mask_text not in _BOOLEANS:
            raise UsageError(f"MASKOUTSIDE {mask_text!r} must be true or false")
        mask_outside = _BOOLEANS[mask_text]
    run_id = _single(params, "RUNID")
    if run_id is not None and len(run_id) > _MAX_RUNID:
        raise UsageError(f"RUNID is longer than {_MAX_RUNID} characters")
    collections = tuple(dict.fromkeys(_collection(v) for v in params.get("COLLECTION", [])))
    if sources and collections:
        raise UsageError(
            "give ID (the images to cut) or COLLECTION (cut every image of it covering "
            "the position), not both"
        )
    if require_complete:
        if not sources and not collections:
            raise UsageError(
                "ID is required: the gs:// URI of the image to cut (or, without ID, "
                "COLLECTION and a position: every image of the collection covering it)"
            )
        if collections and not stencils:
            raise UsageError(
                "COLLECTION without ID needs a position to find the images by: "
                "POS, CIRCLE or POLYGON"
            )
        if not any(params.get(name) for name in _FILTERS):
            raise UsageError(
                "a filter is required: POS, CIRCLE or POLYGON (e.g. POS=CIRCLE <ra> <dec> "
                "<radius>), BAND, TIME or POL"
            )
    return SodaRequest(
        sources=sources,
        stencils=stencils,
        bands=bands,
        times=times,
        pol=pol,
        response_format=response_format,
        detail=detail,
        mask_outside=mask_outside,
        run_id=run_id,
        ignored=ignored,
        collections=collections,
    )


def _collection(value: str) -> str:
    name = value.strip()
    if not name:
        raise UsageError("COLLECTION is empty; give a collection's name (see the SIA service)")
    return name
