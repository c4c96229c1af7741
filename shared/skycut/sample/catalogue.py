"""The star catalogue of the sample survey: drawn from the seed, written as CSV.

Positions and magnitudes are rounded as ``stars.csv`` writes them, so the
images (:mod:`skycut.sample.rendering`) show exactly the catalogued stars.
A field may have a variable star at its centre, catalogued at its mean
magnitude with no other star within 12″ (:mod:`skycut.sample.variables`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skycut.sample.epochs import TARGET, TARGET_CURVE
from skycut.sample.mosaic_field import MOSAIC_CENTRE
from skycut.sample.variables import LightCurve, VariableStar

__all__ = [
    "FIELDS",
    "CatalogueStar",
    "Field",
    "make_catalogue",
    "read_catalogue",
    "write_catalogue",
]


@dataclass(frozen=True)
class CatalogueStar:
    """One row of the star catalogue (ICRS degrees, AB-like magnitude)."""

    id: int
    ra: float
    dec: float
    mag: float


@dataclass(frozen=True)
class Field:
    """A catalogue region: a box of half-width ``half_width`` degrees on the sky.

    With a ``variable`` light curve, a variable star sits at the centre.
    """

    ra: float
    dec: float
    half_width: float
    n_stars: int
    n_bright: int
    variable: LightCurve | None = None


#: COSMOS-like field, a field straddling RA = 0, the field observed many times, and the
#: mosaic field (last, so the other fields' stars keep their ids; no bright star, so the
#: brightest star of the survey stays the one in the COSMOS-like field).
FIELDS = (
    Field(150.1, 2.2, 0.17, 1500, 4),
    Field(0.0, -30.0, 0.09, 420, 2),
    Field(*TARGET, 0.025, 200, 0, variable=TARGET_CURVE),
    Field(*MOSAIC_CENTRE, 0.065, 600, 0),
)

_CLEAR_ARCSEC = 12.0  # around a variable star, so its aperture photometry is clean


def make_catalogue(seed: int) -> tuple[list[CatalogueStar], list[VariableStar]]:
    """Draw the stars of every field: uniform on the sphere, Euclidean-ish counts.

    Returns
    -------
    tuple
        Every star, and the variable ones among them.

    """
    stars: list[CatalogueStar] = []
    variables: list[VariableStar] = []
    for index, field in enumerate(FIELDS):
        rng = np.random.default_rng([seed, 0, index])
        n = field.n_stars
        cos_dec = math.cos(math.radians(field.dec))
        ra = field.ra + rng.uniform(-1, 1, n) * field.half_width / cos_dec
        lo, hi = (math.sin(math.radians(field.dec + s * field.half_width)) for s in (-1, 1))
        dec = np.degrees(np.arcsin(rng.uniform(lo, hi, n)))
        # dN/dm ∝ 10^(0.3 m) between 16.5 and 24, plus a few bright (saturating) stars.
        a, b = 10 ** (0.3 * 16.5), 10 ** (0.3 * 24.0)
        mag = np.log10(a + rng.uniform(0, 1, n) * (b - a)) / 0.3
        mag[: field.n_bright] = rng.uniform(13.5, 15.5, field.n_bright)
        # Bright stars fall well inside the field so the images catch them.
        ra[: field.n_bright] = field.ra + rng.uniform(-0.5, 0.5, field.n_bright) * 0.1 / cos_dec
        dec[: field.n_bright] = field.dec + rng.uniform(-0.5, 0.5, field.n_bright) * 0.1
        if field.variable is not None:
            star = CatalogueStar(len(stars) + 1, field.ra, field.dec, field.variable.mean_mag)
            stars.append(star)
            variables.append(VariableStar(star.id, star.ra, star.dec, field.variable))
            clear = np.hypot((ra - field.ra) * cos_dec, dec - field.dec) * 3600 > _CLEAR_ARCSEC
            ra, dec, mag = ra[clear], dec[clear], mag[clear]
        for r, d, m in zip(ra, dec, mag, strict=True):
            # Round as written so the images show exactly the catalogued positions.
            stars.append(
                CatalogueStar(
                    len(stars) + 1,
                    float(f"{r % 360:.8f}") % 360,
                    float(f"{d:.8f}"),
                    float(f"{m:.3f}"),
                )
            )
    return stars, variables


def write_catalogue(path: Path, stars: Sequence[CatalogueStar]) -> None:
    """Write ``stars`` as CSV with ``id,ra,dec,mag`` columns."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["id", "ra", "dec", "mag"])
        writer.writerows([s.id, f"{s.ra:.8f}", f"{s.dec:.8f}", f"{s.mag:.3f}"] for s in stars)


def read_catalogue(path: Path) -> tuple[CatalogueStar, ...]:
    """Read the ``stars.csv`` written by :func:`skycut.sample.survey.generate_survey`."""
    with path.open(newline="") as f:
        return tuple(
            CatalogueStar(int(r["id"]), float(r["ra"]), float(r["dec"]), float(r["mag"]))
            for r in csv.DictReader(f)
        )
