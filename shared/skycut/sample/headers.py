"""The FITS headers of a sample image: the observation cards and one per plane."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from astropy.io import fits

from skycut.sample.exposures import Exposure
from skycut.sample.manifest import GENERATOR_VERSION
from skycut.sample.rendering import MASK_PLANES

__all__ = ["PLANES", "extension_header", "primary_header"]

#: The image extensions of every file, in order, as LSST writes an exposure.
PLANES = ("IMAGE", "MASK", "VARIANCE")


def primary_header(exposure: Exposure, *, seed: int, pixscale: float) -> fits.Header:
    """Describe the observation: instrument, band, date, exposure, noise, generator.

    Parameters
    ----------
    exposure
        The image.
    seed
        The survey's seed, recorded in ``SIMSEED``.
    pixscale
        Pixel scale in arcsec.

    """
    date = datetime(1858, 11, 17) + timedelta(days=exposure.mjd)
    cards: list[tuple[str, Any, str]] = [
        ("TELESCOP", "skycut-sim", "simulated telescope"),
        ("INSTRUME", "skycut-cam", "simulated camera"),
        # The entry point, not this module: it is in every file's bytes.
        ("ORIGIN", "skycut.sample.survey", "generator of this file"),
        ("OBJECT", exposure.obj, "field name"),
        ("FILTER", exposure.band, "band"),
        ("PRODTYPE", "deepCoadd" if exposure.coadd else "calexp", "kind of data product"),
        ("MJD-OBS", exposure.mjd, "[d] start of observation (UTC)"),
        ("DATE-OBS", date.isoformat(timespec="milliseconds"), "start of observation (UTC)"),
        ("EXPTIME", exposure.exptime, "[s] exposure time"),
        ("GAIN", exposure.gain, "[e-/adu]"),
        ("RDNOISE", exposure.read_noise, "[adu] read noise"),
        ("SATURATE", exposure.saturation, "[adu] saturation level"),
        ("MAGZERO", exposure.zeropoint, "magnitude of 1 adu"),
        ("SEEING", exposure.seeing, "[arcsec] PSF FWHM"),
        ("PIXSCALE", pixscale, "[arcsec/pixel]"),
        ("SIMVERS", GENERATOR_VERSION, "skycut sample generator version"),
        ("SIMSEED", seed, "skycut sample generator seed"),
    ]
    header = fits.Header(cards)
    header["COMMENT"] = "Simulated data: sky, catalogued stars and noise, no real photons."
    return header


def extension_header(wcs_header: fits.Header, name: str) -> fits.Header:
    """Describe one plane (one of :data:`PLANES`): its type, unit or mask bits, and the WCS."""
    header = fits.Header()
    header["EXTTYPE"] = (name, "plane of an LSST-style exposure")
    header["INHERIT"] = (True, "inherit the primary header")
    if name == "MASK":
        for plane, bit in MASK_PLANES.items():
            key = f"MP_{plane}" if len(plane) <= 5 else f"HIERARCH MP_{plane}"  # as LSST does
            header[key] = (bit, f"bit of mask plane {plane}")
    else:
        header["BUNIT"] = "adu" if name == "IMAGE" else "adu2"
    header.extend(wcs_header)
    return header
