"""Checks shared by the integration tests: a cutout against its source."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose, assert_array_equal


def check_cutout_against_source(cutout_bytes: bytes, source: Path) -> tuple[int, int]:
    """Assert the cutout's pixels and WCS match the source's; return its (x0, y0)."""
    with fits.open(io.BytesIO(cutout_bytes)) as cut, fits.open(source) as src:
        image = cut["IMAGE"]
        x0 = round(-image.header["LTV1"])
        y0 = round(-image.header["LTV2"])
        ny, nx = image.data.shape
        assert_array_equal(image.data, src["IMAGE"].data[y0 : y0 + ny, x0 : x0 + nx])
        out_wcs = WCS(image.header)
        src_wcs = WCS(src["IMAGE"].header)
        assert out_wcs.sip is not None, "SIP distortion must be kept"
        ys, xs = np.mgrid[0:ny:7, 0:nx:7]
        assert_allclose(
            np.array(out_wcs.all_pix2world(xs, ys, 0)),
            np.array(src_wcs.all_pix2world(xs + x0, ys + y0, 0)),
            rtol=0,
            atol=1e-9,
        )
    return x0, y0


def brightest_pixel_sky(cutout_bytes: bytes) -> tuple[float, float]:
    """Return the sky position (deg) of the cutout's brightest pixel."""
    with fits.open(io.BytesIO(cutout_bytes)) as cut:
        image = cut["IMAGE"]
        y, x = np.unravel_index(np.nanargmax(image.data), image.data.shape)
        ra, dec = WCS(image.header).all_pix2world(x, y, 0)
    return float(ra), float(dec)
