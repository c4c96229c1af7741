"""Where an image lies on the sky: its footprint, computed from its header.

A :class:`Footprint` is the image's outline (a polygon of great-circle
arcs through ICRS vertices, counter-clockwise as seen from outside the
sphere, i.e. with RA increasing to the right and the inside on the left),
a point inside it, a cap that holds it, its pixel scale and size. The
outline holds every pixel of the image and lies at most a few thousandths
of a pixel outside it (:mod:`skycut.index.outline` says how), so testing
a position against it is testing it against the image.

The outline may be of any size, around a pole, across RA = 0 or larger
than a hemisphere: inside is the side that holds the image's central
pixel (:mod:`skycut.index.spherical`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from skycut.cutout.projection import SkyProjection
from skycut.cutout.sphere import Array, from_vectors, to_vectors
from skycut.errors import UnsupportedSourceError
from skycut.index.errors import UnindexableError
from skycut.index.outline import trace_outline
from skycut.index.spherical import SphericalPolygon, angle_between, enclosing_cap

__all__ = ["DEFAULT_MARGIN", "Footprint", "image_footprint", "pack_vertices", "unpack_vertices"]

DEFAULT_MARGIN = 0.004
"""Pixels between the image's border and its outline's vertices; the arcs
between them stay within half of it from that pushed border."""

_Bool = npt.NDArray[np.bool_]
_Vertices = npt.NDArray[np.float64]
_PACKED = np.dtype("<f8")


def pack_vertices(vertices: npt.ArrayLike) -> bytes:
    """Return ``(ra, dec)`` vertices (or flat numbers) as one bytes value: little-endian doubles."""
    return np.asarray(vertices, dtype=_PACKED).tobytes()


def unpack_vertices(packed: bytes | Sequence[float]) -> _Vertices:
    """Return the ``(n, 2)`` read-only array :func:`pack_vertices` packed (or of flat numbers)."""
    flat = np.frombuffer(packed, dtype=_PACKED) if isinstance(packed, bytes) else packed
    return _frozen(flat)


def _frozen(vertices: npt.ArrayLike) -> _Vertices:
    """Return vertices as a read-only ``(n, 2)`` float64 array."""
    array = np.array(vertices, dtype=np.float64).reshape(-1, 2)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Footprint:
    """An image's outline and size on the sky.

    Attributes
    ----------
    vertices
        ``(ra, dec)`` in ICRS degrees, RA in ``[0, 360)``, counter-clockwise;
        edges are great-circle arcs, the last vertex joins the first. A
        read-only ``(n, 2)`` array (any sequence of pairs is taken): a
        process keeps thousands of footprints (:mod:`skycut.index.cache`),
        and pairs of Python floats take seven times the memory.
    inner
        ``(ra, dec)`` of the image's central pixel, inside the outline: it
        tells which side of the outline is the image.
    centre, radius
        A cap (degrees) that holds the whole outline, within a few per cent
        of the smallest; ``radius`` is 180 if no smaller one was found.
    pixel_scale
        Degrees per pixel at the central pixel (geometric mean of both axes).
    naxis1, naxis2
        The pixel counts along the WCS's first and second celestial axes
        (``NAXIS1`` and ``NAXIS2`` of a plain 2-D image).

    """

    vertices: _Vertices
    inner: tuple[float, float]
    centre: tuple[float, float]
    radius: float
    pixel_scale: float
    naxis1: int
    naxis2: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "vertices", _frozen(self.vertices))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Footprint):
            return NotImplemented
        return (
            np.array_equal(self.vertices, other.vertices)
            and (self.inner, self.centre, self.radius, self.pixel_scale)
            == (other.inner, other.centre, other.radius, other.pixel_scale)
            and (self.naxis1, self.naxis2) == (other.naxis1, other.naxis2)
        )

    def __hash__(self) -> int:
        return hash((self.inner, self.centre, self.radius, self.naxis1, self.naxis2))

    @cached_property
    def polygon(self) -> SphericalPolygon:
        """The outline as a :class:`~skycut.index.spherical.SphericalPolygon`.

        Built on first use: most footprints read from the index are turned
        away by their cap (:meth:`may_meet`) without it.
        """
        lon, lat = np.radians(self.vertices.T)
        inner = to_vectors(*np.radians(self.inner))
        return SphericalPolygon(to_vectors(lon, lat), inner)

    def may_meet(self, ra: float, dec: float, radius: float = 0.0) -> bool:
        """Whether a cap (ICRS degrees) reaches this footprint's enclosing cap.

        `False` means the cap and the image are disjoint for certain; `True`
        leaves the exact test to :attr:`polygon`. The comparison keeps a
        margin of 1e-9° against rounding.
        """
        if self.radius + radius >= 180.0:
            return True
        lon1, lat1, lon2, lat2 = map(math.radians, (ra, dec, *self.centre))
        # haversine: accurate at small separations, where the answer is decided
        h = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        )
        separation = math.degrees(2.0 * math.asin(min(1.0, math.sqrt(h))))
        return separation <= self.radius + radius + 1e-9

    def contains(self, ra: Array | float, dec: Array | float) -> _Bool:
        """Whether ICRS positions (degrees) fall on the image.

        Returns
        -------
        numpy.ndarray
            Booleans of the shape of ``ra`` and ``dec`` broadcast together.

        """
        ra, dec = np.broadcast_arrays(np.asarray(ra, dtype=float), np.asarray(dec, dtype=float))
        points = to_vectors(np.radians(ra), np.radians(dec)).reshape(-1, 3)
        return self.polygon.contains(points).reshape(ra.shape)

    def to_dict(self) -> dict[str, Any]:
        """Render as plain values.

        Returns
        -------
        dict
            ``vertices`` as one bytes value, ``ra1 dec1 ra2 dec2 ...`` as
            little-endian doubles (:func:`pack_vertices`: Firestore has no
            nested arrays, and one value decodes ~5x faster than an array of
            numbers), ``inner`` and ``centre`` as ``[ra, dec]``, and the other
            attributes.

        """
        return {
            "vertices": pack_vertices(self.vertices),
            "inner": list(self.inner),
            "centre": list(self.centre),
            "radius": self.radius,
            "pixel_scale": self.pixel_scale,
            "naxis1": self.naxis1,
            "naxis2": self.naxis2,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Footprint:
        """Rebuild a footprint from :meth:`to_dict`'s values.

        ``vertices`` may also be the flat list of numbers entries held before
        they were packed.
        """
        return cls(
            vertices=unpack_vertices(data["vertices"]),
            inner=(float(data["inner"][0]), float(data["inner"][1])),
            centre=(float(data["centre"][0]), float(data["centre"][1])),
            radius=float(data["radius"]),
            pixel_scale=float(data["pixel_scale"]),
            naxis1=int(data["naxis1"]),
            naxis2=int(data["naxis2"]),
        )


def _celestial_wcs(header: fits.Header, source: str) -> tuple[WCS, int, int]:
    """Return the 2-D celestial WCS of an image header and its pixel counts."""
    try:
        with warnings.catch_warnings():
            # Notes on non-standard cards wcslib fixes are not the indexer's concern.
            warnings.simplefilter("ignore", AstropyWarning)
            wcs = WCS(header)
    except (ValueError, KeyError, TypeError, MemoryError) as e:
        raise UnindexableError(f"{source}: unusable WCS: {e}") from e
    if not wcs.has_celestial:
        raise UnindexableError(f"{source} has no celestial WCS")
    naxis = header.get("NAXIS", 0)
    i, j = sorted((wcs.wcs.lng, wcs.wcs.lat))
    if not isinstance(naxis, int) or j >= naxis:
        raise UnindexableError(f"{source}: its celestial WCS axes are not image axes")
    matrix = wcs.axis_correlation_matrix
    for axis in (i, j):
        if set(np.flatnonzero(matrix[axis])) - {i, j} or set(np.flatnonzero(matrix[:, axis])) - {
            i,
            j,
        }:
            raise UnindexableError(
                f"{source}: its PC/CD matrix mixes the celestial axes with other axes"
            )
    sizes = [header.get(f"NAXIS{k + 1}") for k in (i, j)]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes):
        raise UnindexableError(f"{source}: its celestial axes have no pixels")
    sky = wcs if wcs.naxis == 2 else wcs.sub([i + 1, j + 1])
    return sky, int(sizes[0]), int(sizes[1])


def _handedness(projection: SkyProjection, x: Array, y: Array) -> Array:
    """Sign of the pixel-to-sky Jacobian at pixel points.

    Positive where a turn from +x to +y in pixels is a counter-clockwise
    turn on the sky seen from outside the sphere.
    """
    step = 0.25
    xs = np.concatenate([x, x + step, x])
    ys = np.concatenate([y, y, y + step])
    lon, lat = projection.to_sky(xs, ys)
    v = to_vectors(np.radians(lon), np.radians(lat)).reshape(3, -1, 3)
    east, north = v[1] - v[0], v[2] - v[0]
    det = np.einsum("ij,ij->i", v[0], np.cross(east, north))
    size = np.linalg.norm(east, axis=1) * np.linalg.norm(north, axis=1)
    # Pixel axes closer than ~0.06° to parallel: a singular (or non-finite) matrix.
    return np.asarray(np.where(np.abs(det) > 1e-3 * size, np.sign(det), 0.0), dtype=np.float64)


def _cap(polygon: SphericalPolygon, vectors: Array, inner: Array) -> tuple[Array, float]:
    """Return a cap (centre, radius in radians) that holds the whole polygon."""
    starts = [inner]
    mean = vectors.sum(axis=0)
    if np.linalg.norm(mean) > 1e-6 * vectors.shape[0]:
        starts.append(mean / np.linalg.norm(mean))
    longest = float(angle_between(vectors, np.roll(vectors, -1, axis=0)).max())
    best: tuple[Array, float] = (inner, math.pi)
    for start in starts:
        centre, radius = enclosing_cap(vectors, start)
        if polygon.contains(-centre[None, :])[0]:
            continue  # the polygon is the outside of this cap
        if radius >= math.pi / 2:
            # Caps this large are not convex: an arc may leave one, by at most half its length.
            radius += longest / 2.0
        if radius < best[1]:
            best = (centre, radius)
    return best


def image_footprint(
    header: fits.Header, *, source: str = "the image", margin: float = DEFAULT_MARGIN
) -> Footprint:
    """Compute an image's footprint from its header.

    Parameters
    ----------
    header
        The image HDU's header as an uncompressed image carries it (for a
        tile-compressed HDU, :func:`skycut.cutout.tilelayout.compressed_image_header`);
        a cube's celestial axes are outlined, its other axes ignored.
    source
        The image's name, for messages.
    margin
        Pixels between the image's border and the outline's vertices.

    Returns
    -------
    Footprint
        The outline, holding every pixel of the image.

    Raises
    ------
    skycut.index.errors.UnindexableError
        If the header has no celestial WCS, or one with no sky position for
        part of the border, one that folds, wraps around the sky or does
        not invert there, or a celestial frame astropy does not know.

    """
    wcs, nx, ny = _celestial_wcs(header, source)
    try:
        projection = SkyProjection(wcs, source=source)
        with np.errstate(invalid="ignore", divide="ignore"):
            return _footprint(projection, nx, ny, margin=margin, source=source)
    except UnsupportedSourceError as e:
        raise UnindexableError(e.message) from e
    except (ValueError, MemoryError) as e:  # wcslib refuses singular or invalid transforms
        raise UnindexableError(f"{source}: unusable WCS: {e}") from e


def _check_mapping(projection: SkyProjection, nx: int, ny: int, source: str) -> float:
    """Refuse a WCS that is singular, folds or does not invert over the image.

    A 9 x 9 grid of pixels, border included, must map to the sky and back
    and keep one handedness; returns that handedness (+1 or -1).
    """
    gx, gy = np.meshgrid(np.linspace(-0.5, nx - 0.5, 9), np.linspace(-0.5, ny - 0.5, 9))
    x, y = gx.ravel(), gy.ravel()
    handed = _handedness(projection, x, y)
    lon, lat = projection.to_sky(x, y)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise UnindexableError(f"{source}: the WCS gives no sky position for part of the image")
    if handed[0] == 0 or not (handed == handed[0]).all():
        raise UnindexableError(f"{source}: its WCS is singular or folds the image over itself")
    bx, by = projection.to_pixel(np.radians(lon), np.radians(lat))
    if not (np.hypot(bx - x, by - y) <= 1e-3).all():
        raise UnindexableError(
            f"{source}: its WCS does not map the image back onto itself: it wraps around "
            "the sky or does not invert"
        )
    return float(handed[0])


def _footprint(
    projection: SkyProjection, nx: int, ny: int, *, margin: float, source: str
) -> Footprint:
    handed = _check_mapping(projection, nx, ny, source)
    outline = trace_outline(
        projection, (nx, ny), margin=margin, tolerance=margin / 2.0, source=source
    )
    cx, cy = np.array([(nx - 1) / 2.0]), np.array([(ny - 1) / 2.0])
    if not (_handedness(projection, outline.x, outline.y) == handed).all():
        raise UnindexableError(f"{source}: its WCS folds the image over itself on the sky")
    lon, lat = outline.lon % 360.0, outline.lat
    if handed < 0:  # east to the left in pixels, as usual: pixel order is clockwise
        lon, lat = lon[::-1], lat[::-1]
    inner_lon, inner_lat = projection.to_sky(cx, cy)
    vectors = to_vectors(np.radians(lon), np.radians(lat))
    inner = to_vectors(np.radians(inner_lon[0]), np.radians(inner_lat[0]))
    polygon = SphericalPolygon(vectors, inner)
    centre, radius = _cap(polygon, vectors, inner)
    centre_lon, centre_lat = from_vectors(centre)
    near = projection.to_sky(cx + np.array([-0.5, 0.5, 0.0, 0.0]), cy + np.array([0, 0, -0.5, 0.5]))
    ends = to_vectors(*np.radians(near))
    scale = math.sqrt(
        float(angle_between(ends[0], ends[1])) * float(angle_between(ends[2], ends[3]))
    )
    return Footprint(
        vertices=np.stack([lon, lat], axis=1),
        inner=(float(inner_lon[0]) % 360.0, float(inner_lat[0])),
        centre=(math.degrees(float(centre_lon)), math.degrees(float(centre_lat))),
        radius=min(180.0, math.degrees(radius) * (1.0 + 1e-12) + 1e-12),
        pixel_scale=math.degrees(scale),
        naxis1=nx,
        naxis2=ny,
    )
