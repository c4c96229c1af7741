"""The requests a worker's first cutout of an image costs: each one is a round trip."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from skycut.config import Settings
from skycut.cutout.reader import LocalFileReader, ReadStats
from skycut.cutout.stencil import Circle
from skycut.soda.ids import ObjectVersion, SourceRef
from skycut.soda.params import CutoutSpec, SodaRequest
from skycut.worker.cutter import Cutter

BUCKET = "sources"
LATENCY = 0.02


class Source(LocalFileReader):
    """A local file as one version of a source object, 20 ms away; its reads are logged."""

    def __init__(self, path: Path, source: SourceRef, log: list[tuple[float, float]]) -> None:
        super().__init__(path)
        self.version = ObjectVersion(source, 3)
        self._log = log

    def confirm(self) -> ObjectVersion:
        return self.version

    def read_range(self, start: int, stop: int) -> bytes:
        began = time.monotonic()
        time.sleep(LATENCY)
        data = super().read_range(start, stop)
        self._log.append((began, time.monotonic()))
        return data


def round_trips(log: list[tuple[float, float]]) -> int:
    """Reads that overlap in time count once: the sequential waits a cut made."""
    rounds, reach = 0, -1.0
    for began, ended in sorted(log):
        if began >= reach:
            rounds += 1
        reach = max(reach, ended)
    return rounds


class NoWatch:
    def check(self, *, force: bool = False) -> None:
        pass


def wcs_header(ny: int, nx: int) -> fits.Header:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [nx / 2 + 0.5, ny / 2 + 0.5]
    wcs.wcs.cdelt = [-0.2 / 3600, 0.2 / 3600]
    return wcs.to_header()


class Worker:
    """A worker's cutter over one local file; each cut reports its requests and round trips."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log: list[tuple[float, float]] = []
        settings = Settings(source_buckets=[BUCKET])
        self.cutter = Cutter.from_settings(settings, lambda s, g: Source(path, s, self.log))

    def cut(self, ra: float = 150.0, **request: object) -> tuple[fits.HDUList, int, int]:
        """Cut a 4-arcsec circle; return the file, its requests and round trips."""
        source = SourceRef(BUCKET, self.path.name)
        circle = Circle(ra, 2.0, 2 / 3600)
        spec = CutoutSpec(source=source, stencil=circle)
        soda = SodaRequest(sources=(source,), stencils=(circle,), **request)  # type: ignore[arg-type]
        stats = ReadStats()
        self.log.clear()
        cutout, _ = self.cutter.cut(soda, spec, None, stats, NoWatch(), None)  # type: ignore[arg-type]
        return fits.open(io.BytesIO(cutout.content)), stats.requests, round_trips(self.log)


def assert_cut_of(out: fits.HDUList, path: Path, names: list[str | int]) -> None:
    with fits.open(path) as src:
        for k, name in enumerate(names, start=1):
            x0, y0 = -int(out[k].header["LTV1"]), -int(out[k].header["LTV2"])
            ny, nx = out[k].data.shape
            assert min(ny, nx) > 10
            np.testing.assert_array_equal(out[k].data, src[name].data[y0 : y0 + ny, x0 : x0 + nx])


