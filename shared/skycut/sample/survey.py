"""A deterministic sample survey that looks like Rubin calexps and a deep coadd.

:func:`generate_survey` writes multi-extension FITS images
(``IMAGE``/``MASK``/``VARIANCE``, each with a TAN-SIP WCS) of three fields,
the star catalogue they were rendered from, so a cutout centred on a
catalogued star shows that star at its centre, and the light curve of the
variable star among them (``variables.csv``):

- COSMOS-like field around (150.1, +2.2): one 4096² deep coadd and three
  2048² calexps overlapping it and one another, each shifted and rotated;
- one 2048² calexp at (0.0, -30.0) whose footprint straddles RA = 0;
- ``calexp-r-0002-rice.fits``, a RICE_1 tile-compressed copy of
  ``calexp-r-0002.fits``.  The float planes are quantised to 1/16 of the
  background noise of each 256² tile with ``SUBTRACTIVE_DITHER_2`` and a dither
  seed derived from ``seed`` (the default seed comes from the clock, which
  would make the file differ between runs); ``MASK`` is compressed losslessly;
- ECDFS-like field around (53.1, -27.8): 34 small (256²) calexps
  ``calexp-<band>-e<NNN>.fits`` in g, r, i and z over a year, dithered and
  rotated, all covering a variable star at (53.1, -27.8)
  (:mod:`skycut.sample.epochs`);
- a field for mosaics around (0.0, +20.0): four 1024² r calexps
  ``calexp-r-m<NNN>.fits`` in a 2 x 2 pattern across RA = 0, neighbours
  overlapping by about 16%, each on its own sky level and rotated a little
  (:mod:`skycut.sample.mosaic_field`).

Output depends only on ``seed`` and ``size_scale`` (byte-identical files for
the same numpy and astropy on the same machine).  A ``manifest.json`` records
both with the generator version and every file's size; when it matches and
the files are there with those sizes, nothing is regenerated.  Every file is
written to a temporary name and renamed into place, the manifest last.

With ``size_scale`` below 1 the images have fewer, larger pixels over the same
sky, so the catalogue and the overlaps stay the same and unit tests stay fast
(the ECDFS-like images keep at least 64² pixels).  The files are listed in the
order above, each new field after the others, so a name's place in the list
and the seeds of its noise do not move when a field is added.

This module puts the survey together: :mod:`skycut.sample.catalogue` draws
the stars, :mod:`skycut.sample.variables` records the variable ones,
:mod:`skycut.sample.exposures`, :mod:`skycut.sample.epochs` and
:mod:`skycut.sample.mosaic_field` list the images,
:mod:`skycut.sample.tan_sip` builds each one's WCS,
:mod:`skycut.sample.rendering` its pixels and :mod:`skycut.sample.headers`
its cards, :mod:`skycut.sample.fits_files` writes it and
:mod:`skycut.sample.manifest` records what was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from numpy.typing import NDArray

from skycut.sample.atomic import atomic_path
from skycut.sample.catalogue import CatalogueStar, make_catalogue, read_catalogue, write_catalogue
from skycut.sample.epochs import EPOCH_EXPOSURES, EPOCH_NAME_PATTERN, TARGET, epoch_grid
from skycut.sample.exposures import EXPOSURES, PIXEL_SCALE_ARCSEC, Exposure
from skycut.sample.fits_files import rice_compressed, write_fits
from skycut.sample.headers import PLANES, extension_header, primary_header
from skycut.sample.manifest import (
    GENERATOR_VERSION,
    SampleImage,
    SurveyManifest,
    read_manifest,
    write_manifest,
)
from skycut.sample.mosaic_field import MOSAIC_EXPOSURES, MOSAIC_NAME_PATTERN
from skycut.sample.rendering import MASK_PLANES, render_planes
from skycut.sample.tan_sip import tan_sip_header
from skycut.sample.variables import VariableStar, read_variables, write_variables

__all__ = [
    "DEFAULT_SEED",
    "EPOCH_NAME_PATTERN",
    "GENERATOR_VERSION",
    "MASK_PLANES",
    "MOSAIC_NAME_PATTERN",
    "PIXEL_SCALE_ARCSEC",
    "SMALL_SCALE",
    "TARGET",
    "CatalogueStar",
    "SampleImage",
    "SurveyManifest",
    "VariableStar",
    "generate_survey",
    "read_catalogue",
    "read_variables",
]

DEFAULT_SEED = 20261121
SMALL_SCALE = 0.125

_CATALOGUE = "stars.csv"
_VARIABLES = "variables.csv"
_Plane = tuple[NDArray[Any], fits.Header, str]
_COMPRESSED = ("calexp-r-0002.fits", "calexp-r-0002-rice.fits")


def generate_survey(
    out_dir: Path, *, seed: int = DEFAULT_SEED, size_scale: float = 1.0
) -> SurveyManifest:
    """Write the sample survey into ``out_dir`` unless it is already there.

    Parameters
    ----------
    out_dir
        Directory for the FITS files, ``stars.csv``, ``variables.csv`` and
        ``manifest.json``; created if missing.
    seed
        Seed of every random choice (catalogue, distortions, noise).
    size_scale
        Image size relative to full scale (4096², 2048², 1024² and 256²); the sky covered
        stays the same, the pixels get larger.  :data:`SMALL_SCALE` is meant
        for unit tests.

    Returns
    -------
    SurveyManifest
        The images and the catalogue.

    Raises
    ------
    ValueError
        ``size_scale`` is not in (0, 1] or makes images smaller than 64².

    """
    if not 0 < size_scale <= 1 or round(1024 * size_scale) < 64:
        raise ValueError(f"size_scale must be in (0, 1] and keep images ≥ 64 px: {size_scale}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cached = read_manifest(out_dir, seed=seed, size_scale=size_scale)
    if cached is not None:
        return cached

    stars, variables = make_catalogue(seed)
    with atomic_path(out_dir / _CATALOGUE) as tmp:
        write_catalogue(tmp, stars)
    with atomic_path(out_dir / _VARIABLES) as tmp:
        write_variables(tmp, variables)
    images = []
    source, copy = _COMPRESSED
    pixscale = PIXEL_SCALE_ARCSEC / size_scale
    for index, exposure in enumerate(EXPOSURES):
        rng = np.random.default_rng([seed, 1, index])
        size = round(exposure.size * size_scale)
        primary, planes = _render(exposure, size, pixscale, stars=stars, rng=rng, seed=seed)
        images.append(_write_plain(out_dir / exposure.name, exposure, primary, planes))
        if exposure.name == source:
            hdus = [rice_compressed(*plane, dither_seed=1 + seed % 1000) for plane in planes]
            write_fits(out_dir / copy, primary, hdus)
            compressed = SampleImage(copy, out_dir / copy, (size, size), exposure.crval, True)
    images.append(compressed)

    size, pixscale = epoch_grid(size_scale)
    for index, exposure in enumerate(EPOCH_EXPOSURES):
        rng = np.random.default_rng([seed, 2, index])
        seen = _at_epoch(stars, variables, exposure.mjd)
        primary, planes = _render(exposure, size, pixscale, stars=seen, rng=rng, seed=seed)
        images.append(_write_plain(out_dir / exposure.name, exposure, primary, planes))

    pixscale = PIXEL_SCALE_ARCSEC / size_scale
    for index, exposure in enumerate(MOSAIC_EXPOSURES):
        rng = np.random.default_rng([seed, 3, index])
        size = round(exposure.size * size_scale)
        primary, planes = _render(exposure, size, pixscale, stars=stars, rng=rng, seed=seed)
        images.append(_write_plain(out_dir / exposure.name, exposure, primary, planes))

    manifest = SurveyManifest(
        tuple(images), out_dir / _CATALOGUE, out_dir / _VARIABLES, seed, size_scale
    )
    write_manifest(out_dir, manifest)
    return manifest


def _render(
    exposure: Exposure,
    size: int,
    pixscale: float,
    *,
    stars: Sequence[CatalogueStar],
    rng: np.random.Generator,
    seed: int,
) -> tuple[fits.PrimaryHDU, list[_Plane]]:
    """Build one image's WCS, pixels and headers; return its primary HDU and planes."""
    wcs_header = tan_sip_header(exposure, size=size, pixscale=pixscale, rng=rng)
    data = render_planes(
        exposure, WCS(wcs_header), size=size, pixscale=pixscale, stars=stars, rng=rng
    )
    primary = fits.PrimaryHDU(header=primary_header(exposure, seed=seed, pixscale=pixscale))
    headers = [extension_header(wcs_header, name) for name in PLANES]
    return primary, list(zip(data, headers, PLANES, strict=True))


def _write_plain(
    path: Path, exposure: Exposure, primary: fits.PrimaryHDU, planes: list[_Plane]
) -> SampleImage:
    """Write one image uncompressed to ``path`` and describe it."""
    write_fits(path, primary, [fits.ImageHDU(*plane) for plane in planes])
    ny, nx = planes[0][0].shape
    return SampleImage(path.name, path, (ny, nx), exposure.crval, False)


def _at_epoch(
    stars: Sequence[CatalogueStar], variables: Sequence[VariableStar], mjd: float
) -> list[CatalogueStar]:
    """Return the catalogue with each variable star at its magnitude at ``mjd``."""
    curves = {v.id: v.curve for v in variables}
    return [replace(s, mag=curves[s.id].magnitude(mjd)) if s.id in curves else s for s in stars]
