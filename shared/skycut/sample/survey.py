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
"""

from __future__ import annotations

import csv
import json
import math
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from numpy.typing import NDArray

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

GENERATOR_VERSION = "1"
DEFAULT_SEED = 20261121
SMALL_SCALE = 0.125
PIXEL_SCALE_ARCSEC = 0.2
#: Bit numbers of the mask planes, as LSST writes them in ``MP_*`` cards.
MASK_PLANES = {"BAD": 0, "SAT": 1, "INTRP": 2, "CR": 3, "EDGE": 4, "DETECTED": 5, "NO_DATA": 8}

_MANIFEST = "manifest.json"
_CATALOGUE = "stars.csv"
_COMPRESSED = ("calexp-r-0002.fits", "calexp-r-0002-rice.fits")
_PLANES = ("IMAGE", "MASK", "VARIANCE")
_TILE = 256
_CORE_FRACTION = 0.85  # double-Gaussian PSF: a core and a 2.5x wider wing
_WING_WIDTH = 2.5
_SIP_ORDER = 3
_SIP_INVERSE_ORDER = 4
_Float64 = NDArray[np.float64]
_Float32 = NDArray[np.float32]


@dataclass(frozen=True)
class SampleImage:
    """One FITS file of the sample survey.

    Attributes
    ----------
    name
        File name inside the survey directory, e.g. ``calexp-r-0001.fits``.
    path
        Where the file is.
    shape
        ``(ny, nx)`` of every image plane.
    crval
        ``(ra, dec)`` of the WCS reference point in degrees.
    compressed
        Whether the planes are tile-compressed (``CompImageHDU``).

    """

    name: str
    path: Path
    shape: tuple[int, int]
    crval: tuple[float, float]
    compressed: bool


@dataclass(frozen=True)
class SurveyManifest:
    """What :func:`generate_survey` wrote.

    Attributes
    ----------
    images
        Every image file, in a fixed order.
    catalogue
        The star catalogue (CSV with ``id,ra,dec,mag``).
    seed
        The seed the survey was generated from.
    size_scale
        Image size relative to the full-size survey.

    """

    images: tuple[SampleImage, ...]
    catalogue: Path
    seed: int
    size_scale: float

    def image(self, name: str) -> SampleImage:
        """Return the image called ``name``.

        Raises
        ------
        KeyError
            There is no such image.

        """
        for image in self.images:
            if image.name == name:
                return image
        raise KeyError(name)


@dataclass(frozen=True)
class CatalogueStar:
    """One row of the star catalogue (ICRS degrees, AB-like magnitude)."""

    id: int
    ra: float
    dec: float
    mag: float


@dataclass(frozen=True)
class _Field:
    """A catalogue region: a box of half-width ``half_width`` degrees on the sky."""

    ra: float
    dec: float
    half_width: float
    n_stars: int
    n_bright: int


@dataclass(frozen=True, kw_only=True)
class _Exposure:
    """How one image is made (full-scale size; adu, arcsec, degrees)."""

    name: str
    crval: tuple[float, float]
    rotation: float
    band: str
    mjd: float
    sky: float
    seeing: float
    size: int = 2048
    obj: str = "COSMOS"
    exptime: float = 30.0
    gain: float = 1.6
    read_noise: float = 5.0
    zeropoint: float = 31.0
    saturation: float = 6.0e4
    coadd: bool = False


_FIELDS = (_Field(150.1, 2.2, 0.17, 1500, 4), _Field(0.0, -30.0, 0.09, 420, 2))
# fmt: off
_EXPOSURES = (
    _Exposure(name="deepcoadd-i-0001.fits", crval=(150.1, 2.2), rotation=0.0, band="i",
              mjd=61012.25, sky=300.0, seeing=0.75, size=4096, exptime=7200.0, gain=4.0,
              read_noise=2.0, zeropoint=32.0, saturation=4.0e5, coadd=True),
    _Exposure(name="calexp-r-0001.fits", crval=(150.05, 2.24), rotation=0.8, band="r",
              mjd=61011.21354, sky=800.0, seeing=0.72),
    _Exposure(name="calexp-r-0002.fits", crval=(150.14, 2.23), rotation=-1.2, band="r",
              mjd=61011.21412, sky=760.0, seeing=0.81),
    _Exposure(name="calexp-g-0003.fits", crval=(150.1, 2.15), rotation=2.0, band="g",
              mjd=61014.19877, sky=450.0, seeing=0.88, zeropoint=30.8),
    _Exposure(name="calexp-i-0004.fits", crval=(0.0, -30.0), rotation=0.5, band="i",
              mjd=61020.08913, sky=1100.0, seeing=0.69, obj="WRAP0", zeropoint=30.9),
)
# fmt: on


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
    cached = _read_manifest(out_dir, seed=seed, size_scale=size_scale)
    if cached is not None:
        return cached

    stars = _make_catalogue(seed)
    with _atomic(out_dir / _CATALOGUE) as tmp:
        _write_catalogue(tmp, stars)
    images = []
    source, copy = _COMPRESSED
    for index, exposure in enumerate(_EXPOSURES):
        rng = np.random.default_rng([seed, 1, index])
        size = round(exposure.size * size_scale)
        pixscale = PIXEL_SCALE_ARCSEC / size_scale
        wcs_header = _wcs_header(exposure, size=size, pixscale=pixscale, rng=rng)
        data = _render(
            exposure, WCS(wcs_header), size=size, pixscale=pixscale, stars=stars, rng=rng
        )
        primary = fits.PrimaryHDU(header=_primary_header(exposure, seed=seed, pixscale=pixscale))
        headers = [_extension_header(wcs_header, name) for name in _PLANES]
        planes = list(zip(data, headers, _PLANES, strict=True))
        _write(out_dir / exposure.name, primary, [fits.ImageHDU(*plane) for plane in planes])
        images.append(SampleImage(exposure.name, out_dir / exposure.name, (size, size),
                                  exposure.crval, False))  # fmt: skip
        if exposure.name == source:
            hdus = [_compress(*plane, dither_seed=1 + seed % 1000) for plane in planes]
            _write(out_dir / copy, primary, hdus)
            compressed = SampleImage(copy, out_dir / copy, (size, size), exposure.crval, True)
    images.append(compressed)

    manifest = SurveyManifest(tuple(images), out_dir / _CATALOGUE, seed, size_scale)
    _write_manifest(out_dir, manifest)
    return manifest


def read_catalogue(path: Path) -> tuple[CatalogueStar, ...]:
    """Read the ``stars.csv`` written by :func:`generate_survey`."""
    with path.open(newline="") as f:
        return tuple(
            CatalogueStar(int(r["id"]), float(r["ra"]), float(r["dec"]), float(r["mag"]))
            for r in csv.DictReader(f)
        )


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success."""
    # Not mkstemp: its 0600 mode would stick to the published file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _write(path: Path, primary: fits.PrimaryHDU, extensions: list[Any]) -> None:
    with _atomic(path) as tmp:
        fits.HDUList([primary, *extensions]).writeto(tmp, overwrite=True)


