"""A field observed for mosaics: four adjacent r calexps across RA = 0, each on its own sky.

Four 1024² calexps (0.2″ pixels at full scale, 205″ a side) in a 2 x 2
pattern around :data:`MOSAIC_CENTRE` (RA 0, Dec +20), named
``calexp-r-m<NNN>.fits`` (:data:`MOSAIC_NAME_PATTERN`).  Neighbours overlap
by about 16% of their width (32″), the western pair lies at RA ≈ 359.97 and
the eastern at RA ≈ 0.03, so every mosaic of the field crosses RA = 0.  The
visits were taken one after another on one night as the Moon rose: their sky
levels differ by 120 to 380 adu (5 to 17 times the noise of a pixel), each
sky has its own
small tilt (:mod:`skycut.sample.rendering`), and each pointing is rotated
by its own fraction of a degree, so the seams are there to be matched away
and no two pixel grids line up.

Like :data:`skycut.sample.exposures.EXPOSURES` the visits are a fixed
design; the survey's seed changes the stars and the noise only.
"""

from __future__ import annotations

import math

from skycut.sample.exposures import Exposure

__all__ = ["MOSAIC_CENTRE", "MOSAIC_EXPOSURES", "MOSAIC_NAME_PATTERN", "MOSAIC_SIZE"]

#: Centre (ICRS degrees) of the 2 x 2 pattern.
MOSAIC_CENTRE = (0.0, 20.0)

#: Width and height of the images at full scale.
MOSAIC_SIZE = 1024

#: A glob (:func:`fnmatch.fnmatchcase`) matching the names of this field's images only.
MOSAIC_NAME_PATTERN = "calexp-?-m[0-9][0-9][0-9].fits"

_STEP_DEG = 0.048  # between neighbouring pointings: 864 full-scale pixels of 1024
# (east, north) steps from the centre, sky level (adu), rotation (degrees), seeing (arcsec)
_VISITS = (
    ((-0.5, -0.5), 700.0, 0.6, 0.74),
    ((0.5, -0.5), 950.0, -0.9, 0.81),
    ((-0.5, 0.5), 820.0, 1.4, 0.70),
    ((0.5, 0.5), 1080.0, -0.4, 0.86),
)
_FIRST_MJD = 61030.1  # 2026-12-21, UTC 02:24
_SPACING_DAYS = 0.0014  # two minutes between visits


def _visits() -> tuple[Exposure, ...]:
    ra0, dec0 = MOSAIC_CENTRE
    exposures = []
    for k, ((east, north), sky, rotation, seeing) in enumerate(_VISITS):
        dec = dec0 + north * _STEP_DEG
        ra = (ra0 + east * _STEP_DEG / math.cos(math.radians(dec0))) % 360.0
        exposures.append(
            Exposure(
                name=f"calexp-r-m{k + 1:03d}.fits",
                crval=(round(ra, 6), round(dec, 6)),
                rotation=rotation,
                band="r",
                mjd=round(_FIRST_MJD + k * _SPACING_DAYS, 5),
                sky=sky,
                seeing=seeing,
                size=MOSAIC_SIZE,
                obj="MOSAIC0",
            )
        )
    return tuple(exposures)


#: The four visits, in time order (each one's index seeds its noise).
MOSAIC_EXPOSURES = _visits()
