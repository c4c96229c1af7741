"""One field of the sample survey observed many times over a year: the visits and the target.

The ECDFS-like field at :data:`TARGET` (RA 53.1, Dec -27.8) has
:data:`EPOCH_EXPOSURES`, small calexps (256² pixels of 0.2″ at full scale)
named ``calexp-<band>-e<NNN>.fits`` (:data:`EPOCH_NAME_PATTERN`), numbered
in time order.  Their visits are spread over a year as a survey's would be:
one season from January to February and one from August to December (the
field is too close to the Sun in between), most nights one visit, a few
nights one visit in each of g, r, i and z.  Every pointing is dithered by up
to 18″ from the target and rotated by up to 2°, so each image covers the
target with at least 7″ to spare.

The target is a variable star, drawn at its magnitude on :data:`TARGET_CURVE`
at each visit's ``MJD-OBS`` (:mod:`skycut.sample.variables`).

The visits are a fixed design, like :data:`skycut.sample.exposures.EXPOSURES`:
the survey's seed changes the stars and the noise, not when or where the
field was observed.
"""

from __future__ import annotations

import math

import numpy as np

from skycut.sample.exposures import PIXEL_SCALE_ARCSEC, Exposure
from skycut.sample.variables import LightCurve

__all__ = [
    "EPOCH_EXPOSURES",
    "EPOCH_NAME_PATTERN",
    "EPOCH_SIZE",
    "TARGET",
    "TARGET_CURVE",
    "epoch_grid",
]

#: Position (ICRS degrees) that every image of the field covers: the variable star.
TARGET = (53.1, -27.8)

#: The light curve of the star at :data:`TARGET`: 17.25 to 18.75 mag every 37.5 days.
TARGET_CURVE = LightCurve(mean_mag=18.0, amplitude=1.5, period=37.5, t0=61047.25)

#: Width and height of the images at full scale.
EPOCH_SIZE = 256

#: A glob (:func:`fnmatch.fnmatchcase`) matching the names of this field's images only.
EPOCH_NAME_PATTERN = "calexp-?-e[0-9][0-9][0-9].fits"

_MIN_SIZE = 64
_START_MJD = 61041.0  # 2026-01-01
_SEASONS = ((0, 55), (215, 364))  # days after _START_MJD when the field is up at night
_NIGHTS = 22
_MULTI_NIGHTS = 4  # nights with one visit per band
_MAX_DITHER_ARCSEC = 18.0
_MAX_ROTATION_DEG = 2.0
_VISIT_SPACING_DAYS = 0.0125  # 18 minutes between the visits of one night
_BANDS = {  # sky level (adu) and zero point of each band on a dark night
    "g": (450.0, 30.8),
    "r": (800.0, 31.0),
    "i": (1100.0, 30.9),
    "z": (1500.0, 30.5),
}
_SINGLE_BAND_ODDS = (0.2, 0.35, 0.3, 0.15)
_SCHEDULE_SEED = 53


def epoch_grid(size_scale: float) -> tuple[int, float]:
    """Return the size in pixels and the pixel scale in arcsec of this field's images.

    The images cover the same sky at every scale; they have
    ``EPOCH_SIZE * size_scale`` pixels a side but never fewer than 64, so a
    small survey still resolves the star's neighbourhood.
    """
    size = max(round(EPOCH_SIZE * size_scale), _MIN_SIZE)
    return size, PIXEL_SCALE_ARCSEC * EPOCH_SIZE / size


def _visits() -> tuple[Exposure, ...]:
    rng = np.random.default_rng(_SCHEDULE_SEED)
    days = np.concatenate([np.arange(lo, hi + 1) for lo, hi in _SEASONS])
    nights = np.sort(rng.choice(days, _NIGHTS, replace=False))
    multi = set(rng.choice(nights, _MULTI_NIGHTS, replace=False).tolist())
    bands = list(_BANDS)
    ra0, dec0 = TARGET
    exposures: list[Exposure] = []
    for night in nights.tolist():
        start = _START_MJD + night + rng.uniform(0.02, 0.30)  # UTC 00:30 to 07:10, Chile
        visit_bands = bands if night in multi else [str(rng.choice(bands, p=_SINGLE_BAND_ODDS))]
        for k, band in enumerate(visit_bands):
            radius = _MAX_DITHER_ARCSEC * math.sqrt(rng.uniform()) / 3600
            angle = rng.uniform(0, 2 * math.pi)
            sky, zeropoint = _BANDS[band]
            ra = ra0 + radius * math.cos(angle) / math.cos(math.radians(dec0))
            exposures.append(
                Exposure(
                    name=f"calexp-{band}-e{len(exposures) + 1:03d}.fits",
                    crval=(round(ra, 6), round(dec0 + radius * math.sin(angle), 6)),
                    rotation=round(rng.uniform(-_MAX_ROTATION_DEG, _MAX_ROTATION_DEG), 2),
                    band=band,
                    mjd=round(start + k * _VISIT_SPACING_DAYS, 5),
                    sky=round(sky * rng.uniform(0.8, 1.4), 1),  # the Moon
                    seeing=round(rng.uniform(0.6, 1.1), 2),
                    size=EPOCH_SIZE,
                    obj="ECDFS",
                    zeropoint=zeropoint,
                )
            )
    return tuple(exposures)


#: Every visit of the field, in time order (each one's index seeds its noise).
EPOCH_EXPOSURES = _visits()
