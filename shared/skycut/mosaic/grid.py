"""The output grid of a mosaic: a 2-D celestial WCS and a shape.

Three ways to ask for one, as the mosaic request allows:

- :func:`grid_for_region`: a SODA ``POS`` region (CIRCLE, RANGE, POLYGON) and
  a pixel scale; the grid is the smallest that holds the region;
- :func:`grid_from_parameters`: an explicit centre, width and height in
  pixels, pixel scale, projection, rotation and frame;
- :func:`grid_from_template`: a FITS header, as Montage's ``mHdr`` writes it
  (one ``KEY = value`` card a line, not padded) or a FITS file's first header.

Decisions:

- ``ROTATION`` is the position angle of the grid's up direction (+y), in
  degrees east of north: 0 is north up, east left; 90 puts east up.
- Zenithal projections (TAN, SIN, ZEA, ARC, STG...) have their reference
  point at the centre. The others (CAR, AIT, MOL, MER, CEA...) keep it on
  the native equator at the centre's longitude, so a CAR grid stays a plain
  plate carrée (straight meridians and parallels) at any declination; the
  centre is moved onto the grid's centre pixel by ``CRPIX`` alone.
- ``PIXSCALE`` is the scale at the reference point. Away from it each
  projection changes it as it must: a CAR grid keeps it along meridians and
  shrinks it by ``cos(lat)`` along parallels, as a plate carrée does.
- ``FRAME`` ``ICRS`` gives ``RA---xxx``/``DEC--xxx`` with ``RADESYS = 'ICRS'``;
  ``GALACTIC`` gives ``GLON-xxx``/``GLAT-xxx``. An explicit centre is in the
  grid's frame; regions are in ICRS, as SODA defines them.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_area

from skycut.cutout.projection import SkyProjection
from skycut.cutout.sphere import Array, from_vectors, great_circle_points, small_circle_points
from skycut.cutout.sphere import to_vectors as _to_vectors
from skycut.cutout.stencil import Circle, Polygon, Range, Stencil
from skycut.errors import UnsupportedSourceError, UsageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "PROJECTIONS",
    "Frame",
    "OutputGrid",
    "grid_for_region",
    "grid_from_parameters",
    "grid_from_template",
]

Frame = Literal["ICRS", "GALACTIC"]

DEFAULT_MAX_PIXELS = 400_000_000
"""Largest output (width x height) unless the caller sets its own limit: a 20k x 20k mosaic."""

_ZENITHAL = frozenset({"AZP", "SZP", "TAN", "STG", "SIN", "ARC", "ZPN", "ZEA", "AIR"})
PROJECTIONS = _ZENITHAL | frozenset(
    {"CYP", "CEA", "CAR", "MER", "SFL", "PAR", "MOL", "AIT", "COP", "COE", "COD", "COO"}
    | {"BON", "PCO", "TSC", "CSC", "QSC", "HPX", "XPH"}
)
"""The celestial projections of FITS WCS Paper II, all of which wcslib (astropy) implements."""

_SAMPLES = 2048  # per boundary curve: far finer than any pixel that matters for a grid's extent
_AXES: dict[Frame, tuple[str, str]] = {"ICRS": ("RA--", "DEC-"), "GALACTIC": ("GLON", "GLAT")}


@dataclass(frozen=True)
class OutputGrid:
    """A mosaic's pixel grid.

    Attributes
    ----------
    wcs
        The 2-D celestial WCS, 0-based pixel ``(x, y)`` as astropy counts.
    shape
        ``(ny, nx)``, numpy order.

    """

    wcs: WCS
    shape: tuple[int, int]

    @property
    def pixels(self) -> int:
        """The number of output pixels."""
        return self.shape[0] * self.shape[1]

    @property
    def area(self) -> float:
        """The grid's area in square degrees: its pixels times the area of the reference pixel.

        Exact for an equal-area projection; for others (TAN, SIN, CAR) the
        projection plane's area, a little more than the sky's far from the
        reference point, which is what a limit needs.
        """
        return self.pixels * float(proj_plane_pixel_area(self.wcs.celestial))

    def header(self) -> fits.Header:
        """Return the FITS header of the grid: the WCS cards with ``NAXIS1``/``NAXIS2``."""
        header = fits.Header()
        header["NAXIS"] = 2
        header["NAXIS1"] = self.shape[1]
        header["NAXIS2"] = self.shape[0]
        header.update(self.wcs.to_header(relax=True))  # a template's SIP cards kept
        return header


def _check_pixels(shape: tuple[int, int], max_pixels: int) -> None:
    ny, nx = shape
    if nx < 1 or ny < 1:
        raise UsageError(f"the output grid must be at least 1x1 pixel, got {nx}x{ny}")
    if nx * ny > max_pixels:
        raise UsageError(
            f"the output grid of {nx}x{ny} = {nx * ny} pixels exceeds the limit of "
            f"{max_pixels} pixels; use a coarser PIXSCALE or a smaller region"
        )


def _base_wcs(
    projection: str, frame: Frame, *, lon: float, lat: float, pixscale: float, rotation: float
) -> WCS:
    """Return a WCS with its reference pixel at 0-based (0, 0), north up before rotation."""
    code = projection.upper()
    if code not in PROJECTIONS:
        raise UsageError(
            f"PROJECTION {projection!r} is not a celestial FITS projection; use one of "
            + ", ".join(sorted(PROJECTIONS))
        )
    if frame not in _AXES:
        raise UsageError(f"FRAME {frame!r} must be ICRS or GALACTIC")
    if not (math.isfinite(pixscale) and pixscale > 0.0):
        raise UsageError(f"PIXSCALE {pixscale!r} must be a positive number of degrees")
    if not math.isfinite(rotation):
        raise UsageError(f"ROTATION {rotation!r} must be a finite number of degrees")
    if not (math.isfinite(lon) and math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise UsageError(f"the centre ({lon!r}, {lat!r}) is not a sky position in degrees")
    wcs = WCS(naxis=2)
    lon_axis, lat_axis = _AXES[frame]
    wcs.wcs.ctype = [f"{lon_axis}-{code}", f"{lat_axis}-{code}"]
    if frame == "ICRS":
        wcs.wcs.radesys = "ICRS"
    zenithal = code in _ZENITHAL
    wcs.wcs.crval = [lon % 360.0, lat if zenithal else 0.0]
    wcs.wcs.crpix = [1.0, 1.0]
    wcs.wcs.cdelt = [-pixscale, pixscale]
    theta = math.radians(rotation)
    # Up (+y) points at position angle `rotation`; with CDELT1 < 0 east is left.
    wcs.wcs.pc = [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]
    try:
        wcs.wcs.set()
    except Exception as e:  # wcslib reports missing PVi_m as a generic error
        raise UsageError(
            f"PROJECTION {code} needs parameters (PVi_m) that only a TEMPLATE header can give"
        ) from e
    if not zenithal:
        _move(wcs, lon, lat, (0.0, 0.0))
    return wcs


def _move(wcs: WCS, lon: float, lat: float, pixel: tuple[float, float]) -> None:
    """Shift ``CRPIX`` so that the grid position ``(lon, lat)`` lands on ``pixel`` (0-based)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        x, y = wcs.wcs_world2pix([[lon, lat]], 0)[0]
    if not (math.isfinite(x) and math.isfinite(y)):
        raise UsageError(f"the centre ({lon}, {lat}) cannot be projected with this projection")
    wcs.wcs.crpix = [wcs.wcs.crpix[0] + pixel[0] - x, wcs.wcs.crpix[1] + pixel[1] - y]
    wcs.wcs.set()


