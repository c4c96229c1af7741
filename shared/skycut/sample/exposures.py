"""The images of the sample survey: where each points and how it was observed."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXPOSURES", "PIXEL_SCALE_ARCSEC", "Exposure"]

#: Pixel scale of the full-size images; ``size_scale`` below 1 makes pixels larger.
PIXEL_SCALE_ARCSEC = 0.2


@dataclass(frozen=True, kw_only=True)
class Exposure:
    """How one image is made (full-scale size; adu, arcsec, degrees)."""

    name: str
    crval: tuple[float, float]
    rotation: float
    band: str
    mjd: float
    sky: float
    seeing: float
    size: int = 2048
    obj: str = "COSMOS"
    exptime: float = 30.0
    gain: float = 1.6
    read_noise: float = 5.0
    zeropoint: float = 31.0
    saturation: float = 6.0e4
    coadd: bool = False


# fmt: off
#: Every image, in the order the survey writes them (each one's index seeds its noise).
EXPOSURES = (
    Exposure(name="deepcoadd-i-0001.fits", crval=(150.1, 2.2), rotation=0.0, band="i",
             mjd=61012.25, sky=300.0, seeing=0.75, size=4096, exptime=7200.0, gain=4.0,
             read_noise=2.0, zeropoint=32.0, saturation=4.0e5, coadd=True),
    Exposure(name="calexp-r-0001.fits", crval=(150.05, 2.24), rotation=0.8, band="r",
             mjd=61011.21354, sky=800.0, seeing=0.72),
    Exposure(name="calexp-r-0002.fits", crval=(150.14, 2.23), rotation=-1.2, band="r",
             mjd=61011.21412, sky=760.0, seeing=0.81),
    Exposure(name="calexp-g-0003.fits", crval=(150.1, 2.15), rotation=2.0, band="g",
             mjd=61014.19877, sky=450.0, seeing=0.88, zeropoint=30.8),
    Exposure(name="calexp-i-0004.fits", crval=(0.0, -30.0), rotation=0.5, band="i",
             mjd=61020.08913, sky=1100.0, seeing=0.69, obj="WRAP0", zeropoint=30.9),
)
# fmt: on
