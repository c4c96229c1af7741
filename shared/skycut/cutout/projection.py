"""A 2-D celestial WCS seen from ICRS: sky positions to pixels and back.

Every projection goes through the full WCS, distortions (SIP, lookup
tables) included. Stencils are in ICRS; an image in another frame (FK5,
Galactic...) is handled by transforming positions with astropy.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS, NoConvergence
from astropy.wcs.utils import wcs_to_celestial_frame

from skycut.cutout.sphere import Array, separation
from skycut.errors import UnsupportedSourceError

__all__ = ["SkyProjection"]

# Projections that map only the hemisphere around the reference point (or,
# for SIN, map both hemispheres onto the same disk).
_HEMISPHERE_PROJECTIONS = frozenset({"TAN", "TPV", "SIN", "NCP"})


class SkyProjection:
    """Maps ICRS positions to 0-based pixels of a 2-D celestial WCS, and back.

    Parameters
    ----------
    wcs
        A WCS with exactly two axes, longitude and latitude in either order.
    source
        The image's name, for error messages.

    Raises
    ------
    skycut.errors.UnsupportedSourceError
        If the WCS is not 2-D celestial or its frame is unknown.

    """

    def __init__(self, wcs: WCS, *, source: str = "the image") -> None:
        if wcs.naxis != 2 or not wcs.has_celestial:
            raise UnsupportedSourceError(f"{source} has no 2-D celestial WCS")
        try:
            self._frame = wcs_to_celestial_frame(wcs)
        except ValueError as e:
            raise UnsupportedSourceError(f"{source}: unknown celestial frame") from e
        self.wcs = wcs
        self._icrs = self._frame.name == "icrs"
        self._lng, self._lat = wcs.wcs.lng, wcs.wcs.lat
        self._hemisphere = wcs.wcs.ctype[self._lng][5:8] in _HEMISPHERE_PROJECTIONS

    def from_icrs(self, lon: Array, lat: Array) -> tuple[Array, Array]:
        """Return ICRS positions (radians) in the WCS's frame (radians)."""
        if self._icrs:
            return lon, lat
        native = SkyCoord(lon, lat, unit="rad", frame="icrs").transform_to(self._frame)
        return (
            np.asarray(native.spherical.lon.rad, dtype=np.float64),
            np.asarray(native.spherical.lat.rad, dtype=np.float64),
        )

    def to_pixel(self, lon: Array, lat: Array) -> tuple[Array, Array]:
        """Project ICRS positions (radians) to 0-based pixels.

        Returns
        -------
        x, y
            Pixel coordinates along the WCS's first and second axes; NaN
            where the WCS has no valid answer (the far side of a TAN or SIN
            projection, or where a distortion does not invert).

        """
        lon, lat = self.from_icrs(lon, lat)
        wcs = self.wcs
        ok = np.isfinite(lon) & np.isfinite(lat)
        if self._hemisphere:
            crval = np.radians(wcs.wcs.crval)
            ok &= separation(lon, lat, crval[self._lng], crval[self._lat]) < math.pi / 2
        x, y = np.full(lon.shape, np.nan), np.full(lon.shape, np.nan)
        if not ok.any():
            return x, y
        world = [np.empty(0), np.empty(0)]
        world[self._lng], world[self._lat] = np.degrees(lon[ok]), np.degrees(lat[ok])
        try:
            with warnings.catch_warnings(), np.errstate(invalid="ignore"):
                # Points wcslib rejects come back as NaN, which is what we want.
                warnings.simplefilter("ignore", RuntimeWarning)
                px, py = wcs.all_world2pix(*world, 0, quiet=False)
        except NoConvergence as e:
            # Far off the image SIP polynomials do not invert; those points are not on it.
            px, py = e.best_solution[:, 0].copy(), e.best_solution[:, 1].copy()
            for bad in (e.divergent, e.slow_conv):
                if bad is not None:
                    px[bad] = np.nan
        x[ok], y[ok] = px, py
        bad = ~(np.isfinite(x) & np.isfinite(y))
        x[bad], y[bad] = np.nan, np.nan
        return x, y

    def to_sky(self, x: Array, y: Array) -> tuple[Array, Array]:
        """Return the ICRS positions (degrees) of 0-based pixel coordinates."""
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            world = self.wcs.all_pix2world(x, y, 0)
        lon, lat = np.asarray(world[self._lng]), np.asarray(world[self._lat])
        if self._icrs:
            return lon, lat
        icrs = SkyCoord(lon, lat, unit="deg", frame=self._frame).icrs
        return np.asarray(icrs.ra.deg), np.asarray(icrs.dec.deg)