def _compress(
    data: NDArray[Any], header: fits.Header, name: str, *, dither_seed: int
) -> fits.CompImageHDU:
    """Tile-compress one plane with RICE_1; floats are quantised, integers lossless."""
    return fits.CompImageHDU(
        data,
        header=header,
        name=name,
        compression_type="RICE_1",
        tile_shape=(min(_TILE, data.shape[0]), min(_TILE, data.shape[1])),
        quantize_level=16.0,  # step = 1/16 of the tile's background noise
        quantize_method=2,  # SUBTRACTIVE_DITHER_2: zeros stay exact
        dither_seed=dither_seed,  # fixed, not the clock, so the file is reproducible
    )


def _manifest_json(manifest: SurveyManifest) -> dict[str, Any]:
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": manifest.seed,
        "size_scale": manifest.size_scale,
        "catalogue": {"name": manifest.catalogue.name, "bytes": manifest.catalogue.stat().st_size},
        "images": [
            {
                "name": i.name,
                "shape": list(i.shape),
                "crval": list(i.crval),
                "compressed": i.compressed,
                "bytes": i.path.stat().st_size,
            }
            for i in manifest.images
        ],
    }


def _write_manifest(out_dir: Path, manifest: SurveyManifest) -> None:
    text = json.dumps(_manifest_json(manifest), indent=2, sort_keys=True) + "\n"
    with _atomic(out_dir / _MANIFEST) as tmp:
        tmp.write_text(text)


