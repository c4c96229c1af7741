"""The sky regions a cutout is cut to (SODA 1.0 §3.3.3 stencils)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from skycut.errors import UsageError

__all__ = ["Circle"]


@dataclass(frozen=True)
class Circle:
    """A CIRCLE stencil: a cone on the ICRS sky.

    Parameters
    ----------
    ra
        Right ascension of the centre, in degrees.
    dec
        Declination of the centre, in degrees, in ``[-90, 90]``.
    radius
        Angular radius, in degrees, in ``(0, 180]``.

    Raises
    ------
    skycut.errors.UsageError
        If a value is not finite or out of range.

    """

    ra: float
    dec: float
    radius: float

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.ra, self.dec, self.radius)):
            raise UsageError(f"CIRCLE values must be finite: {self.to_soda()}")
        if not -90.0 <= self.dec <= 90.0:
            raise UsageError(f"CIRCLE declination {self.dec!r} is outside [-90, 90]")
        if not 0.0 < self.radius <= 180.0:
            raise UsageError(f"CIRCLE radius {self.radius!r} is outside (0, 180]")

    def to_soda(self) -> str:
        """Render as the SODA ``CIRCLE`` parameter value.

        Returns
        -------
        str
            ``"CIRCLE ra dec radius"``, each value in its shortest exact form.

        """
        # float() first: numpy scalars' repr is "np.float64(...)".
        values = (repr(float(v)) for v in (self.ra, self.dec, self.radius))
        return "CIRCLE " + " ".join(values)
