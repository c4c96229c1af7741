"""The FITS index: HDU offsets as astropy finds them, from headers read once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skycut.cutout.fitsindex import (
    BLOCK_SIZE,
    HduInfo,
    named_image,
    scan_fits,
    select_image_hdu,
)
from skycut.cutout.reader import CountingReader, LocalFileReader
from skycut.errors import UnsupportedSourceError


class RecordingReader(CountingReader):
    """Counts requests and remembers their ranges."""

    def __init__(self, path: Path) -> None:
        super().__init__(LocalFileReader(path))
        self.ranges: list[tuple[int, int]] = []

    def read_range(self, start: int, stop: int) -> bytes:
        self.ranges.append((start, stop))
        return super().read_range(start, stop)


def write(path: Path, hdus: list[fits.PrimaryHDU | fits.ImageHDU | fits.BinTableHDU]) -> Path:
    fits.HDUList(hdus).writeto(path)
    return path


@pytest.fixture
def mef(tmp_path: Path) -> Path:
    """A primary HDU without data, then IMAGE, MASK and VARIANCE planes and a table."""
    rng = np.random.default_rng(1)
    image = rng.normal(size=(200, 300)).astype(np.float32)
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="v", format="PJ()", array=[np.arange(n) for n in range(1, 40)])],
        name="CATALOG",
    )
    return write(
        tmp_path / "mef.fits",
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(image, name="IMAGE"),
            fits.ImageHDU(np.zeros((200, 300), np.int32), name="MASK"),
            fits.ImageHDU(image**2, name="VARIANCE"),
            table,
        ],
    )


def assert_matches_astropy(path: Path, hdus: tuple[HduInfo, ...]) -> None:
    with fits.open(path) as hdul:
        assert len(hdus) == len(hdul)
        for info, hdu in zip(hdus, hdul, strict=True):
            loc = hdul.fileinfo(info.index)
            assert (info.header_offset, info.data_offset) == (loc["hdrLoc"], loc["datLoc"])
            assert info.data_size == loc["datSpan"]
            assert info.header == hdu.header


def test_offsets_match_astropy(mef: Path) -> None:
    reader = RecordingReader(mef)
    index = scan_fits(reader)
    assert index.complete
    assert [h.name for h in index.hdus] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE", "CATALOG"]
    assert_matches_astropy(mef, index.hdus)
    assert index.hdus[4].data_size % BLOCK_SIZE == 0  # rows plus heap, padded
    # The first chunk holds the first two headers; each later header is one more read.
    assert reader.ranges[0] == (0, 23 * BLOCK_SIZE)
    assert reader.stats.requests == 4


def test_stops_at_the_image(mef: Path) -> None:
    reader = CountingReader(LocalFileReader(mef))
    index = scan_fits(reader, stop_after=named_image)
    assert not index.complete
    assert [h.name for h in index.hdus] == ["PRIMARY", "IMAGE"]
    assert reader.stats.requests == 1
    assert reader.stats.bytes == 66240
    assert select_image_hdu(index).name == "IMAGE"


def test_long_header_is_read_in_block_aligned_steps(tmp_path: Path) -> None:
    header = fits.Header([(f"KEY{i}", i) for i in range(300)])  # about 9 blocks
    path = write(
        tmp_path / "long.fits",
        [fits.PrimaryHDU(), fits.ImageHDU(np.ones((10, 10)), header=header, name="SCI")],
    )
    reader = RecordingReader(path)
    index = scan_fits(reader, chunk_size=3000)  # rounded up to two blocks
    assert_matches_astropy(path, index.hdus)
    for start, stop in reader.ranges:
        assert start % BLOCK_SIZE == 0
        assert stop - start == 2 * BLOCK_SIZE
    # Every header byte was read once: the ranges do not overlap.
    assert all(a[1] <= b[0] for a, b in zip(reader.ranges, reader.ranges[1:], strict=False))


def test_data_is_never_read(tmp_path: Path) -> None:
    big = np.zeros((1000, 1000), np.float64)
    path = write(tmp_path / "big.fits", [fits.PrimaryHDU(big), fits.ImageHDU(big, name="B")])
    reader = RecordingReader(path)
    index = scan_fits(reader, chunk_size=BLOCK_SIZE)
    assert_matches_astropy(path, index.hdus)
    data = [(h.data_offset, h.data_offset + h.data_size) for h in index.hdus]
    for start, stop in reader.ranges:
        assert not any(start < d_stop and d_start < stop for d_start, d_stop in data)


def test_random_groups(tmp_path: Path) -> None:
    data = fits.GroupData(
        np.arange(60, dtype=np.float32).reshape(5, 3, 4),
        parnames=["u", "v"],
        pardata=[np.arange(5.0), np.arange(5.0)],
        bitpix=-32,
    )
    path = write(tmp_path / "groups.fits", [fits.GroupsHDU(data), fits.ImageHDU(np.ones(3))])
    index = scan_fits(LocalFileReader(path))
    assert_matches_astropy(path, index.hdus)


def test_tile_compressed_image_is_flagged(tmp_path: Path) -> None:
    image = np.arange(100 * 120, dtype=np.float32).reshape(100, 120)
    path = tmp_path / "comp.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(image, name="SCI")]).writeto(path)
    index = scan_fits(LocalFileReader(path))
    assert [h.is_compressed for h in index.hdus] == [False, True]
    assert select_image_hdu(index).name == "SCI"


def test_picks_image_by_name_in_any_case(tmp_path: Path) -> None:
    plane = np.zeros((4, 5), np.float32)
    path = write(
        tmp_path / "f.fits",
        [fits.PrimaryHDU(plane), fits.ImageHDU(plane, name="MASK"), fits.ImageHDU(plane)],
    )
    with fits.open(path, mode="update") as hdul:
        hdul[2].header["EXTNAME"] = "Image"
    assert select_image_hdu(scan_fits(LocalFileReader(path))).index == 2


def test_picks_first_2d_image_without_a_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "f.fits",
        [fits.PrimaryHDU(), fits.ImageHDU(np.ones(7)), fits.ImageHDU(np.ones((3, 4)), name="SCI")],
    )
    assert select_image_hdu(scan_fits(LocalFileReader(path))).name == "SCI"


def test_no_image(tmp_path: Path) -> None:
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="J", array=[1, 2])])
    path = write(tmp_path / "t.fits", [fits.PrimaryHDU(), table])
    with pytest.raises(UnsupportedSourceError, match="no 2-D image"):
        select_image_hdu(scan_fits(LocalFileReader(path)))


@pytest.mark.parametrize("content", [b"", b"not a FITS file" * 300])
def test_not_fits(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.fits"
    path.write_bytes(content)
    with pytest.raises(UnsupportedSourceError, match="not a FITS file"):
        scan_fits(LocalFileReader(path))


def test_truncated_primary_header(tmp_path: Path) -> None:
    path = tmp_path / "x.fits"
    path.write_bytes(fits.PrimaryHDU().header.tostring().encode()[:2000])
    with pytest.raises(UnsupportedSourceError, match="truncated"):
        scan_fits(LocalFileReader(path))


def test_trailing_bytes_are_ignored(mef: Path) -> None:
    with mef.open("ab") as f:
        f.write(b"\0" * 100)
    index = scan_fits(LocalFileReader(mef))
    assert len(index.hdus) == 5