@pytest.fixture(scope="module")
def row_tiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4096-row RICE image in row tiles (fpack's default): a 128 KiB tile table."""
    data = np.random.default_rng(5).normal(100, 5, (4096, 256)).astype(np.float32)
    path = tmp_path_factory.mktemp("rows") / "rows.fits"
    hdu = fits.CompImageHDU(data, wcs_header(*data.shape), compression_type="RICE_1")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_a_row_tiled_image_is_cut_in_two_round_trips(row_tiled: Path) -> None:
    """Header and tile table in one read, then the tiles: the table needs no round trip."""
    out, requests, rounds = Worker(row_tiled).cut()
    assert_cut_of(out, row_tiled, [1])
    assert (requests, rounds) == (2, 2)


@pytest.fixture(scope="module")
def exposure(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """IMAGE, MASK and VARIANCE of one exposure, the mask's header a block longer (its planes)."""
    rng = np.random.default_rng(6)
    header = wcs_header(1024, 1024)
    image = rng.normal(100, 5, (1024, 1024)).astype(np.float32)
    mask_header = header.copy()
    for bit in range(40):
        mask_header[f"HIERARCH MP_PLANE{bit:02d}"] = bit
    planes = [
        fits.ImageHDU(image, header, name="IMAGE"),
        fits.ImageHDU((image > 108).astype(np.int32), mask_header, name="MASK"),
        fits.ImageHDU(image / 4, header, name="VARIANCE"),
    ]
    path = tmp_path_factory.mktemp("exposure") / "exposure.fits"
    fits.HDUList([fits.PrimaryHDU(), *planes]).writeto(path)
    return path


def test_an_exposure_with_mask_and_variance_is_cut_in_two_round_trips(
    exposure: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers to IMAGE; then MASK's and VARIANCE's headers and the three planes' pixels together.

    The planes' pixels are read where they lie if laid out as IMAGE, with a
    header's slack (MASK's header here is a block longer than IMAGE's).
    """
    monkeypatch.setattr(sys.modules[__name__], "LATENCY", 0.06)  # one round from two pools
    worker = Worker(exposure)
    names: list[str | int] = ["IMAGE", "MASK", "VARIANCE"]
    out, requests, rounds = worker.cut(detail="image,mask,variance")
    assert_cut_of(out, exposure, names)
    assert rounds == 2
    assert requests == 6  # first chunk; MASK's header, VARIANCE's window, three planes' rows
    # once the headers are known, one round trip
    out, _, rounds = worker.cut(ra=150.0005, detail="image,mask,variance")
    assert_cut_of(out, exposure, names)
    assert rounds == 1


def _planes(layout: str) -> list[fits.ImageHDU | fits.CompImageHDU]:
    """IMAGE, MASK and VARIANCE (and others) laid out so that guessing MASK and VARIANCE fails."""
    rng = np.random.default_rng(7)
    header = wcs_header(1024, 1024)
    image = rng.normal(100, 5, (1024, 1024)).astype(np.float32)
    mask = (image > 108).astype(np.int32)
    long_header = header.copy()
    for k in range(1000):  # 28 blocks more: beyond the slack
        long_header[f"HIERARCH NOTE{k:04d}"] = k
    planes: dict[str, list[fits.ImageHDU | fits.CompImageHDU]] = {
        "16-bit mask": [fits.ImageHDU(mask.astype(np.int16), header, name="MASK")],
        "long mask header": [fits.ImageHDU(mask, long_header, name="MASK")],
        "a table between": [
            fits.BinTableHDU.from_columns([fits.Column("A", "E", array=np.arange(30000))]),
            fits.ImageHDU(mask, header, name="MASK"),
        ],
        "binned mask": [fits.ImageHDU(mask[::2, ::2].copy(), header, name="MASK")],
        "compressed mask": [fits.CompImageHDU(mask, header, name="MASK")],
        "variance first": [],
    }[layout]
    variance = fits.ImageHDU(image / 4, header, name="VARIANCE")
    if layout == "variance first":
        return [fits.ImageHDU(image, header, name="IMAGE"), variance,
                fits.ImageHDU(mask, header, name="MASK")]  # fmt: skip
    return [fits.ImageHDU(image, header, name="IMAGE"), *planes, variance]


@pytest.mark.parametrize(
    ("layout", "rounds"),
    [
        # as without the guess: VARIANCE's header is not where guessed either, so a
        # round trip for each header, then one for the pixels
        ("16-bit mask", 4),
        ("long mask header", 4),
        ("a table between", 4),
        ("binned mask", 4),
        ("compressed mask", 3),  # the same size as IMAGE's data
        ("variance first", 2),  # planes alike, in another order: the guess holds
    ],
)
def test_planes_laid_out_otherwise_are_read_after_their_headers(
    tmp_path: Path, layout: str, rounds: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong guess costs no pixel and no round trip: as many as reading the headers first."""
    # reads of one round start from two thread pools: a longer wait keeps them overlapping
    # on a loaded machine, so that they count as the one round trip they are
    monkeypatch.setattr(sys.modules[__name__], "LATENCY", 0.06)
    path = tmp_path / "exposure.fits"
    fits.HDUList([fits.PrimaryHDU(), *_planes(layout)]).writeto(path)
    worker = Worker(path)
    out, _, got = worker.cut(detail="image,mask,variance")
    with fits.open(path) as src:
        for name in ("IMAGE", "MASK", "VARIANCE"):
            x0, y0 = -int(out[name].header["LTV1"]), -int(out[name].header["LTV2"])
            ny, nx = out[name].data.shape
            assert min(ny, nx) > 5
            np.testing.assert_array_equal(
                out[name].data, src[name].data[y0 : y0 + ny, x0 : x0 + nx]
            )
    # at most: a guessed read still in flight may overlap the next header's read
    assert got <= rounds
