"""The sky regions a cutout is cut to: SODA 1.0 §3.3 CIRCLE, POLYGON and RANGE.

Each stencil is an immutable value in ICRS degrees that renders as its SODA
``POS`` text with :meth:`to_soda` and is parsed back, exactly, by
:func:`parse_stencil` (this text is how stencils travel in job messages).
Each tells which sky positions it contains, vectorised over arrays.

Decisions where SODA and DALI leave room:

- ``POLYGON``: edges are great-circle arcs; the region is the smaller of
  the two the edges bound, so clockwise and counter-clockwise vertex orders
  mean the same; vertices must lie within a hemisphere, edges must not cross
  (see :mod:`skycut.cutout.polygon`).
- ``RANGE lon1 lon2 lat1 lat2``: ``-Inf``/``+Inf`` are open ends, clamped
  to the sky (longitude 0 to 360, latitude -90 to 90). ``lon1 > lon2`` wraps
  through longitude 0: ``RANGE 350 10 -5 5`` is 20° wide. ``lat1 > lat2``
  is refused. Edges of constant longitude are meridians (great circles),
  edges of constant latitude are parallels (small circles), as SODA means.
- Points on a stencil's boundary are inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from skycut.cutout.dali import format_number, parse_numbers
from skycut.cutout.polygon import GnomonicPolygon
from skycut.cutout.sphere import Array, separation
from skycut.errors import UsageError

__all__ = [
    "Circle",
    "Polygon",
    "Range",
    "Stencil",
    "parse_circle",
    "parse_polygon",
    "parse_range",
    "parse_stencil",
]

_Bool = npt.NDArray[np.bool_]


def _check_lon(value: float, what: str) -> None:
    if not 0.0 <= value <= 360.0:
        raise UsageError(f"{what} longitude {value!r} is outside [0, 360] degrees")


def _check_lat(value: float, what: str) -> None:
    if not -90.0 <= value <= 90.0:
        raise UsageError(f"{what} latitude {value!r} is outside [-90, 90] degrees")


@dataclass(frozen=True)
class Circle:
    """A CIRCLE stencil: a cone on the ICRS sky.

    Parameters
    ----------
    ra
        Right ascension of the centre, in degrees.
    dec
        Declination of the centre, in degrees, in ``[-90, 90]``.
    radius
        Angular radius, in degrees, in ``(0, 180]``.

    Raises
    ------
    skycut.errors.UsageError
        If a value is not finite or out of range.

    """

    ra: float
    dec: float
    radius: float

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.ra, self.dec, self.radius)):
            raise UsageError(f"CIRCLE values must be finite: {self.to_soda()}")
        if not -90.0 <= self.dec <= 90.0:
            raise UsageError(f"CIRCLE declination {self.dec!r} is outside [-90, 90]")
        if not 0.0 < self.radius <= 180.0:
            raise UsageError(f"CIRCLE radius {self.radius!r} is outside (0, 180]")

    def to_soda(self) -> str:
        """Render as the SODA ``POS`` value.

        Returns
        -------
        str
            ``"CIRCLE ra dec radius"``, each value in its shortest exact form.

        """
        return "CIRCLE " + " ".join(map(format_number, (self.ra, self.dec, self.radius)))

    def contains(self, lon: Array, lat: Array) -> _Bool:
        """Whether ICRS positions (degrees) are inside; boundary included."""
        sep = separation(np.radians(lon), np.radians(lat), *map(math.radians, (self.ra, self.dec)))
        with np.errstate(invalid="ignore"):
            return np.asarray(sep <= math.radians(self.radius))


@dataclass(frozen=True)
class Polygon:
    """A POLYGON stencil: great-circle edges joining vertices on the ICRS sky.

    Parameters
    ----------
    vertices
        ``(lon, lat)`` pairs in degrees, at least three, in either winding
        order; the last is joined to the first.

    Raises
    ------
    skycut.errors.UsageError
        If there are fewer than three vertices, a value is out of range, or
        the polygon is degenerate, crosses itself or exceeds a hemisphere.

    """

    vertices: tuple[tuple[float, float], ...]
    _shape: GnomonicPolygon = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.vertices) < 3:
            raise UsageError(f"POLYGON needs at least 3 vertices, got {len(self.vertices)}")
        lon = np.array([v[0] for v in self.vertices], dtype=np.float64)
        lat = np.array([v[1] for v in self.vertices], dtype=np.float64)
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            raise UsageError(f"POLYGON values must be finite: {self.to_soda()}")
        for value in lat:
            _check_lat(float(value), "POLYGON")
        try:
            shape = GnomonicPolygon.from_vertices(np.radians(lon), np.radians(lat))
        except ValueError as e:
            raise UsageError(f"POLYGON is not usable: {e}") from e
        object.__setattr__(self, "_shape", shape)

    @property
    def centre(self) -> tuple[float, float]:
        """The vertices' mean direction, ``(lon, lat)`` in degrees."""
        x, y, z = self._shape.centre
        return math.degrees(math.atan2(y, x)) % 360.0, math.degrees(math.atan2(z, math.hypot(x, y)))

    def to_soda(self) -> str:
        """Render as the SODA ``POS`` value, ``"POLYGON lon1 lat1 lon2 lat2 ..."``."""
        return "POLYGON " + " ".join(format_number(c) for v in self.vertices for c in v)

    def contains(self, lon: Array, lat: Array) -> _Bool:
        """Whether ICRS positions (degrees) are inside."""
        return self._shape.contains(np.radians(lon), np.radians(lat))


