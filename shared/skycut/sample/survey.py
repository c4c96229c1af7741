"""A deterministic sample survey that looks like Rubin calexps and a deep coadd.

:func:`generate_survey` writes a handful of multi-extension FITS images
(``IMAGE``/``MASK``/``VARIANCE``, each with a TAN-SIP WCS) of two fields and
the star catalogue they were rendered from, so a cutout centred on a
catalogued star shows that star at its centre:

- COSMOS-like field around (150.1, +2.2): one 4096² deep coadd and three
  2048² calexps overlapping it and one another, each shifted and rotated;
- one 2048² calexp at (0.0, -30.0) whose footprint straddles RA = 0;
- ``calexp-r-0002-rice.fits``, a RICE_1 tile-compressed copy of
  ``calexp-r-0002.fits``.  The float planes are quantised to 1/16 of the
  background noise of each 256² tile with ``SUBTRACTIVE_DITHER_2`` and a dither
  seed derived from ``seed`` (the default seed comes from the clock, which
  would make the file differ between runs); ``MASK`` is compressed losslessly.

Output depends only on ``seed`` and ``size_scale`` (byte-identical files for
the same numpy and astropy on the same machine).  A ``manifest.json`` records
both with the generator version and every file's size; when it matches and
the files are there with those sizes, nothing is regenerated.  Every file is
written to a temporary name and renamed into place, the manifest last.

With ``size_scale`` below 1 the images have fewer, larger pixels over the same
sky, so the catalogue and the overlaps stay the same and unit tests stay fast.

This module puts the survey together: :mod:`skycut.sample.catalogue` draws
the stars, :mod:`skycut.sample.exposures` lists the images,
:mod:`skycut.sample.tan_sip` builds each one's WCS,
:mod:`skycut.sample.rendering` its pixels and :mod:`skycut.sample.headers`
its cards, :mod:`skycut.sample.fits_files` writes it and
:mod:`skycut.sample.manifest` records what was written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skycut.sample.atomic import atomic_path
from skycut.sample.catalogue import CatalogueStar, make_catalogue, read_catalogue, write_catalogue
from skycut.sample.exposures import EXPOSURES, PIXEL_SCALE_ARCSEC
from skycut.sample.fits_files import rice_compressed, write_fits
from skycut.sample.headers import PLANES, extension_header, primary_header
from skycut.sample.manifest import (
    GENERATOR_VERSION,
    SampleImage,
    SurveyManifest,
    read_manifest,
    write_manifest,
)
from skycut.sample.rendering import MASK_PLANES, render_planes
from skycut.sample.tan_sip import tan_sip_header

__all__ = [
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "MASK_PLANES",
    "PIXEL_SCALE_ARCSEC",
    "SMALL_SCALE",
    "CatalogueStar",
    "SampleImage",
    "SurveyManifest",
    "generate_survey",
    "read_catalogue",
]

DEFAULT_SEED = 20261121
SMALL_SCALE = 0.125

_CATALOGUE = "stars.csv"
_COMPRESSED = ("calexp-r-0002.fits", "calexp-r-0002-rice.fits")


def generate_survey(
    out_dir: Path, *, seed: int = DEFAULT_SEED, size_scale: float = 1.0
) -> SurveyManifest:
    """Write the sample survey into ``out_dir`` unless it is already there.

    Parameters
    ----------
    out_dir
        Directory for the FITS files, ``stars.csv`` and ``manifest.json``;
        created if missing.
    seed
        Seed of every random choice (catalogue, distortions, noise).
    size_scale
        Image size relative to full scale (4096² and 2048²); the sky covered
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
    if not 0 < size_scale <= 1 or round(2048 * size_scale) < 64:
        raise ValueError(f"size_scale must be in (0, 1] and keep images ≥ 64 px: {size_scale}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cached = read_manifest(out_dir, seed=seed, size_scale=size_scale)
    if cached is not None:
        return cached

    stars = make_catalogue(seed)
    with atomic_path(out_dir / _CATALOGUE) as tmp:
        write_catalogue(tmp, stars)
    images = []
    source, copy = _COMPRESSED
    for index, exposure in enumerate(EXPOSURES):
        rng = np.random.default_rng([seed, 1, index])
        size = round(exposure.size * size_scale)
        pixscale = PIXEL_SCALE_ARCSEC / size_scale
        wcs_header = tan_sip_header(exposure, size=size, pixscale=pixscale, rng=rng)
        data = render_planes(
            exposure, WCS(wcs_header), size=size, pixscale=pixscale, stars=stars, rng=rng
        )
        primary = fits.PrimaryHDU(header=primary_header(exposure, seed=seed, pixscale=pixscale))
        headers = [extension_header(wcs_header, name) for name in PLANES]
        planes = list(zip(data, headers, PLANES, strict=True))
        write_fits(out_dir / exposure.name, primary, [fits.ImageHDU(*plane) for plane in planes])
        images.append(SampleImage(exposure.name, out_dir / exposure.name, (size, size),
                                  exposure.crval, False))  # fmt: skip
        if exposure.name == source:
            hdus = [rice_compressed(*plane, dither_seed=1 + seed % 1000) for plane in planes]
            write_fits(out_dir / copy, primary, hdus)
            compressed = SampleImage(copy, out_dir / copy, (size, size), exposure.crval, True)
    images.append(compressed)

    manifest = SurveyManifest(tuple(images), out_dir / _CATALOGUE, seed, size_scale)
    write_manifest(out_dir, manifest)
    return manifest