def _read_manifest(out_dir: Path, *, seed: int, size_scale: float) -> SurveyManifest | None:
    """Return the manifest in ``out_dir`` if it describes this survey and its files exist."""
    try:
        doc = json.loads((out_dir / _MANIFEST).read_text())
        if (doc["generator_version"], doc["seed"], doc["size_scale"]) != (
            GENERATOR_VERSION,
            seed,
            size_scale,
        ):
            return None
        files = [doc["catalogue"], *doc["images"]]
        if any((out_dir / f["name"]).stat().st_size != f["bytes"] for f in files):
            return None
        images = tuple(
            SampleImage(
                i["name"],
                out_dir / i["name"],
                tuple(i["shape"]),
                tuple(i["crval"]),
                i["compressed"],
            )
            for i in doc["images"]
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return SurveyManifest(images, out_dir / doc["catalogue"]["name"], seed, size_scale)


def _make_catalogue(seed: int) -> list[CatalogueStar]:
    """Draw the stars of every field: uniform on the sphere, Euclidean-ish counts."""
    stars: list[CatalogueStar] = []
    for index, field in enumerate(_FIELDS):
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
    return stars


def _write_catalogue(path: Path, stars: Sequence[CatalogueStar]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["id", "ra", "dec", "mag"])
        writer.writerows([s.id, f"{s.ra:.8f}", f"{s.dec:.8f}", f"{s.mag:.3f}"] for s in stars)


def _monomials(u: _Float64, v: _Float64, order: int) -> list[tuple[int, int, _Float64]]:
    return [(p, t - p, u**p * v ** (t - p)) for t in range(order + 1) for p in range(t, -1, -1)]


def _wcs_header(
    exposure: _Exposure, *, size: int, pixscale: float, rng: np.random.Generator
) -> fits.Header:
    """Build a TAN-SIP WCS: a rotated CD matrix, cubic forward SIP and a fitted inverse."""
    half = size / 2
    header = fits.Header()
    header["WCSAXES"] = 2
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    header["CUNIT1"], header["CUNIT2"] = "deg", "deg"
    header["CRPIX1"] = header["CRPIX2"] = half + 0.5
    header["CRVAL1"], header["CRVAL2"] = exposure.crval
    theta, scale = math.radians(exposure.rotation), pixscale / 3600
    header["CD1_1"] = -scale * math.cos(theta)
    header["CD1_2"] = scale * math.sin(theta)
    header["CD2_1"] = scale * math.sin(theta)
    header["CD2_2"] = scale * math.cos(theta)
    header["RADESYS"], header["EQUINOX"] = "ICRS", 2000.0

    # Distortion of a few full-scale pixels at the image edge (fixed in arcsec
    # whatever size_scale is): random quadratic terms plus a radial cubic term.
    edge_px = 1.5 * size / exposure.size
    quad = rng.uniform(-1, 1, (2, 3)) * edge_px
    radial = rng.uniform(-1, 1) * edge_px
    forward = {
        "A": [
            *zip([(2, 0), (1, 1), (0, 2)], quad[0], strict=True),
            ((3, 0), radial),
            ((1, 2), radial),
        ],
        "B": [
            *zip([(2, 0), (1, 1), (0, 2)], quad[1], strict=True),
            ((2, 1), radial),
            ((0, 3), radial),
        ],
    }
    coeffs = {  # rounded as written, so that the fit below inverts what the file says
        key: {(p, q): float(f"{c / half ** (p + q):.10e}") for (p, q), c in terms}
        for key, terms in forward.items()
    }

    # Fit the inverse (AP, BP) on a grid a little larger than the image, in
    # units of ``half`` so the least-squares problem is well conditioned.
    grid = np.linspace(-1.1 * half, 1.1 * half, 45)
    u, v = (g.ravel() for g in np.meshgrid(grid, grid))
    big_u = u + sum(c * u**p * v**q for (p, q), c in coeffs["A"].items())
    big_v = v + sum(c * u**p * v**q for (p, q), c in coeffs["B"].items())
    terms = _monomials(big_u / half, big_v / half, _SIP_INVERSE_ORDER)
    design = np.stack([t for _, _, t in terms], axis=1)
    for key, target in (("AP", u - big_u), ("BP", v - big_v)):
        solution = np.linalg.lstsq(design, target / half, rcond=None)[0]
        coeffs[key] = {
            (p, q): float(f"{c * half ** (1 - p - q):.10e}")
            for (p, q, _), c in zip(terms, solution, strict=True)
        }

    for key in ("A", "B", "AP", "BP"):
        order = _SIP_ORDER if len(key) == 1 else _SIP_INVERSE_ORDER
        header[f"{key}_ORDER"] = order
        for (p, q), c in sorted(coeffs[key].items()):
            header[f"{key}_{p}_{q}"] = c
    return fits.Header.fromstring(header.tostring())  # exactly what the file will say


def _render(
    exposure: _Exposure,
    wcs: WCS,
    *,
    size: int,
    pixscale: float,
    stars: Sequence[CatalogueStar],
    rng: np.random.Generator,
) -> tuple[_Float32, NDArray[np.int32], _Float32]:
    """Render sky, stars and noise; return the image, mask and variance planes."""
    shape = (size, size)
    ra = np.radians([s.ra for s in stars])
    dec = np.radians([s.dec for s in stars])
    ra0, dec0 = (math.radians(c) for c in exposure.crval)
    cos_sep = np.sin(dec) * math.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    near = cos_sep > math.cos(math.radians(size * pixscale / 3600))  # > image diagonal
    x, y = wcs.all_world2pix(np.degrees(ra[near]), np.degrees(dec[near]), 0)
    flux = 10 ** (-0.4 * (np.array([s.mag for s in stars])[near] - exposure.zeropoint))

    coords = np.linspace(-1, 1, size, dtype=np.float32)
    tilt = rng.uniform(-0.02, 0.02, 2).astype(np.float32)
    sky = exposure.sky * (1 + tilt[0] * coords[None, :] + tilt[1] * coords[:, None])
    image = np.broadcast_to(sky, shape).astype(np.float32)
    sigma = max(exposure.seeing / pixscale / 2.3548, 1.0)
    noise = math.sqrt(exposure.sky / exposure.gain + exposure.read_noise**2)
    _add_stars(image, x, y, flux, sigma=sigma, bright=30 * noise)

    model_variance = np.maximum(image, 0) / exposure.gain + exposure.read_noise**2
    image += rng.standard_normal(shape, dtype=np.float32) * np.sqrt(model_variance)
    mask = np.zeros(shape, dtype=np.int32)
    saturated = image >= exposure.saturation
    image[saturated] = exposure.saturation
    mask[saturated] |= 1 << MASK_PLANES["SAT"]
    mask[image - sky > 5 * noise] |= 1 << MASK_PLANES["DETECTED"]
    # Rubin ISR output: the noise of the variance plane comes from the image.
    variance = (np.maximum(image, 0) / exposure.gain + exposure.read_noise**2).astype(np.float32)
    if not exposure.coadd:
        for col in rng.integers(8, size - 8, 2):
            start = int(rng.integers(0, size // 2))
            image[start:, col] = 0.5 * (image[start:, col - 1] + image[start:, col + 1])
            mask[start:, col] |= (1 << MASK_PLANES["BAD"]) | (1 << MASK_PLANES["INTRP"])
        for cy, cx, length in zip(
            rng.integers(0, size, 12),
            rng.integers(0, size - 4, 12),
            rng.integers(1, 5, 12),
            strict=True,
        ):
            mask[cy, cx : cx + length] |= 1 << MASK_PLANES["CR"]  # repaired cosmic rays
    return image, mask, variance


def _add_stars(
    image: _Float32, x: _Float64, y: _Float64, flux: _Float64, *, sigma: float, bright: float
) -> None:
    """Add double-Gaussian stars, each only into a stamp around its position."""
    ny, nx = image.shape
    wing = _WING_WIDTH * sigma
    peak = flux * _CORE_FRACTION / (2 * math.pi * sigma**2)
    radius = np.where(peak > bright, math.ceil(7 * wing), math.ceil(4 * wing))
    inside = (x > -radius) & (x < nx - 1 + radius) & (y > -radius) & (y < ny - 1 + radius)
    for r in np.unique(radius[inside]):
        sel = inside & (radius == r)
        cx, cy = np.rint(x[sel]).astype(int), np.rint(y[sel]).astype(int)
        offsets = np.arange(-r, r + 1)
        dx = (cx[:, None] + offsets) - x[sel][:, None]
        dy = (cy[:, None] + offsets) - y[sel][:, None]

        def gauss(d: _Float64, s: float) -> _Float64:
            return np.exp(-0.5 * (d / s) ** 2) / (math.sqrt(2 * math.pi) * s)

        stamps = flux[sel][:, None, None] * (
            _CORE_FRACTION * gauss(dy, sigma)[:, :, None] * gauss(dx, sigma)[:, None, :]
            + (1 - _CORE_FRACTION) * gauss(dy, wing)[:, :, None] * gauss(dx, wing)[:, None, :]
        )
        for stamp, x0, y0 in zip(stamps, cx - r, cy - r, strict=True):
            xa, ya = max(x0, 0), max(y0, 0)
            xb, yb = min(x0 + 2 * r + 1, nx), min(y0 + 2 * r + 1, ny)
            image[ya:yb, xa:xb] += stamp[ya - y0 : yb - y0, xa - x0 : xb - x0]


def _primary_header(exposure: _Exposure, *, seed: int, pixscale: float) -> fits.Header:
    date = datetime(1858, 11, 17) + timedelta(days=exposure.mjd)
    cards: list[tuple[str, Any, str]] = [
        ("TELESCOP", "skycut-sim", "simulated telescope"),
        ("INSTRUME", "skycut-cam", "simulated camera"),
        ("ORIGIN", "skycut.sample.survey", "generator of this file"),
        ("OBJECT", exposure.obj, "field name"),
        ("FILTER", exposure.band, "band"),
        ("PRODTYPE", "deepCoadd" if exposure.coadd else "calexp", "kind of data product"),
        ("MJD-OBS", exposure.mjd, "[d] start of observation (UTC)"),
        ("DATE-OBS", date.isoformat(timespec="milliseconds"), "start of observation (UTC)"),
        ("EXPTIME", exposure.exptime, "[s] exposure time"),
        ("GAIN", exposure.gain, "[e-/adu]"),
        ("RDNOISE", exposure.read_noise, "[adu] read noise"),
        ("SATURATE", exposure.saturation, "[adu] saturation level"),
        ("MAGZERO", exposure.zeropoint, "magnitude of 1 adu"),
        ("SEEING", exposure.seeing, "[arcsec] PSF FWHM"),
        ("PIXSCALE", pixscale, "[arcsec/pixel]"),
        ("SIMVERS", GENERATOR_VERSION, "skycut sample generator version"),
        ("SIMSEED", seed, "skycut sample generator seed"),
    ]
    header = fits.Header(cards)
    header["COMMENT"] = "Simulated data: sky, catalogued stars and noise, no real photons."
    return header


def _extension_header(wcs_header: fits.Header, name: str) -> fits.Header:
    header = fits.Header()
    header["EXTTYPE"] = (name, "plane of an LSST-style exposure")
    header["INHERIT"] = (True, "inherit the primary header")
    if name == "MASK":
        for plane, bit in MASK_PLANES.items():
            key = f"MP_{plane}" if len(plane) <= 5 else f"HIERARCH MP_{plane}"  # as LSST does
            header[key] = (bit, f"bit of mask plane {plane}")
    else:
        header["BUNIT"] = "adu" if name == "IMAGE" else "adu2"
    header.extend(wcs_header)
    return header
