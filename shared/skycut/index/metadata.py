"""The ObsCore-like facts of an image HDU, read from its headers.

- **band** (``em_min``, ``em_max``, vacuum wavelength in metres): the
  extent of the spectral axis if the image has one (pixel edges, any
  spectral type astropy converts to wavelength), else the ``FILTER`` (or
  ``BANDPASS``) card through a filter table (:mod:`skycut.index.bands`);
  unknown otherwise.
- **time** (``t_min``, ``t_max`` in MJD UTC, ``t_exptime`` in seconds):
  the exposure as :func:`skycut.cutout.axes.exposure_mjd` reads it
  (``MJD-BEG``/``MJD-END``, ``DATE-BEG``/``DATE-END``, ``MJD-OBS`` or
  ``DATE-OBS`` plus ``EXPTIME``, in ``TIMESYS``); ``t_exptime`` is
  ``EXPTIME``, ``XPOSURE`` or ``TELAPSE``, else the span. A time scale
  that cannot be related to UTC leaves the time unknown rather than the
  image unindexed.
- **pol_states**: the Stokes axis's planes, if there is one.
- **dataproduct_type**: ``cube`` if an axis besides the two celestial
  ones has more than one pixel, else ``image``.
- **calib_level**: the ``CALIBLEV`` card if it holds 0 to 4; else the
  level of the collection rule that named the image, if it sets one;
  else 3 for an image combined from several exposures (``NCOMBINE`` > 1)
  and 2 (calibrated, science-ready) for any other image with a celestial
  WCS, which every indexed image has.
- **obs_collection**: from where the image is stored
  (:mod:`skycut.index.collection`).
- **instrument_name**, **facility_name**: ``INSTRUME`` and ``TELESCOP``.
- **target_name**: ``OBJECT``.

Every card is looked for in the HDU's header, then in the headers it
inherits (the primary header).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from skycut.collection_rules import CollectionRule
from skycut.cutout.axes import axis_kind, exposure_mjd
from skycut.cutout.intervals import STOKES_CODES
from skycut.errors import UnsupportedSourceError
from skycut.index.bands import DEFAULT_FILTERS, filter_band
from skycut.index.collection import collection_of

__all__ = ["ImageMetadata", "MetadataConfig", "image_metadata"]

_DURATIONS = ("EXPTIME", "XPOSURE", "TELAPSE")
_STOKES_NAMES = {code: name for name, code in STOKES_CODES.items()}


@dataclass(frozen=True)
class MetadataConfig:
    """How to name bands and collections.

    Attributes
    ----------
    filters
        Filter name → ``(em_min, em_max)`` in metres.
    collections
        Rules naming the collection of images by where they are stored.

    """

    filters: Mapping[str, tuple[float, float]] = field(default_factory=lambda: DEFAULT_FILTERS)
    collections: Sequence[CollectionRule] = ()


@dataclass(frozen=True)
class ImageMetadata:
    """The ObsCore-like facts of one image HDU (see the module for each rule).

    Attributes
    ----------
    dataproduct_type
        ``image`` or ``cube``.
    calib_level
        ObsCore calibration level, 0 to 4.
    obs_collection
        The collection's name.
    em_min, em_max
        Vacuum wavelength range in metres, or `None`.
    filter_name
        The header's filter name, if the band came from it.
    t_min, t_max
        Exposure start and end in MJD UTC, or `None`.
    t_exptime
        Exposure time in seconds, or `None`.
    pol_states
        Stokes parameter names (``I``, ``Q``, ...) of a Stokes axis, or empty.
    instrument_name, facility_name
        ``INSTRUME`` and ``TELESCOP``, or `None`.
    target_name
        ``OBJECT``, or `None`.

    """

    dataproduct_type: Literal["image", "cube"]
    calib_level: int
    obs_collection: str
    em_min: float | None = None
    em_max: float | None = None
    filter_name: str | None = None
    t_min: float | None = None
    t_max: float | None = None
    t_exptime: float | None = None
    pol_states: tuple[str, ...] = ()
    instrument_name: str | None = None
    facility_name: str | None = None
    target_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Render as Firestore values (strings, numbers, `None`, a list of strings)."""
        data = asdict(self)
        data["pol_states"] = list(self.pol_states)
        return data


class _Cards:
    """Card lookup in an HDU's header, then in the headers it inherits."""

    def __init__(self, headers: Sequence[fits.Header]) -> None:
        self.headers = headers

    def get(self, key: str) -> object:
        return next((h[key] for h in self.headers if key in h), None)

    def text(self, key: str) -> str | None:
        value = self.get(key)
        return value.strip() or None if isinstance(value, str) else None

    def number(self, key: str) -> float | None:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None


