"""Variable stars of the sample survey: their light curves, written as ``variables.csv``.

A variable star is also a row of ``stars.csv``, whose ``mag`` is its mean
magnitude; ``variables.csv`` gives its light curve, the same in every band::

    mag(t) = mean_mag - amplitude / 2 * cos(2 pi (t - t0) / period)

with ``t`` the ``MJD-OBS`` of an image, ``amplitude`` peak to peak in
magnitudes and ``t0`` the MJD of a maximum of brightness.  An image is
rendered with the star at ``mag(MJD-OBS)``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LightCurve", "VariableStar", "read_variables", "write_variables"]

_COLUMNS = ["id", "ra", "dec", "mean_mag", "amplitude", "period", "t0"]


@dataclass(frozen=True, kw_only=True)
class LightCurve:
    """A sinusoidal light curve (magnitudes, days, MJD).

    Attributes
    ----------
    mean_mag
        Mean magnitude, the catalogue's ``mag``.
    amplitude
        Peak-to-peak amplitude in magnitudes.
    period
        Period in days.
    t0
        MJD of a maximum of brightness.

    """

    mean_mag: float
    amplitude: float
    period: float
    t0: float

    def magnitude(self, mjd: float) -> float:
        """Return the magnitude at ``mjd``."""
        phase = 2 * math.pi * (mjd - self.t0) / self.period
        return self.mean_mag - self.amplitude / 2 * math.cos(phase)


@dataclass(frozen=True)
class VariableStar:
    """A catalogued star (its ``id`` in ``stars.csv``) whose brightness follows ``curve``."""

    id: int
    ra: float
    dec: float
    curve: LightCurve


def write_variables(path: Path, variables: Sequence[VariableStar]) -> None:
    """Write ``variables`` as CSV with ``id,ra,dec,mean_mag,amplitude,period,t0`` columns."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(_COLUMNS)
        for v in variables:
            c = v.curve
            writer.writerow([v.id, f"{v.ra:.8f}", f"{v.dec:.8f}", f"{c.mean_mag:.3f}",
                             f"{c.amplitude:.3f}", f"{c.period:.5f}", f"{c.t0:.5f}"])  # fmt: skip


def read_variables(path: Path) -> tuple[VariableStar, ...]:
    """Read the ``variables.csv`` written by :func:`skycut.sample.survey.generate_survey`."""
    with path.open(newline="") as f:
        return tuple(
            VariableStar(
                int(r["id"]),
                float(r["ra"]),
                float(r["dec"]),
                LightCurve(
                    mean_mag=float(r["mean_mag"]),
                    amplitude=float(r["amplitude"]),
                    period=float(r["period"]),
                    t0=float(r["t0"]),
                ),
            )
            for r in csv.DictReader(f)
        )
