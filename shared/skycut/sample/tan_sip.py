"""The TAN-SIP WCS of a sample image: a rotated CD matrix, cubic SIP and its fitted inverse."""

from __future__ import annotations

import math

import numpy as np
from astropy.io import fits
from numpy.typing import NDArray

from skycut.sample.exposures import Exposure

__all__ = ["tan_sip_header"]

_SIP_ORDER = 3
_SIP_INVERSE_ORDER = 4
_Float64 = NDArray[np.float64]


def tan_sip_header(
    exposure: Exposure, *, size: int, pixscale: float, rng: np.random.Generator
) -> fits.Header:
    """Build a TAN-SIP WCS: a rotated CD matrix, cubic forward SIP and a fitted inverse.

    Parameters
    ----------
    exposure
        The image: its pointing, rotation and full-scale size.
    size
        Width and height of the image in pixels.
    pixscale
        Pixel scale in arcsec.
    rng
        Draws the distortion coefficients; the survey then renders the image
        from the same generator, so the number and order of draws here are
        part of every file's bytes.

    Returns
    -------
    astropy.io.fits.Header
        The WCS cards, exactly as a FITS file will hold them.

    """
    half = size / 2
    header = fits.Header()
    header["WCSAXES"] = 2
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    header["CUNIT1"], header["CUNIT2"] = "deg", "deg"
    header["CRPIX1"] = header["CRPIX2"] = half + 0.5
    header["CRVAL1"], header["CRVAL2"] = exposure.crval
    theta, scale = math.radians(exposure.rotation), pixscale / 3600
    header["CD1_1"] = -scale * math.cos(theta)
    header["CD1_2"] = scale * math.sin(theta)
    header["CD2_1"] = scale * math.sin(theta)
    header["CD2_2"] = scale * math.cos(theta)
    header["RADESYS"], header["EQUINOX"] = "ICRS", 2000.0

    # Distortion of a few full-scale pixels at the image edge (fixed in arcsec
    # whatever size_scale is): random quadratic terms plus a radial cubic term.
    edge_px = 1.5 * size / exposure.size
    quad = rng.uniform(-1, 1, (2, 3)) * edge_px
    radial = rng.uniform(-1, 1) * edge_px
    forward = {
        "A": [
            *zip([(2, 0), (1, 1), (0, 2)], quad[0], strict=True),
            ((3, 0), radial),
            ((1, 2), radial),
        ],
        "B": [
            *zip([(2, 0), (1, 1), (0, 2)], quad[1], strict=True),
            ((2, 1), radial),
            ((0, 3), radial),
        ],
    }
    coeffs = {  # rounded as written, so that the fit below inverts what the file says
        key: {(p, q): float(f"{c / half ** (p + q):.10e}") for (p, q), c in terms}
        for key, terms in forward.items()
    }

    # Fit the inverse (AP, BP) on a grid a little larger than the image, in
    # units of ``half`` so the least-squares problem is well conditioned.
    grid = np.linspace(-1.1 * half, 1.1 * half, 45)
    u, v = (g.ravel() for g in np.meshgrid(grid, grid))
    big_u = u + sum(c * u**p * v**q for (p, q), c in coeffs["A"].items())
    big_v = v + sum(c * u**p * v**q for (p, q), c in coeffs["B"].items())
    terms = _monomials(big_u / half, big_v / half, _SIP_INVERSE_ORDER)
    design = np.stack([t for _, _, t in terms], axis=1)
    for key, target in (("AP", u - big_u), ("BP", v - big_v)):
        solution = np.linalg.lstsq(design, target / half, rcond=None)[0]
        coeffs[key] = {
            (p, q): float(f"{c * half ** (1 - p - q):.10e}")
            for (p, q, _), c in zip(terms, solution, strict=True)
        }

    for key in ("A", "B", "AP", "BP"):
        order = _SIP_ORDER if len(key) == 1 else _SIP_INVERSE_ORDER
        header[f"{key}_ORDER"] = order
        for (p, q), c in sorted(coeffs[key].items()):
            header[f"{key}_{p}_{q}"] = c
    return fits.Header.fromstring(header.tostring())  # exactly what the file will say


def _monomials(u: _Float64, v: _Float64, order: int) -> list[tuple[int, int, _Float64]]:
    return [(p, t - p, u**p * v ** (t - p)) for t in range(order + 1) for p in range(t, -1, -1)]