def _wcs(header: fits.Header) -> WCS | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            return WCS(header)
    except (ValueError, KeyError, TypeError, MemoryError):
        return None


def _spectral_range(wcs: WCS, axis: int, length: int) -> tuple[float, float] | None:
    """Vacuum wavelength range (m) of a spectral axis's pixel edges, if astropy converts it.

    Frequencies, energies and wavenumbers convert directly, velocities
    through the header's rest frequency or wavelength; the spectral
    reference frame is taken as is.
    """
    spectral = wcs.sub([axis + 1])
    edges = np.arange(length + 1, dtype=np.float64) - 0.5
    try:
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", AstropyWarning)  # no observer: frame taken as is
            coord = spectral.pixel_to_world(edges)
            wave = np.asarray(coord.to_value(u.m), dtype=np.float64)
    except (ValueError, TypeError, AttributeError):
        return None
    if not np.isfinite(wave).all():
        return None
    return float(wave.min()), float(wave.max())


def _stokes(wcs: WCS, axis: int, length: int) -> tuple[str, ...]:
    stokes = wcs.sub([axis + 1])
    codes = np.rint(stokes.pixel_to_world_values(np.arange(length, dtype=np.float64)))
    return tuple(_STOKES_NAMES[int(c)] for c in np.atleast_1d(codes) if int(c) in _STOKES_NAMES)


def _calib_level(cards: _Cards, rule: CollectionRule | None) -> int:
    declared = cards.get("CALIBLEV")
    if isinstance(declared, int) and not isinstance(declared, bool) and 0 <= declared <= 4:
        return declared
    if rule is not None and rule.calib_level is not None:
        return rule.calib_level
    combined = cards.number("NCOMBINE")
    return 3 if combined is not None and combined > 1 else 2


def image_metadata(
    header: fits.Header,
    *,
    uri: str,
    inherited: Sequence[fits.Header] = (),
    config: MetadataConfig | None = None,
) -> ImageMetadata:
    """Read the ObsCore-like facts of an image HDU.

    Parameters
    ----------
    header
        The HDU's header as an uncompressed image carries it.
    uri
        The image's ID, ``gs://bucket/object``, for its collection and messages.
    inherited
        Headers the HDU inherits (the primary header), searched after ``header``.
    config
        Filter table and collection rules; the defaults if `None`.

    Returns
    -------
    ImageMetadata
        The facts; those the headers do not give are `None` or empty.

    """
    config = config or MetadataConfig()
    cards = _Cards([header, *inherited])
    naxis = header.get("NAXIS", 0)
    lengths = [
        int(header.get(f"NAXIS{k + 1}", 1)) for k in range(naxis if isinstance(naxis, int) else 0)
    ]
    wcs = _wcs(header)
    celestial = {wcs.wcs.lng, wcs.wcs.lat} if wcs is not None and wcs.has_celestial else set()
    band: tuple[float, float] | None = None
    filter_name = None
    pol: tuple[str, ...] = ()
    for axis, length in enumerate(lengths):
        if wcs is None or axis >= wcs.naxis or axis in celestial:
            continue
        kind = axis_kind(wcs, axis)
        if kind == "spectral":
            band = _spectral_range(wcs, axis, length)
        elif kind == "stokes":
            pol = _stokes(wcs, axis, length)
    if band is None:
        filter_name = cards.text("FILTER") or cards.text("BANDPASS")
        band = filter_band(filter_name, config.filters) if filter_name else None
        if band is None:
            filter_name = None
    try:
        exposure = exposure_mjd(cards.headers, source=uri)
    except UnsupportedSourceError:
        exposure = None
    exptime = next((d for d in map(cards.number, _DURATIONS) if d is not None), None)
    if exptime is None and exposure is not None and exposure[1] > exposure[0]:
        exptime = (exposure[1] - exposure[0]) * 86400.0
    collection, rule = collection_of(uri, config.collections)
    others = [n for k, n in enumerate(lengths) if k not in celestial]
    return ImageMetadata(
        dataproduct_type="cube" if any(n > 1 for n in others) else "image",
        calib_level=_calib_level(cards, rule),
        obs_collection=collection,
        em_min=None if band is None else band[0],
        em_max=None if band is None else band[1],
        filter_name=filter_name,
        t_min=None if exposure is None else exposure[0],
        t_max=None if exposure is None else exposure[1],
        t_exptime=exptime,
        pol_states=pol,
        instrument_name=cards.text("INSTRUME"),
        facility_name=cards.text("TELESCOP"),
        target_name=cards.text("OBJECT"),
    )
