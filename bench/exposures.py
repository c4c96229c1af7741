"""Synthetic calexp-like exposures for benchmarks: TAN-SIP headers, IMAGE/MASK/VARIANCE MEFs."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.wcs import WCS

__all__ = ["calexp_mef", "tan_sip_header"]


def tan_sip_header(
    crval: tuple[float, float], crpix: tuple[float, float], cd: Sequence[Sequence[float]]
) -> fits.Header:
    """Return a TAN-SIP celestial header with small second-order distortion terms."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = list(crval)
    wcs.wcs.crpix = list(crpix)
    wcs.wcs.cd = [list(row) for row in cd]
    header = wcs.to_header(relax=True)
    header["A_ORDER"], header["B_ORDER"] = 2, 2
    header["A_2_0"], header["B_0_2"] = 2e-7, -1e-7
    return header


def calexp_mef(
    header: fits.Header,
    image: npt.NDArray[np.float32],
    *,
    primary_cards: Mapping[str, object] | None = None,
) -> bytes:
    """Return a primary HDU (with ``primary_cards``) and IMAGE, MASK (0), VARIANCE (25) planes."""
    primary = fits.PrimaryHDU()
    for key, value in (primary_cards or {}).items():
        primary.header[key] = value
    shape = image.shape
    hdus = fits.HDUList(
        [
            primary,
            fits.ImageHDU(image, header=header, name="IMAGE"),
            fits.ImageHDU(np.zeros(shape, np.int32), header=header, name="MASK"),
            fits.ImageHDU(np.full(shape, 25.0, np.float32), header=header, name="VARIANCE"),
        ]
    )
    out = io.BytesIO()
    hdus.writeto(out)
    return out.getvalue()