def grid_from_parameters(
    *,
    center: tuple[float, float],
    width: int,
    height: int,
    pixscale: float,
    projection: str = "TAN",
    rotation: float = 0.0,
    frame: Frame = "ICRS",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> OutputGrid:
    """Build a grid from explicit parameters.

    Parameters
    ----------
    center
        ``(lon, lat)`` in degrees in ``frame``, placed at the grid's centre.
    width, height
        Size in pixels.
    pixscale
        Degrees per pixel at the reference point.
    projection
        A FITS projection code (TAN, SIN, CAR, AIT...).
    rotation
        Position angle of the grid's up direction, degrees east of north.
    frame
        ``ICRS`` or ``GALACTIC``.
    max_pixels
        The largest ``width * height`` allowed.

    Returns
    -------
    OutputGrid
        The grid.

    Raises
    ------
    skycut.errors.UsageError
        If a value is out of range, the projection unknown or needing
        parameters, or the grid larger than ``max_pixels``.

    """
    _check_pixels((height, width), max_pixels)
    lon, lat = center
    wcs = _base_wcs(projection, frame, lon=lon, lat=lat, pixscale=pixscale, rotation=rotation)
    _move(wcs, lon % 360.0, lat, ((width - 1) / 2.0, (height - 1) / 2.0))
    return OutputGrid(wcs=wcs, shape=(height, width))


def _region_centre(stencil: Stencil) -> tuple[float, float]:
    if isinstance(stencil, Circle):
        return stencil.ra, stencil.dec
    if isinstance(stencil, Polygon):
        return stencil.centre
    lon = (stencil.lon_start + stencil.lon_width / 2.0) % 360.0
    return lon, (stencil.lat_min + stencil.lat_max) / 2.0


def _region_points(stencil: Stencil) -> tuple[Array, Array]:
    """ICRS points (radians) along the region's boundary and on any pole it holds."""
    t = np.linspace(0.0, 1.0, _SAMPLES + 1)
    if isinstance(stencil, Circle):
        lon, lat = small_circle_points(
            math.radians(stencil.ra),
            math.radians(stencil.dec),
            math.radians(stencil.radius),
            2.0 * math.pi * t,
        )
    elif isinstance(stencil, Polygon):
        vertices = _to_vectors(*np.radians(np.array(stencil.vertices, dtype=np.float64).T))
        following = np.roll(vertices, -1, axis=0)
        n = len(vertices)
        points = great_circle_points(
            np.repeat(vertices, t.size, axis=0), np.repeat(following, t.size, axis=0), np.tile(t, n)
        )
        lon, lat = from_vectors(points)
    else:
        lon, lat = _range_points(stencil, t)
    # A pole inside the region may be its extreme in a cylindrical grid, where it is a line.
    ring = 2.0 * math.pi * t
    for pole in (-90.0, 90.0):
        if stencil.contains(np.array([0.0]), np.array([pole]))[0]:
            lon = np.concatenate([lon, ring])
            lat = np.concatenate([lat, np.full(ring.size, math.radians(pole))])
    return lon, lat


def _range_points(stencil: Range, t: Array) -> tuple[Array, Array]:
    lon0, width = math.radians(stencil.lon_start), math.radians(stencil.lon_width)
    lat0, lat1 = math.radians(stencil.lat_min), math.radians(stencil.lat_max)
    along = lon0 + t * width
    up = lat0 + t * (lat1 - lat0)
    lon = np.concatenate([along, along, np.full(t.size, lon0), np.full(t.size, lon0 + width)])
    lat = np.concatenate([np.full(t.size, lat0), np.full(t.size, lat1), up, up])
    return lon, lat


def grid_for_region(
    stencil: Stencil,
    *,
    pixscale: float,
    projection: str = "TAN",
    rotation: float = 0.0,
    frame: Frame = "ICRS",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> OutputGrid:
    """Build the smallest grid that holds a region.

    Parameters
    ----------
    stencil
        The region, in ICRS (from ``skycut.cutout.stencil.parse_stencil``).
    pixscale, projection, rotation, frame, max_pixels
        As for `grid_from_parameters`.

    Returns
    -------
    OutputGrid
        A grid centred on the region whose pixels cover all of it.

    Raises
    ------
    skycut.errors.UsageError
        If the region cannot be drawn whole in the projection (a TAN or SIN
        grid reaching 90° from its centre), or a value is out of range, or
        the grid would be larger than ``max_pixels``.

    """
    lon_c, lat_c = _region_centre(stencil)
    if frame == "GALACTIC":
        lon_g, lat_g = _galactic_degrees(np.array([lon_c]), np.array([lat_c]))
        lon_c, lat_c = float(lon_g[0]), float(lat_g[0])
    wcs = _base_wcs(projection, frame, lon=lon_c, lat=lat_c, pixscale=pixscale, rotation=rotation)
    lon, lat = _region_points(stencil)
    try:
        x, y = SkyProjection(wcs).to_pixel(lon, lat)
    except UnsupportedSourceError as e:  # pragma: no cover - the WCS is ours
        raise UsageError(str(e)) from e
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise UsageError(
            f"{stencil.to_soda()} cannot be drawn whole in a {projection.upper()} grid "
            "(it reaches beyond the projection's edge); use a smaller region or another "
            "PROJECTION such as ZEA, CAR or AIT"
        )
    # Pixel i spans [i - 0.5, i + 0.5): take every pixel the region touches.
    x0, x1 = math.floor(x.min() + 0.5), math.floor(x.max() + 0.5)
    y0, y1 = math.floor(y.min() + 0.5), math.floor(y.max() + 0.5)
    shape = (y1 - y0 + 1, x1 - x0 + 1)
    _check_pixels(shape, max_pixels)
    wcs.wcs.crpix = [wcs.wcs.crpix[0] - x0, wcs.wcs.crpix[1] - y0]
    wcs.wcs.set()
    return OutputGrid(wcs=wcs, shape=shape)


def _galactic_degrees(lon: Array, lat: Array) -> tuple[Array, Array]:
    galactic = SkyCoord(lon, lat, unit="deg", frame="icrs").galactic
    return np.asarray(galactic.l.deg), np.asarray(galactic.b.deg)


def grid_from_template(
    template: str | bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> OutputGrid:
    """Build a grid from a FITS header template.

    Parameters
    ----------
    template
        Either a text header, one card a line as Montage's ``mHdr`` writes it
        (``NAXIS1 = 2048``...; ``END`` optional) or 80-character cards in a
        row (``Header.tostring()``), or the bytes of a FITS file, whose first
        header is used.
    max_pixels
        The largest ``NAXIS1 * NAXIS2`` allowed.

    Returns
    -------
    OutputGrid
        The grid the header describes (its distortions included).

    Raises
    ------
    skycut.errors.UsageError
        If the text is not a FITS header, lacks ``NAXIS1``/``NAXIS2`` or a 2-D
        celestial WCS, or is larger than ``max_pixels``.

    """
    header = _parse_header(template)
    try:
        nx, ny = int(header["NAXIS1"]), int(header["NAXIS2"])
    except (KeyError, ValueError, TypeError) as e:
        raise UsageError("TEMPLATE needs integer NAXIS1 and NAXIS2 cards") from e
    _check_pixels((ny, nx), max_pixels)
    try:
        with warnings.catch_warnings():
            # astropy fixes old-style WCS cards and lax values (1e-5 for 1E-5) as it reads
            warnings.simplefilter("ignore", FITSFixedWarning)
            warnings.simplefilter("ignore", VerifyWarning)
            wcs = WCS(header, naxis=2)
    except Exception as e:  # astropy raises many kinds for a broken WCS
        raise UsageError(f"TEMPLATE has no usable WCS: {e}") from e
    if not wcs.has_celestial or wcs.naxis != 2 or wcs.wcs.lng != 0:
        raise UsageError("TEMPLATE must describe a 2-D celestial grid (longitude first)")
    return OutputGrid(wcs=wcs, shape=(ny, nx))


def _parse_header(template: str | bytes) -> fits.Header:
    if isinstance(template, bytes) and template.startswith(b"SIMPLE  ="):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # astropy warns before it gives up on a bad file
                with fits.open(io.BytesIO(template)) as hdul:
                    return hdul[0].header.copy()
        except (OSError, ValueError, IndexError) as e:
            raise UsageError(f"TEMPLATE is not a readable FITS file: {e}") from e
    text = template.decode("ascii", "replace") if isinstance(template, bytes) else template
    if "\n" not in text.strip():  # cards of 80 characters, as in a FITS file
        text = "\n".join(text[i : i + 80] for i in range(0, len(text), 80))
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy warns on the fixes it makes to lax cards
            header = fits.Header.fromstring("\n".join(lines), sep="\n")
    except Exception as e:  # astropy raises several kinds for malformed cards
        raise UsageError(f"TEMPLATE is not a FITS header: {e}") from e
    if "NAXIS1" not in header:
        raise UsageError("TEMPLATE needs integer NAXIS1 and NAXIS2 cards")
    return header
