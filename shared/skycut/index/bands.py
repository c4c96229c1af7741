"""Wavelength ranges of photometric filters, for images whose header names a filter.

An image without a spectral axis says its band through ``FILTER`` (or
``BANDPASS``); :data:`DEFAULT_FILTERS` turns the common names into an
ObsCore ``em_min``/``em_max`` in metres (vacuum wavelength). The defaults:

- ``u g r i z y``: 0.320 to 0.400, 0.400 to 0.552, 0.552 to 0.691, 0.691 to
  0.818, 0.818 to 0.922 and 0.950 to 1.080 µm, the Rubin/LSST filters'
  approximate half-maximum edges (SDSS's u g r i are close to these; its
  z reaches further red);
- ``J H Ks``: 1.154 to 1.316, 1.537 to 1.788 and 2.028 to 2.290 µm, the
  2MASS isophotal wavelengths ± half the bandwidths (Cohen, Wheaton &
  Megeath 2003).

Pass another mapping to use other names or ranges. A header's value is
looked up as written (spaces trimmed), then by its first token before a
space, ``_`` or ``-`` (``r_57``, ``g DECam``); case matters, since ``R``
(Johnson) is not ``r``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["DEFAULT_FILTERS", "filter_band", "filter_table"]

_UM = 1e-6
DEFAULT_FILTERS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "u": (0.320 * _UM, 0.400 * _UM),
        "g": (0.400 * _UM, 0.552 * _UM),
        "r": (0.552 * _UM, 0.691 * _UM),
        "i": (0.691 * _UM, 0.818 * _UM),
        "z": (0.818 * _UM, 0.922 * _UM),
        "y": (0.950 * _UM, 1.080 * _UM),
        "J": (1.154 * _UM, 1.316 * _UM),
        "H": (1.537 * _UM, 1.788 * _UM),
        "Ks": (2.028 * _UM, 2.290 * _UM),
    }
)
"""Filter name → ``(em_min, em_max)`` in metres."""


def filter_table(
    extra: Mapping[str, tuple[float, float]],
) -> dict[str, tuple[float, float]]:
    """Return a deployment's filter table: the built-in one with ``extra`` on top."""
    return {**DEFAULT_FILTERS, **extra}


_SEPARATORS = re.compile(r"[\s_-]")


def filter_band(
    name: str, table: Mapping[str, tuple[float, float]] = DEFAULT_FILTERS
) -> tuple[float, float] | None:
    """Return the wavelength range (metres) of a filter name, or `None` if unknown."""
    value = name.strip()
    if value in table:
        return table[value]
    first = _SEPARATORS.split(value, maxsplit=1)[0]
    return table.get(first) if first else None