@dataclass(frozen=True)
class Range:
    """A RANGE stencil: longitude and latitude intervals on the ICRS sky.

    Parameters
    ----------
    lon1, lon2
        Longitude bounds in degrees, in ``[0, 360]``, or ``-inf``/``+inf``
        for open ends; ``lon1 > lon2`` wraps through 0.
    lat1, lat2
        Latitude bounds in degrees, in ``[-90, 90]``, or open; ``lat1 <= lat2``.

    Raises
    ------
    skycut.errors.UsageError
        If a bound is out of range or NaN, or ``lat1 > lat2``.

    """

    lon1: float
    lon2: float
    lat1: float
    lat2: float

    def __post_init__(self) -> None:
        values = (self.lon1, self.lon2, self.lat1, self.lat2)
        if any(math.isnan(v) for v in values):
            raise UsageError(f"RANGE values must be numbers: {self.to_soda()}")
        if self.lon1 == math.inf or self.lat1 == math.inf:
            raise UsageError(f"RANGE lower bounds cannot be +Inf: {self.to_soda()}")
        if self.lon2 == -math.inf or self.lat2 == -math.inf:
            raise UsageError(f"RANGE upper bounds cannot be -Inf: {self.to_soda()}")
        for lon in (self.lon1, self.lon2):
            if math.isfinite(lon):
                _check_lon(lon, "RANGE")
        for lat in (self.lat1, self.lat2):
            if math.isfinite(lat):
                _check_lat(lat, "RANGE")
        if self.lat1 > self.lat2:
            raise UsageError(
                f"RANGE latitudes must be increasing (lat1 <= lat2), got {self.to_soda()}"
            )

    @property
    def lon_start(self) -> float:
        """The western longitude bound in degrees, open ends clamped to 0."""
        return self.lon1 if math.isfinite(self.lon1) else 0.0

    @property
    def lon_width(self) -> float:
        """Degrees of longitude covered eastwards from `lon_start`; 360 for all."""
        stop = self.lon2 if math.isfinite(self.lon2) else 360.0
        if stop - self.lon_start == 360.0:
            return 360.0
        return (stop - self.lon_start) % 360.0

    @property
    def lat_min(self) -> float:
        """The southern latitude bound in degrees, open ends clamped to -90."""
        return max(self.lat1, -90.0)

    @property
    def lat_max(self) -> float:
        """The northern latitude bound in degrees, open ends clamped to 90."""
        return min(self.lat2, 90.0)

    def to_soda(self) -> str:
        """Render as the SODA ``POS`` value, ``"RANGE lon1 lon2 lat1 lat2"``."""
        values = (self.lon1, self.lon2, self.lat1, self.lat2)
        return "RANGE " + " ".join(map(format_number, values))

    def contains(self, lon: Array, lat: Array) -> _Bool:
        """Whether ICRS positions (degrees) are inside; boundary included."""
        lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            inside = (lat >= self.lat_min) & (lat <= self.lat_max)
            if self.lon_width < 360.0:
                inside &= np.mod(lon - self.lon_start, 360.0) <= self.lon_width
        return np.asarray(inside)


