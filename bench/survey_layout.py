"""A realistic survey layout for the index benchmarks, as header-only FITS files.

Not a benchmark itself: :mod:`bench.index_query` and :mod:`bench.index_exactness`
draw their images from :func:`survey_layout` and describe them through the
indexer's own code path (:func:`skycut.index.scan.index_image` reading a
header-only FITS file, :func:`image_records`). 21,158 images with the default seed:

- **deep coadds** (``deepcoadd/``, TAN, no distortion): tracts of 4 x 4
  patches of 8000² pixels at 0.2"/pixel (0.44°), overlapping by 200 pixels,
  every patch of a tract projected about the tract's centre as LSST's are
  (so most have ``CRPIX`` far outside them); tracts overlap by ~0.09°, in
  bands r and i. A 300 deg² area (RA 140-160°, Dec -5 to +10°), 70 deg²
  across RA = 0 and one tract centred on each pole: 4,320 coadds (2,160 patches
  in two bands).
- **exposures** (``calexp/``, 4072 x 4000 pixels at 0.2"/pixel, TAN-SIP with
  quadratic and cubic terms of a few pixels at the corners), many epochs of
  each field over three years in ugrizy, each epoch dithered by up to
  0.05° and rotated by up to 3° (30° in deep-drilling fields): 150 fields of
  30-70 epochs in the wide area, 50 across RA = 0 (10 centred on it),
  41 within 2° of each pole (one on it), and six deep-drilling fields of
  300-450 epochs (one at RA = 0).

Positions are drawn by :func:`query_positions`: a random pixel of a random
image, or uniform on the sphere.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.wcs import WCS

from skycut.cutout.fitsindex import BLOCK_SIZE
from skycut.index.record import ImageRecord, ObjectStamp
from skycut.index.scan import index_image
from skycut.soda.ids import SourceRef

__all__ = [
    "CACHE",
    "BytesReader",
    "LayoutImage",
    "header_only_fits",
    "image_header",
    "image_records",
    "image_wcs",
    "query_positions",
    "survey_layout",
]

CACHE = Path(__file__).resolve().parent.parent / ".skycut" / "bench"
"""Where described images are kept between runs (the repository's cache folder)."""
GENERATOR_VERSION = 1  # part of the record cache's key: change it when the layout changes
_SCALE = 0.2 / 3600.0  # degrees per pixel, coadds and exposures alike
_PATCH, _PATCH_STEP, _PATCHES = 8000, 7800, 4  # pixels, pixels, per tract side
_TRACT_STEP = 1.65  # degrees between tract centres (tracts are 1.74° wide)
_CCD = (4072, 4000)  # NAXIS1, NAXIS2 of an exposure
_MJD0, _YEARS = 60_000.0, 3.0
Region = Literal["wide", "ra0", "north", "south", "deep"]


@dataclass(frozen=True)
class LayoutImage:
    """One image of the layout: where it points and how it was observed.

    Attributes
    ----------
    name
        The object name; its top-level folder is its collection.
    crval, crpix
        The WCS reference point (degrees) and its pixel (1-based).
    rotation
        Position angle of the pixel grid, degrees.
    naxis
        ``(NAXIS1, NAXIS2)``.
    sip
        SIP ``A``/``B`` cards, empty for a plain TAN image.
    band, mjd, exptime, field
        ``FILTER``, ``MJD-OBS``, ``EXPTIME``, ``OBJECT``.
    coadd
        A coadd (``NCOMBINE`` > 1) rather than one exposure.
    region
        Which part of the layout it belongs to.

    """

    name: str
    crval: tuple[float, float]
    crpix: tuple[float, float]
    rotation: float
    naxis: tuple[int, int]
    sip: tuple[tuple[str, float], ...]
    band: str
    mjd: float
    exptime: float
    field: str
    coadd: bool
    region: Region


def _offset(ra: float, dec: float, east: float, north: float) -> tuple[float, float]:
    """Move (degrees) on the tangent plane at ``(ra, dec)``: exact at the poles and RA = 0."""
    a0, d0 = math.radians(ra), math.radians(dec)
    xi, eta = math.radians(east), math.radians(north)
    den = math.cos(d0) - eta * math.sin(d0)
    lon = math.degrees(a0 + math.atan2(xi, den)) % 360.0
    lat = math.degrees(math.atan2(math.sin(d0) + eta * math.cos(d0), math.hypot(xi, den)))
    return lon, lat


def _tract(
    name: str, ra: float, dec: float, region: Region, rng: np.random.Generator
) -> Iterator[LayoutImage]:
    centre = (_PATCHES * _PATCH_STEP + _PATCH - _PATCH_STEP) / 2.0 + 0.5
    for i in range(_PATCHES):
        for j in range(_PATCHES):
            for band in ("r", "i"):
                yield LayoutImage(
                    name=f"deepcoadd/{name}/{i},{j}/deepcoadd-{band}.fits",
                    crval=(ra % 360.0, dec),
                    crpix=(centre - i * _PATCH_STEP, centre - j * _PATCH_STEP),
                    rotation=0.0,
                    naxis=(_PATCH, _PATCH),
                    sip=(),
                    band=band,
                    mjd=_MJD0 + 365.25 * _YEARS,
                    exptime=float(rng.integers(80, 200)) * 30.0,
                    field=name,
                    coadd=True,
                    region=region,
                )


def _sip(rng: np.random.Generator) -> tuple[tuple[str, float], ...]:
    """Forward SIP terms moving the corners (u, v ~ ±2000) by up to ~4 pixels."""
    cards: list[tuple[str, float]] = [("A_ORDER", 3), ("B_ORDER", 3)]
    for axis in ("A", "B"):
        for p, q in ((2, 0), (1, 1), (0, 2)):
            cards.append((f"{axis}_{p}_{q}", float(rng.uniform(-1, 1) * 5e-7)))
        for p, q in ((3, 0), (2, 1), (1, 2), (0, 3)):
            cards.append((f"{axis}_{p}_{q}", float(rng.uniform(-1, 1) * 1.5e-10)))
    return tuple(cards)


def _field(
    name: str,
    ra: float,
    dec: float,
    epochs: int,
    region: Region,
    rng: np.random.Generator,
    *,
    turn: float = 3.0,
) -> Iterator[LayoutImage]:
    base = float(rng.uniform(0, 360)) if region in ("north", "south") else 0.0
    for visit in range(epochs):
        r, angle = 0.05 * math.sqrt(rng.uniform()), rng.uniform(0, 2 * math.pi)
        crval = _offset(ra, dec, r * math.cos(angle), r * math.sin(angle))
        band = str(rng.choice(list("ugrizy")))
        yield LayoutImage(
            name=f"calexp/{name}/calexp-{band}-{visit:04d}.fits",
            crval=crval,
            crpix=(_CCD[0] / 2 + 0.5, _CCD[1] / 2 + 0.5),
            rotation=base + float(rng.uniform(-turn, turn)),
            naxis=_CCD,
            sip=_sip(rng),
            band=band,
            mjd=_MJD0 + float(rng.uniform(0, 365.25 * _YEARS)),
            exptime=30.0,
            field=name,
            coadd=False,
            region=region,
        )


def _polar_dec(sign: float, rng: np.random.Generator) -> float:
    """Draw a declination within 2° of a pole, uniform in area."""
    return sign * (90.0 - 2.0 * math.sqrt(rng.uniform()))


def _all_images(rng: np.random.Generator) -> Iterator[LayoutImage]:
    # deep coadds: the wide area, the RA = 0 strip, one tract on each pole
    for row, dec in enumerate(np.arange(-4.2, 9.5, _TRACT_STEP)):
        step = _TRACT_STEP / math.cos(math.radians(abs(dec) + 0.8))
        for col, ra in enumerate(np.arange(140.0 + step / 2, 160.0, step)):
            yield from _tract(f"wide-{row}-{col}", float(ra), float(dec), "wide", rng)
    for row, dec in enumerate(np.arange(-3.3, 3.4, _TRACT_STEP)):
        for col, ra in enumerate(np.arange(-3.3, 3.4, _TRACT_STEP)):
            yield from _tract(f"ra0-{row}-{col}", float(ra), float(dec), "ra0", rng)
    yield from _tract("north-pole", 0.0, 90.0, "north", rng)
    yield from _tract("south-pole", 0.0, -90.0, "south", rng)

    def epochs() -> int:
        return int(rng.integers(30, 71))

    for k in range(150):
        ra, dec = rng.uniform(140.2, 159.8), rng.uniform(-4.8, 9.8)
        yield from _field(f"wide{k:03d}", ra, dec, epochs(), "wide", rng)
    for k in range(50):
        ra = 0.0 if k < 10 else rng.uniform(-4.0, 4.0)
        yield from _field(f"ra0-{k:02d}", ra, rng.uniform(-4.0, 4.0), epochs(), "ra0", rng)
    for region, sign in (("north", 1.0), ("south", -1.0)):
        yield from _field(f"{region}-pole", 0.0, sign * 90.0, epochs(), region, rng)  # type: ignore[arg-type]
        for k in range(40):
            ra, dec = rng.uniform(0, 360), _polar_dec(sign, rng)
            yield from _field(f"{region}{k:02d}", ra, dec, epochs(), region, rng)  # type: ignore[arg-type]
    deep = {
        "COSMOS": (150.1, 2.2),
        "DEEP-RA0": (0.0, 0.5),
        "ECDFS": (53.1, -27.8),
        "XMM-LSS": (35.7, -4.75),
        "ELAIS-S1": (9.45, -44.0),
        "EDFS": (61.2, -48.4),
    }
    for name, (ra, dec) in deep.items():
        count = int(rng.integers(300, 451))
        yield from _field(name, ra, dec, count, "deep", rng, turn=30.0)


def survey_layout(total: int | None = None, *, seed: int = 13) -> list[LayoutImage]:
    """Return the layout's images in a random order (the order an index grows in).

    Parameters
    ----------
    total
        How many to return (the first ``total`` of the shuffled layout);
        all of them if `None`.
    seed
        Seeds the layout and the order.

    Raises
    ------
    ValueError
        If ``total`` exceeds the layout.

    """
    rng = np.random.default_rng(seed)
    images = list(_all_images(rng))
    order = rng.permutation(len(images))
    if total is not None and total > len(images):
        raise ValueError(f"the layout has {len(images)} images, not {total}")
    return [images[k] for k in order[:total]]


def image_header(image: LayoutImage) -> fits.Header:
    """Return the image HDU's header (``XTENSION = 'IMAGE'``, the WCS, ``EXTNAME``)."""
    c, s = math.cos(math.radians(image.rotation)), math.sin(math.radians(image.rotation))
    suffix = "-SIP" if image.sip else ""
    header = fits.Header()
    header.update(
        XTENSION="IMAGE", BITPIX=-32, NAXIS=2, NAXIS1=image.naxis[0], NAXIS2=image.naxis[1],
        PCOUNT=0, GCOUNT=1, EXTNAME="IMAGE", INHERIT=True, WCSAXES=2,
        CTYPE1=f"RA---TAN{suffix}", CTYPE2=f"DEC--TAN{suffix}", CUNIT1="deg", CUNIT2="deg",
        CRVAL1=image.crval[0], CRVAL2=image.crval[1],
        CRPIX1=image.crpix[0], CRPIX2=image.crpix[1],
        CD1_1=-_SCALE * c, CD1_2=_SCALE * s, CD2_1=_SCALE * s, CD2_2=_SCALE * c,
        RADESYS="ICRS",
    )  # fmt: skip
    for key, value in image.sip:
        header[key] = value
    return header


def _primary_header(image: LayoutImage) -> fits.Header:
    header = fits.Header()
    header.update(
        SIMPLE=True, BITPIX=8, NAXIS=0, EXTEND=True,
        TELESCOP="skycut-bench", INSTRUME="bench-cam", OBJECT=image.field,
        FILTER=image.band, MJD_OBS=image.mjd, EXPTIME=image.exptime,
        NCOMBINE=int(image.exptime // 30) if image.coadd else 1,
    )  # fmt: skip
    header.rename_keyword("MJD_OBS", "MJD-OBS")
    return header


def header_only_fits(image: LayoutImage) -> bytes:
    """Return the file's headers (primary, then IMAGE), as the first bytes of the file."""
    text: str = _primary_header(image).tostring() + image_header(image).tostring()
    return text.encode("ascii")


def _file_size(image: LayoutImage) -> int:
    """Bytes of the whole file: headers and IMAGE, MASK and VARIANCE planes of float32."""
    plane = math.ceil(4 * image.naxis[0] * image.naxis[1] / BLOCK_SIZE) * BLOCK_SIZE
    return 4 * BLOCK_SIZE + 3 * plane


def image_wcs(image: LayoutImage) -> WCS:
    """Return the image's own WCS, as astropy reads it from the header."""
    return WCS(image_header(image))


class BytesReader:
    """A :class:`~skycut.cutout.reader.RangeReader` over bytes in memory."""

    def __init__(self, name: str, data: bytes) -> None:
        self._name = name
        self._data = data

    @property
    def name(self) -> str:
        """The object's URI."""
        return self._name

    def size(self) -> int:
        """Return the length of the bytes."""
        return len(self._data)

    def read_range(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)``."""
        return self._data[start:stop]


def _record(args: tuple[LayoutImage, str]) -> ImageRecord:
    image, bucket = args
    source = SourceRef(bucket=bucket, name=image.name)
    record = index_image(
        BytesReader(source.uri, header_only_fits(image)),
        source=source,
        stamp=ObjectStamp(1),
        size=_file_size(image),
    )
    _ = record.cells  # computed here, in the worker process
    return record


def image_records(
    images: Sequence[LayoutImage], *, bucket: str, jobs: int = 2, cache: Path | None = None
) -> list[ImageRecord]:
    """Describe images as the indexer does, in ``jobs`` processes, cached in ``cache``.

    Each image's header-only file goes through :func:`skycut.index.scan.index_image`
    (header scan, ``image_footprint``, ``image_metadata``) as the function's
    :class:`~skycut.index.indexer.Indexer` does with an object it reads.
    """
    key = hashlib.sha256(
        repr((GENERATOR_VERSION, bucket, [i.name + repr(i.crval) for i in images])).encode()
    ).hexdigest()[:16]
    path = None if cache is None else cache / f"records-{len(images)}-{key}.pickle"
    if path is not None and path.exists():
        with path.open("rb") as f:
            cached: list[ImageRecord] = pickle.load(f)  # noqa: S301 - our own cache file
        return [_current(r) for r in cached]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        records = list(pool.map(_record, [(i, bucket) for i in images], chunksize=64))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(records, f)
        tmp.replace(path)
    return records


def _current(record: ImageRecord) -> ImageRecord:
    """Bring a record pickled by an earlier version of the code to the current form.

    Older records have no ``region`` (it is computed) or hold it as pairs, and
    footprints whose vertices are pairs of floats (rebuilt as an array).
    """
    if isinstance(record.footprint.vertices, np.ndarray) and isinstance(
        vars(record).get("region", (None,))[0], float
    ):
        return record
    pairs = vars(record).get("region", ())
    flat = tuple(c for v in pairs for c in v) if pairs and isinstance(pairs[0], tuple) else pairs
    return replace(record, footprint=replace(record.footprint), region=flat)


def query_positions(
    images: Sequence[LayoutImage], count: int, *, off_fraction: float, seed: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Draw positions: a random pixel of a random image, or (``off_fraction``) anywhere.

    Returns
    -------
    tuple
        RA and Dec (degrees), and whether each was drawn on an image.

    """
    rng = np.random.default_rng(seed)
    on = rng.uniform(size=count) >= off_fraction
    ra = rng.uniform(0, 360, count)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, count)))
    for k in np.flatnonzero(on):
        image = images[int(rng.integers(len(images)))]
        x, y = rng.uniform(-0.5, image.naxis[0] - 0.5), rng.uniform(-0.5, image.naxis[1] - 0.5)
        world = image_wcs(image).all_pix2world([[x, y]], 0)[0]
        ra[k], dec[k] = float(world[0]) % 360.0, float(world[1])
    return ra, dec, on
