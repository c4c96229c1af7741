"""The pixels of a sample image: sky, catalogued stars, noise, mask bits and variance."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from astropy.wcs import WCS
from numpy.typing import NDArray

from skycut.sample.catalogue import CatalogueStar
from skycut.sample.exposures import Exposure

__all__ = ["MASK_PLANES", "render_planes"]

#: Bit numbers of the mask planes, as LSST writes them in ``MP_*`` cards.
MASK_PLANES = {"BAD": 0, "SAT": 1, "INTRP": 2, "CR": 3, "EDGE": 4, "DETECTED": 5, "NO_DATA": 8}

_CORE_FRACTION = 0.85  # double-Gaussian PSF: a core and a 2.5x wider wing
_WING_WIDTH = 2.5
_Float64 = NDArray[np.float64]
_Float32 = NDArray[np.float32]


def render_planes(
    exposure: Exposure,
    wcs: WCS,
    *,
    size: int,
    pixscale: float,
    stars: Sequence[CatalogueStar],
    rng: np.random.Generator,
) -> tuple[_Float32, NDArray[np.int32], _Float32]:
    """Render sky, stars and noise; return the image, mask and variance planes.

    Parameters
    ----------
    exposure
        The image: sky level, seeing, gain, noise, zero point, saturation.
    wcs
        Where the stars fall on the pixels.
    size
        Width and height of the image in pixels.
    pixscale
        Pixel scale in arcsec.
    stars
        The catalogue; only the stars near the image are drawn.
    rng
        Draws the sky tilt, the noise and (calexps only) the bad columns and
        cosmic rays, in that order.

    Returns
    -------
    tuple
        ``IMAGE`` (float32 adu), ``MASK`` (int32 bits of :data:`MASK_PLANES`)
        and ``VARIANCE`` (float32 adu²).

    """
    shape = (size, size)
    ra = np.radians([s.ra for s in stars])
    dec = np.radians([s.dec for s in stars])
    ra0, dec0 = (math.radians(c) for c in exposure.crval)
    cos_sep = np.sin(dec) * math.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    near = cos_sep > math.cos(math.radians(size * pixscale / 3600))  # > image diagonal
    x, y = wcs.all_world2pix(np.degrees(ra[near]), np.degrees(dec[near]), 0)
    flux = 10 ** (-0.4 * (np.array([s.mag for s in stars])[near] - exposure.zeropoint))

    coords = np.linspace(-1, 1, size, dtype=np.float32)
    tilt = rng.uniform(-0.02, 0.02, 2).astype(np.float32)
    sky = exposure.sky * (1 + tilt[0] * coords[None, :] + tilt[1] * coords[:, None])
    image = np.broadcast_to(sky, shape).astype(np.float32)
    sigma = max(exposure.seeing / pixscale / 2.3548, 1.0)
    noise = math.sqrt(exposure.sky / exposure.gain + exposure.read_noise**2)
    _add_stars(image, x, y, flux, sigma=sigma, bright=30 * noise)

    model_variance = np.maximum(image, 0) / exposure.gain + exposure.read_noise**2
    image += rng.standard_normal(shape, dtype=np.float32) * np.sqrt(model_variance)
    mask = np.zeros(shape, dtype=np.int32)
    saturated = image >= exposure.saturation
    image[saturated] = exposure.saturation
    mask[saturated] |= 1 << MASK_PLANES["SAT"]
    mask[image - sky > 5 * noise] |= 1 << MASK_PLANES["DETECTED"]
    # Rubin ISR output: the noise of the variance plane comes from the image.
    variance = (np.maximum(image, 0) / exposure.gain + exposure.read_noise**2).astype(np.float32)
    if not exposure.coadd:
        for col in rng.integers(8, size - 8, 2):
            start = int(rng.integers(0, size // 2))
            image[start:, col] = 0.5 * (image[start:, col - 1] + image[start:, col + 1])
            mask[start:, col] |= (1 << MASK_PLANES["BAD"]) | (1 << MASK_PLANES["INTRP"])
        for cy, cx, length in zip(
            rng.integers(0, size, 12),
            rng.integers(0, size - 4, 12),
            rng.integers(1, 5, 12),
            strict=True,
        ):
            mask[cy, cx : cx + length] |= 1 << MASK_PLANES["CR"]  # repaired cosmic rays
    return image, mask, variance


def _add_stars(
    image: _Float32, x: _Float64, y: _Float64, flux: _Float64, *, sigma: float, bright: float
) -> None:
    """Add double-Gaussian stars, each only into a stamp around its position.

    Parameters
    ----------
    image
        Added to in place.
    x, y
        Zero-based pixel positions of the stars; those off the image are skipped.
    flux
        Total flux of each star in adu.
    sigma
        Standard deviation of the PSF core in pixels.
    bright
        Peak above which a star gets a wider stamp, so its wing is not cut off.

    """
    ny, nx = image.shape
    wing = _WING_WIDTH * sigma
    peak = flux * _CORE_FRACTION / (2 * math.pi * sigma**2)
    radius = np.where(peak > bright, math.ceil(7 * wing), math.ceil(4 * wing))
    inside = (x > -radius) & (x < nx - 1 + radius) & (y > -radius) & (y < ny - 1 + radius)
    for r in np.unique(radius[inside]):
        sel = inside & (radius == r)
        cx, cy = np.rint(x[sel]).astype(int), np.rint(y[sel]).astype(int)
        offsets = np.arange(-r, r + 1)
        dx = (cx[:, None] + offsets) - x[sel][:, None]
        dy = (cy[:, None] + offsets) - y[sel][:, None]

        def gauss(d: _Float64, s: float) -> _Float64:
            return np.exp(-0.5 * (d / s) ** 2) / (math.sqrt(2 * math.pi) * s)

        stamps = flux[sel][:, None, None] * (
            _CORE_FRACTION * gauss(dy, sigma)[:, :, None] * gauss(dx, sigma)[:, None, :]
            + (1 - _CORE_FRACTION) * gauss(dy, wing)[:, :, None] * gauss(dx, wing)[:, None, :]
        )
        for stamp, x0, y0 in zip(stamps, cx - r, cy - r, strict=True):
            xa, ya = max(x0, 0), max(y0, 0)
            xb, yb = min(x0 + 2 * r + 1, nx), min(y0 + 2 * r + 1, ny)
            image[ya:yb, xa:xb] += stamp[ya - y0 : yb - y0, xa - x0 : xb - x0]
