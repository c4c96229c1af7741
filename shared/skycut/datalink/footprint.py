"""The sky footprint of an image, for DataLink service descriptors."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from skycut.errors import UnsupportedSourceError

__all__ = ["Footprint", "image_footprint"]


@dataclass(frozen=True, slots=True)
class Footprint:
    """Corners of an image on the ICRS sky and a circle enclosing them (degrees)."""

    polygon: tuple[tuple[float, float], ...]
    centre: tuple[float, float]
    radius: float


def _unit(ra: float, dec: float) -> np.ndarray:
    r, d = math.radians(ra), math.radians(dec)
    return np.array([math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)])


def image_footprint(header: fits.Header) -> Footprint:
    """Return the footprint of the image ``header`` describes.

    The polygon lists the four corners counter-clockwise as seen from the
    centre of the sphere (DALI polygons); the circle is centred on the mean
    of the corner directions and reaches the farthest corner.

    Raises
    ------
    UnsupportedSourceError
        If the header has no usable celestial WCS.

    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header).celestial
        corners = wcs.calc_footprint(undistort=True)
    except (ValueError, KeyError) as e:
        raise UnsupportedSourceError(f"no usable celestial WCS: {e}") from e
    if corners is None or not np.all(np.isfinite(corners)):
        raise UnsupportedSourceError("the image's corners are not on the sky")
    points = [(float(ra) % 360.0, float(dec)) for ra, dec in corners]
    vectors = [_unit(ra, dec) for ra, dec in points]
    # counter-clockwise seen from the origin: positive orientation of the first triangle
    if np.dot(np.cross(vectors[0], vectors[1]), vectors[2]) < 0:
        points.reverse()
        vectors.reverse()
    mean = np.sum(vectors, axis=0)
    mean /= np.linalg.norm(mean)
    centre = (
        math.degrees(math.atan2(mean[1], mean[0])) % 360.0,
        math.degrees(math.asin(max(-1.0, min(1.0, mean[2])))),
    )
    radius = max(
        math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(mean, v)))))) for v in vectors
    )
    return Footprint(polygon=tuple(points), centre=centre, radius=radius)
