"""What one cutout selects, and how it is delivered: the engine's request model.

A :class:`Selection` is one combination of filters (SODA 1.0 §6): at most one
stencil, one BAND and one TIME interval, and every POL value as one filter.
Its JSON form holds each filter as its SODA text, so it survives any JSON
encoder (no ``Infinity``) and parses back exactly.

Decisions:

- No stencil: the cutout covers the image's whole spatial extent (only the
  BAND, TIME or POL filters cut).
- A filter on an axis the image does not have cuts nothing, except that
  ``TIME`` is checked against the exposure the header records (see
  :mod:`skycut.cutout.axes`).
- Output detail (``DETAIL``): ``image`` (the default) cuts the image HDU;
  ``image,mask,variance`` adds the HDUs named ``MASK`` and ``VARIANCE``
  that exist; ``all`` cuts every image HDU with a celestial WCS that
  overlaps. Commas, not ``+``, because a ``+`` in a query string is a space.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from skycut.cutout.intervals import Interval, PolState, parse_band, parse_pol, parse_time
from skycut.cutout.stencil import Stencil, parse_stencil
from skycut.errors import UsageError

__all__ = [
    "DETAILS",
    "FITS",
    "JPEG",
    "PNG",
    "RESPONSE_FORMATS",
    "Detail",
    "ResponseFormat",
    "Selection",
]

Detail = Literal["image", "image,mask,variance", "all"]
DETAILS: tuple[Detail, ...] = get_args(Detail)

ResponseFormat = Literal["application/fits", "image/png", "image/jpeg"]
RESPONSE_FORMATS: tuple[ResponseFormat, ...] = get_args(ResponseFormat)
FITS: ResponseFormat = "application/fits"
PNG: ResponseFormat = "image/png"
JPEG: ResponseFormat = "image/jpeg"


@dataclass(frozen=True)
class Selection:
    """The filters of one cutout.

    Attributes
    ----------
    stencil
        The sky region, or `None` for the whole spatial extent.
    band
        Wavelength interval in metres, or `None`.
    time
        MJD (UTC) interval, or `None`.
    pol
        Polarization states to keep; empty keeps all.

    """

    stencil: Stencil | None = None
    band: Interval | None = None
    time: Interval | None = None
    pol: tuple[PolState, ...] = ()

    def to_params(self) -> list[tuple[str, str]]:
        """Return the selection as SODA parameters, e.g. ``[("POS", "CIRCLE 1 2 3")]``."""
        params = []
        if self.stencil is not None:
            params.append(("POS", self.stencil.to_soda()))
        if self.band is not None:
            params.append(("BAND", self.band.to_soda()))
        if self.time is not None:
            params.append(("TIME", self.time.to_soda()))
        params.extend(("POL", p) for p in self.pol)
        return params

    def describe(self) -> str:
        """Return the selection as one line of ``NAME=value`` words, for logs and provenance."""
        return " ".join(f"{k}={v}" for k, v in self.to_params()) or "(everything)"

    def to_json(self) -> dict[str, str | list[str] | None]:
        """Return a JSON-safe form: each filter as its SODA text."""
        return {
            "stencil": None if self.stencil is None else self.stencil.to_soda(),
            "band": None if self.band is None else self.band.to_soda(),
            "time": None if self.time is None else self.time.to_soda(),
            "pol": list(self.pol),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Selection:
        """Rebuild a selection from :meth:`to_json`'s form.

        Raises
        ------
        skycut.errors.UsageError
            If a value is malformed.

        """
        stencil, band, time, pol = (data.get(k) for k in ("stencil", "band", "time", "pol"))
        for value in (stencil, band, time):
            if value is not None and not isinstance(value, str):
                raise UsageError(f"selection values must be SODA text, got {value!r}")
        if not isinstance(pol, list | tuple | None):
            raise UsageError(f"selection pol must be a list, got {pol!r}")
        return cls(
            stencil=None if stencil is None else parse_stencil(str(stencil)),
            band=None if band is None else parse_band(str(band)),
            time=None if time is None else parse_time(str(time)),
            pol=tuple(parse_pol(str(p)) for p in pol or ()),
        )