Stencil = Circle | Polygon | Range
"""Any SODA stencil."""


def parse_circle(text: str, *, what: str = "CIRCLE") -> Circle:
    """Parse a DALI circle ``lon lat radius`` in degrees.

    Raises
    ------
    skycut.errors.UsageError
        If the text is not three finite numbers with lon in [0, 360],
        lat in [-90, 90] and radius in (0, 180].

    """
    ra, dec, radius = parse_numbers(text, what=what, count=3)
    _check_lon(ra, what)
    _check_lat(dec, what)
    if not 0.0 < radius <= 180.0:
        raise UsageError(f"{what} radius {radius!r} is outside (0, 180] degrees")
    return Circle(ra=ra % 360.0, dec=dec, radius=radius)


def parse_polygon(text: str, *, what: str = "POLYGON") -> Polygon:
    """Parse a DALI polygon ``lon1 lat1 lon2 lat2 lon3 lat3 ...`` in degrees.

    Raises
    ------
    skycut.errors.UsageError
        If the text is not an even count of at least six finite numbers with
        every lon in [0, 360] and lat in [-90, 90], or the polygon is unusable.

    """
    values = parse_numbers(text, what=what, minimum=6, even=True)
    for lon, lat in zip(values[::2], values[1::2], strict=True):
        _check_lon(lon, what)
        _check_lat(lat, what)
    try:
        return Polygon(
            tuple((lon % 360.0, lat) for lon, lat in zip(values[::2], values[1::2], strict=True))
        )
    except UsageError as e:
        raise UsageError(e.message.replace("POLYGON", what, 1)) from e


def parse_range(text: str, *, what: str = "POS RANGE") -> Range:
    """Parse ``lon1 lon2 lat1 lat2`` in degrees, ``-Inf``/``+Inf`` for open ends.

    Raises
    ------
    skycut.errors.UsageError
        If the text is not four numbers in range, or ``lat1 > lat2``.

    """
    lon1, lon2, lat1, lat2 = parse_numbers(text, what=what, count=4, open_ends=True)
    try:
        return Range(lon1, lon2, lat1, lat2)
    except UsageError as e:
        raise UsageError(e.message.replace("RANGE", what, 1)) from e


def parse_stencil(text: str) -> Stencil:
    """Parse a SODA ``POS`` value: ``CIRCLE ...``, ``POLYGON ...`` or ``RANGE ...``.

    This inverts each stencil's ``to_soda()`` exactly.

    Raises
    ------
    skycut.errors.UsageError
        If the shape keyword is not one of the three (upper case, as SODA
        writes them) or its values are malformed.

    """
    shape, _, rest = text.strip().partition(" ")
    if shape == "CIRCLE":
        return parse_circle(rest, what="POS CIRCLE")
    if shape == "POLYGON":
        return parse_polygon(rest, what="POS POLYGON")
    if shape == "RANGE":
        return parse_range(rest, what="POS RANGE")
    raise UsageError(
        f"POS {text!r} must start with CIRCLE, RANGE or POLYGON, "
        "e.g. POS=CIRCLE 150.1 2.2 0.01 or POS=RANGE 150 150.2 2.1 2.3"
    )
