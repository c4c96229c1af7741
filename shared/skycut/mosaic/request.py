"""A mosaic request: its parameters parsed once into the core library's types.

The sync endpoint, and later the async UWS job and its fan-out, take the
same parameters (issue #14, "The request"); :func:`parse_mosaic_request`
turns them into a `MosaicRequest` holding the output grid as an
`OutputGrid`, the images to use, and the modes as the stages' ``Literal``
values. A request travels between processes as `MosaicRequest.to_dict`
(the grid as its FITS header), so a worker never parses parameters again.

Parameters (names case-insensitive, values case-sensitive, as DALI 1.1 §3.1;
only ``ID``, ``COLLECTION``, ``BAND`` and ``TIME`` may be repeated):

The grid, exactly one of:

- ``POS`` (or ``CIRCLE``/``POLYGON``): a region in ICRS degrees, with
  ``PIXSCALE`` (degrees per pixel) and optionally ``PROJECTION`` (default
  ``TAN``), ``ROTATION`` (degrees east of north of the grid's up, default 0)
  and ``FRAME`` (``ICRS`` or ``GALACTIC``); the grid is the smallest that
  holds the region (`grid_for_region`);
- ``CRVAL`` (or ``CENTER``) ``lon lat`` in ``FRAME``, ``WIDTH`` and
  ``HEIGHT`` in pixels and ``PIXSCALE``, with the same options
  (`grid_from_parameters`);
- ``TEMPLATE``: a FITS header (text, one card a line, or a FITS file's
  bytes), which gives the whole grid (`grid_from_template`).

The images: ``ID`` (``gs://`` URIs of the sources), or else every indexed
image overlapping the region (or the grid) that ``COLLECTION``, ``BAND`` and
``TIME`` keep, as SIA 2.0 would find them.

How: ``METHOD`` ``bilinear`` (default), ``bicubic`` or ``exact``;
``COMBINE`` ``mean`` (default), ``median``, ``sum`` or ``weighted``;
``BACKGROUND`` ``none`` (default) or ``match``; ``DETAIL`` ``coverage``,
``count`` or ``coverage,count`` (the FITS planes beside the mosaic);
``RESPONSEFORMAT`` ``application/fits`` (default), ``image/png`` or
``image/jpeg`` (a preview); ``COLOR`` ``grey`` (default) or ``rgb``: with
three ``BAND`` values and a preview format, a mosaic of each band's indexed
images on the same grid, combined into one colour image (the reddest band
red, the bluest blue; Lupton et al.'s asinh stretch).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar, get_args

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import FITSFixedWarning

from skycut.cutout.dali import parse_numbers
from skycut.cutout.intervals import Interval, parse_band, parse_interval, parse_time
from skycut.cutout.selection import FITS, JPEG, PNG, ResponseFormat
from skycut.cutout.stencil import Circle, Stencil, parse_circle, parse_polygon, parse_stencil
from skycut.errors import MultiValuedParamNotSupportedError, UsageError
from skycut.mosaic.assemble import PlaneName
from skycut.mosaic.coadd import COMBINES, Combine
from skycut.mosaic.grid import Frame, OutputGrid, grid_for_region, grid_from_parameters
from skycut.mosaic.grid import grid_from_template as _grid_from_template
from skycut.mosaic.reproject_tile import METHODS, Method
from skycut.soda.ids import SourceRef, parse_source_id
from skycut.soda.ignored import name_ignored

__all__ = [
    "BACKGROUNDS",
    "KNOWN_PARAMETERS",
    "REPEATABLE_PARAMETERS",
    "Background",
    "ImageSelection",
    "MosaicRequest",
    "parse_mosaic_request",
]

Background = Literal["none", "match"]
BACKGROUNDS: tuple[Background, ...] = get_args(Background)
Color = Literal["grey", "rgb"]
COLORS: tuple[Color, ...] = get_args(Color)

_REGION = ("POS", "CIRCLE", "POLYGON")
_CENTRE = ("CRVAL", "CENTER")
_GRID_OPTIONS = ("PIXSCALE", "PROJECTION", "ROTATION", "FRAME")
REPEATABLE_PARAMETERS = frozenset({"ID", "COLLECTION", "BAND", "TIME"})
"""The parameters that take several values (every other known one takes one)."""
KNOWN_PARAMETERS = (
    *_REGION, *_CENTRE, "WIDTH", "HEIGHT", *_GRID_OPTIONS, "TEMPLATE",
    "ID", "COLLECTION", "BAND", "TIME",
    "METHOD", "COMBINE", "BACKGROUND", "DETAIL", "RESPONSEFORMAT", "COLOR", "RUNID",
)  # fmt: skip
"""Every parameter a mosaic request is read for; others are ignored (and named in errors)."""

_RESPONSE_FORMATS: dict[str, ResponseFormat] = {
    FITS: FITS, "fits": FITS, "image/fits": FITS,
    PNG: PNG, "png": PNG,
    JPEG: JPEG, "jpeg": JPEG, "jpg": JPEG,
}  # fmt: skip
_DETAIL_PLANES: dict[str, PlaneName] = {"coverage": "COVERAGE", "count": "COUNT"}
_FRAMES: dict[str, Frame] = {"ICRS": "ICRS", "GALACTIC": "GALACTIC"}
_MAX_RUNID = 64
_BORDER_SAMPLES = 64  # per grid edge, to find the sky circle holding an explicit grid
_T = TypeVar("_T", bound=str)


@dataclass(frozen=True)
class ImageSelection:
    """Which images a mosaic is made of.

    Attributes
    ----------
    ids
        The sources named by ``ID``; when given, the index is not asked.
    collections, bands, times
        Otherwise, the constraints on the indexed images overlapping the
        region (each tuple's values are alternatives; empty keeps all).

    """

    ids: tuple[SourceRef, ...] = ()
    collections: tuple[str, ...] = ()
    bands: tuple[Interval, ...] = ()
    times: tuple[Interval, ...] = ()

    def describe(self) -> str:
        """Return the constraints as a user wrote them, for error messages."""
        parts = [f"COLLECTION {' or '.join(self.collections)}"] if self.collections else []
        parts += [f"BAND {b.to_soda()}" for b in self.bands]
        parts += [f"TIME {t.to_soda()}" for t in self.times]
        return ", ".join(parts)


@dataclass(frozen=True)
class MosaicRequest:
    """A parsed, checked mosaic request.

    Attributes
    ----------
    grid
        The output grid.
    region
        Where the images are looked for in the index (ICRS): the ``POS``
        region, or the smallest circle found holding an explicit grid.
    region_text
        How messages name the region: ``POS=CIRCLE ...`` or the grid.
    images
        The inputs: IDs, or constraints on the indexed images.
    method, combine, background
        How inputs are reprojected, combined and levelled.
    planes
        The extra FITS planes (``COVERAGE``, ``COUNT``) beside the mosaic.
    response_format
        FITS, or a PNG or JPEG preview.
    run_id
        The caller's label (kept for the async job).
    ignored
        Parameters sent that the service does not read.

    """

    grid: OutputGrid
    region: Stencil
    region_text: str
    images: ImageSelection
    method: Method = "bilinear"
    combine: Combine = "mean"
    background: Background = "none"
    planes: tuple[PlaneName, ...] = ()
    response_format: ResponseFormat = FITS
    color: Color = "grey"
    run_id: str | None = None
    ignored: tuple[str, ...] = ()

    @property
    def colour_bands(self) -> tuple[Interval, Interval, Interval]:
        """A ``COLOR=rgb`` request's bands as red, green, blue (reddest first)."""
        red, green, blue = sorted(self.images.bands, key=lambda b: -(b.lo + b.hi))
        return red, green, blue

    @property
    def layers(self) -> tuple[MosaicRequest, ...]:
        """The grey mosaics it is made of: one per colour (red, green, blue) for ``COLOR=rgb``."""
        if self.color == "grey":
            return (self,)
        return tuple(
            replace(self, images=replace(self.images, bands=(band,)), color="grey")
            for band in self.colour_bands
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the request as JSON-ready values (for a job message or document)."""
        images = self.images
        return {
            "grid": self.grid.header().tostring(),
            "region": self.region.to_soda(),
            "region_text": self.region_text,
            "ids": [s.uri for s in images.ids],
            "collections": list(images.collections),
            "bands": [b.to_soda() for b in images.bands],
            "times": [t.to_soda() for t in images.times],
            "method": self.method,
            "combine": self.combine,
            "background": self.background,
            "planes": list(self.planes),
            "response_format": self.response_format,
            "color": self.color,
            "run_id": self.run_id,
        }

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> MosaicRequest:
        """Return the request `to_dict` gave (values were checked when it was parsed)."""
        ids = tuple(SourceRef(*str(v).removeprefix("gs://").split("/", 1)) for v in item["ids"])
        return cls(
            grid=_grid_from_template(str(item["grid"])),
            region=parse_stencil(str(item["region"])),
            region_text=str(item["region_text"]),
            images=ImageSelection(
                ids=ids,
                collections=tuple(item["collections"]),
                bands=tuple(parse_interval(v, what="BAND") for v in item["bands"]),
                times=tuple(parse_interval(v, what="TIME") for v in item["times"]),
            ),
            method=_choice(str(item["method"]), METHODS, "METHOD"),
            combine=_choice(str(item["combine"]), COMBINES, "COMBINE"),
            background=_choice(str(item["background"]), BACKGROUNDS, "BACKGROUND"),
            planes=tuple(_DETAIL_PLANES[p.lower()] for p in item["planes"]),
            response_format=_RESPONSE_FORMATS[str(item["response_format"])],
            color=_choice(str(item.get("color", "grey")), COLORS, "COLOR"),
            run_id=item.get("run_id"),
        )


def parse_mosaic_request(
    params: Mapping[str, Sequence[str]],
    *,
    template: bytes | None = None,
    allowed_buckets: Sequence[str],
    max_pixels: int,
    max_inputs: int,
    max_area: float = math.inf,
) -> MosaicRequest:
    """Parse and check the parameters of a mosaic request.

    Parameters
    ----------
    params
        Parameters grouped by upper-cased name (`skycut.soda.params.group_params`).
    template
        An uploaded ``TEMPLATE`` file's bytes, if one was sent as a file
        (a ``TEMPLATE`` form value is in ``params``).
    allowed_buckets
        The buckets an ``ID`` may name.
    max_pixels
        The largest output (width x height) allowed.
    max_inputs
        The most ``ID`` values allowed (index searches are limited when run).
    max_area
        The largest grid allowed, in square degrees (`OutputGrid.area`).

    Returns
    -------
    MosaicRequest
        The request.

    Raises
    ------
    skycut.errors.UsageError
        On any missing, malformed or conflicting value, or a grid over
        ``max_pixels`` or ``max_area``, saying what is expected and naming the parameters
        ignored as unknown.
    skycut.errors.MultiValuedParamNotSupportedError
        If a single-valued parameter is repeated.

    """
    ignored = tuple(name for name in params if name and name not in KNOWN_PARAMETERS)
    try:
        return _parse(
            params,
            template=template,
            allowed_buckets=allowed_buckets,
            max_pixels=max_pixels,
            max_inputs=max_inputs,
            max_area=max_area,
            ignored=ignored,
        )
    except UsageError as e:
        name_ignored(e, ignored, known=KNOWN_PARAMETERS)
        raise


def _parse(
    params: Mapping[str, Sequence[str]],
    *,
    template: bytes | None,
    allowed_buckets: Sequence[str],
    max_pixels: int,
    max_inputs: int,
    max_area: float,
    ignored: tuple[str, ...],
) -> MosaicRequest:
    for name, values in params.items():
        if name in KNOWN_PARAMETERS and name not in REPEATABLE_PARAMETERS and len(values) > 1:
            raise MultiValuedParamNotSupportedError(
                f"{name} was given {len(values)} times; it takes one value"
            )
    grid, region, region_text = _grid(params, template=template, max_pixels=max_pixels)
    if grid.area > max_area:
        ny, nx = grid.shape
        raise UsageError(
            f"the {nx}x{ny} grid covers {grid.area:.4g} square degrees, over the limit of "
            f"{max_area:g} for one mosaic; use a smaller region or fewer, finer pixels"
        )
    images = _images(params, allowed_buckets=allowed_buckets, max_inputs=max_inputs)
    response_format = FITS
    if (fmt := _one(params, "RESPONSEFORMAT")) is not None:
        if fmt not in _RESPONSE_FORMATS:
            raise UsageError(
                f"RESPONSEFORMAT {fmt!r} is not supported; use {FITS}, {PNG} or {JPEG}"
            )
        response_format = _RESPONSE_FORMATS[fmt]
    planes = _planes(_one(params, "DETAIL"))
    if planes and response_format != FITS:
        raise UsageError(
            f"DETAIL={_one(params, 'DETAIL')} needs RESPONSEFORMAT={FITS}; a preview shows "
            "the mosaic only"
        )
    color = _choice(_one(params, "COLOR") or "grey", COLORS, "COLOR")
    if color == "rgb":
        _check_colour(images, response_format)
    run_id = _one(params, "RUNID")
    if run_id is not None and len(run_id) > _MAX_RUNID:
        raise UsageError(f"RUNID is longer than {_MAX_RUNID} characters")
    return MosaicRequest(
        grid=grid,
        region=region,
        region_text=region_text,
        images=images,
        method=_choice(_one(params, "METHOD") or "bilinear", METHODS, "METHOD"),
        combine=_choice(_one(params, "COMBINE") or "mean", COMBINES, "COMBINE"),
        background=_choice(_one(params, "BACKGROUND") or "none", BACKGROUNDS, "BACKGROUND"),
        planes=planes,
        response_format=response_format,
        color=color,
        run_id=run_id,
        ignored=ignored,
    )


def _check_colour(images: ImageSelection, response_format: ResponseFormat) -> None:
    """Refuse a ``COLOR=rgb`` request that is not three bands of indexed images, previewed."""
    if response_format == FITS:
        raise UsageError(f"COLOR=rgb makes a colour preview: add RESPONSEFORMAT={PNG} or {JPEG}")
    if images.ids:
        raise UsageError(
            "COLOR=rgb finds each band's images in the index: give COLLECTION and three BAND "
            "values instead of ID"
        )
    if len(images.bands) != 3:
        raise UsageError(
            f"COLOR=rgb takes three BAND values, one per colour (the reddest is shown red), "
            f"not {len(images.bands)}"
        )
    for k, one in enumerate(images.bands):
        for other in images.bands[k + 1 :]:
            if one.overlaps(other.lo, other.hi):
                raise UsageError(
                    f"COLOR=rgb takes three separate bands: BAND {one.to_soda()} and "
                    f"{other.to_soda()} overlap"
                )


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _choice(value: str, allowed: tuple[_T, ...], name: str) -> _T:
    for option in allowed:
        if value == option:
            return option
    raise UsageError(f"{name} {value!r} is not supported; use one of {', '.join(allowed)}")


def _planes(text: str | None) -> tuple[PlaneName, ...]:
    if text is None:
        return ()
    names = [part.strip() for part in text.split(",")]
    if not all(name in _DETAIL_PLANES for name in names):
        raise UsageError(f"DETAIL {text!r} is not supported; use coverage, count or coverage,count")
    return tuple(dict.fromkeys(_DETAIL_PLANES[name] for name in names))


# -- the grid ------------------------------------------------------------------------
def _grid(
    params: Mapping[str, Sequence[str]], *, template: bytes | None, max_pixels: int
) -> tuple[OutputGrid, Stencil, str]:
    given = [name for name in (*_REGION, *_CENTRE) if params.get(name)]
    text = _one(params, "TEMPLATE")
    if template is not None and text is not None:
        raise UsageError("TEMPLATE was given twice (as a file and as a value); send one")
    if template is not None or text is not None:
        extra = [n for n in (*given, "WIDTH", "HEIGHT", *_GRID_OPTIONS) if params.get(n)]
        if extra:
            raise UsageError(f"TEMPLATE gives the whole grid; do not also give {', '.join(extra)}")
        source: bytes | str = template if template is not None else str(text)
        grid = _grid_from_template(source, max_pixels=max_pixels)
        return grid, *_grid_region(grid, "the TEMPLATE grid")
    if len(given) > 1:
        raise UsageError(
            f"give one of POS (a region) or CRVAL (a grid centre), not {' and '.join(given)}"
        )
    if not given:
        raise UsageError(
            "the mosaic needs a region or a grid: POS (e.g. POS=CIRCLE 150.1 2.2 0.05) with "
            "PIXSCALE, or CRVAL, WIDTH, HEIGHT and PIXSCALE, or a TEMPLATE header"
        )
    pixscale_text = _one(params, "PIXSCALE")
    if pixscale_text is None:
        raise UsageError(
            "PIXSCALE is required: the output's pixel size in degrees (e.g. 5.5555e-05 for 0.2\")"
        )
    pixscale = _number(pixscale_text, "PIXSCALE")
    projection = _one(params, "PROJECTION") or "TAN"
    rotation = _number(_one(params, "ROTATION") or "0", "ROTATION")
    frame_text = _one(params, "FRAME") or "ICRS"
    if frame_text.upper() not in _FRAMES:
        raise UsageError(f"FRAME {frame_text!r} is not supported; use ICRS or GALACTIC")
    frame = _FRAMES[frame_text.upper()]
    name = given[0]
    if name in _REGION:
        sizes = [n for n in ("WIDTH", "HEIGHT") if params.get(n)]
        if sizes:
            raise UsageError(
                f"{' and '.join(sizes)} go with CRVAL; with {name} the grid is the smallest "
                "that holds the region"
            )
        value = str(_one(params, name))
        stencil = (
            parse_circle(value) if name == "CIRCLE"
            else parse_polygon(value) if name == "POLYGON"
            else parse_stencil(value)
        )  # fmt: skip
        grid = grid_for_region(
            stencil,
            pixscale=pixscale,
            projection=projection,
            rotation=rotation,
            frame=frame,
            max_pixels=max_pixels,
        )
        return grid, stencil, f"POS={stencil.to_soda()}"
    missing = [n for n in ("WIDTH", "HEIGHT") if not params.get(n)]
    if missing:
        raise UsageError(f"{name} needs {' and '.join(missing)}: the grid's size in pixels")
    lon, lat = parse_numbers(str(_one(params, name)), what=name, count=2)
    grid = grid_from_parameters(
        center=(lon, lat),
        width=_pixels(str(_one(params, "WIDTH")), "WIDTH"),
        height=_pixels(str(_one(params, "HEIGHT")), "HEIGHT"),
        pixscale=pixscale,
        projection=projection,
        rotation=rotation,
        frame=frame,
        max_pixels=max_pixels,
    )
    ny, nx = grid.shape
    return grid, *_grid_region(grid, f"the {nx}x{ny} grid centred on {frame} ({lon:g}, {lat:g})")


def _number(text: str, name: str) -> float:
    return parse_numbers(text, what=name, count=1)[0]


def _pixels(text: str, name: str) -> int:
    value = _number(text, name)
    if value != int(value) or value < 1:
        raise UsageError(f"{name} {text!r} must be a whole number of pixels, at least 1")
    return int(value)


def _grid_region(grid: OutputGrid, text: str) -> tuple[Stencil, str]:
    """Return a circle (ICRS) holding every pixel of ``grid`` found on the sky, and ``text``."""
    ny, nx = grid.shape
    edge_x = np.linspace(-0.5, nx - 0.5, _BORDER_SAMPLES)
    edge_y = np.linspace(-0.5, ny - 0.5, _BORDER_SAMPLES)
    x = np.concatenate([edge_x, edge_x, np.full(edge_y.size, -0.5), np.full(edge_y.size, nx - 0.5)])
    y = np.concatenate([np.full(edge_x.size, -0.5), np.full(edge_x.size, ny - 0.5), edge_y, edge_y])
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", FITSFixedWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = grid.wcs.pixel_to_world((nx - 1) / 2.0, (ny - 1) / 2.0).icrs
        border = grid.wcs.pixel_to_world(x, y).icrs
    if not isinstance(centre, SkyCoord) or not np.isfinite(centre.ra.deg):
        raise UsageError(f"{text} has no sky position at its centre")
    separations = np.asarray(centre.separation(border).deg)
    finite = separations[np.isfinite(separations)]
    # a border off the projection (an all-sky grid's corners) may reach anywhere
    radius = 180.0 if finite.size < separations.size else float(finite.max())
    # pixels bulge between border samples by far less than 1 %
    radius = min(180.0, radius * 1.01 + 1e-9)
    return Circle(float(centre.ra.deg) % 360.0, float(centre.dec.deg), radius), text


def _images(
    params: Mapping[str, Sequence[str]], *, allowed_buckets: Sequence[str], max_inputs: int
) -> ImageSelection:
    ids = tuple(
        dict.fromkeys(
            parse_source_id(v, allowed_buckets=allowed_buckets) for v in params.get("ID", [])
        )
    )
    collections = []
    for value in params.get("COLLECTION", []):
        if not value.strip():
            raise UsageError("COLLECTION is empty; give a collection's name (see the SIA service)")
        collections.append(value.strip())
    bands = tuple(parse_band(v) for v in params.get("BAND", []))
    times = tuple(parse_time(v) for v in params.get("TIME", []))
    if ids and (collections or bands or times):
        raise UsageError(
            "give ID (the images to use) or COLLECTION, BAND and TIME (to find them in the "
            "index), not both"
        )
    if len(ids) > max_inputs:
        raise UsageError(
            f"{len(ids)} IDs were given, more than the limit of {max_inputs} inputs for one mosaic"
        )
    return ImageSelection(
        ids=ids, collections=tuple(dict.fromkeys(collections)), bands=bands, times=times
    )
