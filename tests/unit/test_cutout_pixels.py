"""Reading regions of uncompressed images: astropy's pixels, through planned range reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from skycut.cutout.fitsindex import FitsIndex, scan_fits
from skycut.cutout.pixels import image_shape, output_image_header, read_pixels
from skycut.cutout.reader import CountingReader, LocalFileReader
from skycut.cutout.readplan import ReadCost
from skycut.errors import UnsupportedSourceError

DTYPES = {8: np.uint8, 16: np.int16, 32: np.int32, 64: np.int64, -32: np.float32, -64: np.float64}

COSTS = [
    ReadCost(),  # rows close together: one span
    ReadCost(round_trip=0.0, request_overhead=0.0),  # latency free: every row on its own
    ReadCost(round_trip=0.001, bandwidth=1e6, max_concurrency=4, min_part_bytes=97),  # odd parts
]


def random_image(rng: np.random.Generator, shape: tuple[int, ...], bitpix: int) -> np.ndarray:
    dtype = np.dtype(DTYPES[bitpix])
    if dtype.kind == "f":
        data = rng.normal(0, 1e3, size=shape).astype(dtype)
        data.flat[:: max(1, data.size // 7)] = np.nan
        return data
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FitsIndex]:
    """One file with 2-D and 3-D images of every BITPIX, and a scaled one."""
    rng = np.random.default_rng(3)
    hdus: list[fits.PrimaryHDU | fits.ImageHDU] = [fits.PrimaryHDU()]
    for bitpix in DTYPES:
        hdus.append(fits.ImageHDU(random_image(rng, (37, 53), bitpix), name=f"2D{bitpix}"))
        hdus.append(fits.ImageHDU(random_image(rng, (5, 23, 31), bitpix), name=f"3D{bitpix}"))
    scaled = fits.ImageHDU(rng.integers(0, 65535, size=(40, 30), dtype=np.uint16), name="U16")
    hdus.append(scaled)
    path = tmp_path_factory.mktemp("pixels") / "images.fits"
    fits.HDUList(hdus).writeto(path)
    return path, scan_fits(LocalFileReader(path))


def stored(path: Path, index: int, region: tuple[slice, ...]) -> np.ndarray:
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        return np.asarray(hdul[index].section[region])


def regions(shape: tuple[int, ...]) -> st.SearchStrategy[tuple[slice, ...]]:
    def axis(n: int) -> st.SearchStrategy[slice]:
        return st.tuples(st.integers(0, n - 1), st.integers(1, n)).map(
            lambda ab: slice(min(ab[0], ab[1] - 1), max(ab[0] + 1, ab[1]))
        )

    return st.tuples(*[axis(n) for n in shape])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.integers(0, 12), cost=st.sampled_from(COSTS))
def test_random_regions_equal_astropy(
    images: tuple[Path, FitsIndex], data: st.DataObject, which: int, cost: ReadCost
) -> None:
    path, index = images
    hdu = index.hdus[1 + which]
    region = data.draw(regions(image_shape(hdu)))
    got = read_pixels(LocalFileReader(path), hdu, region, cost=cost)
    expected = stored(path, hdu.index, region)
    assert got.dtype == expected.dtype.newbyteorder(">")
    assert_array_equal(got, expected)


def test_values_stay_stored_and_the_header_keeps_their_scaling(
    images: tuple[Path, FitsIndex],
) -> None:
    path, index = images
    hdu = index.hdus[-1]
    got = read_pixels(LocalFileReader(path), hdu, (slice(3, 9), slice(0, 30)))
    header = output_image_header(hdu)
    assert got.dtype == np.dtype(">i2")
    assert header["BZERO"] == 32768
    with fits.open(path) as hdul:
        assert_array_equal(got.astype(np.int32) + 32768, hdul[hdu.index].data[3:9])


@pytest.mark.parametrize(
    ("region", "requests"),
    [
        ((slice(1, 4), slice(2, 20), slice(5, 9)), 1),  # close rows: one span
        ((slice(0, 5), slice(0, 23), slice(0, 31)), 1),  # everything: one contiguous range
    ],
)
def test_a_cube_region_costs_one_request(
    images: tuple[Path, FitsIndex], region: tuple[slice, ...], requests: int
) -> None:
    path, index = images
    reader = CountingReader(LocalFileReader(path))
    hdu = next(h for h in index.hdus if h.name == "3D-32")
    got = read_pixels(reader, hdu, region)
    assert_array_equal(got, stored(path, hdu.index, region))
    assert reader.stats.requests == requests


def test_far_rows_are_read_without_the_bytes_between(tmp_path: Path) -> None:
    # 30 planes of 1 MB; a 4x4 stamp through all of them on a slow-latency-free link.
    cube = np.arange(30 * 512 * 512, dtype=np.float32).reshape(30, 512, 512)
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(cube).writeto(path)
    reader = CountingReader(LocalFileReader(path))
    hdu = scan_fits(reader).hdus[0]
    reader.stats.requests = reader.stats.bytes = 0
    region = (slice(0, 30), slice(100, 104), slice(200, 204))
    got = read_pixels(reader, hdu, region, cost=ReadCost(round_trip=0.001, max_concurrency=16))
    assert_array_equal(got, cube[region])
    # Each plane's 4 rows are 2 kB apart: coalesced per plane, planes apart.
    assert reader.stats.requests == 30
    assert reader.stats.bytes < 30 * 4 * 2048


def test_large_regions_are_fetched_as_concurrent_parts(tmp_path: Path) -> None:
    image = np.arange(1024 * 1024, dtype=np.float32).reshape(1024, 1024)
    path = tmp_path / "big.fits"
    fits.PrimaryHDU(image).writeto(path)
    reader = CountingReader(LocalFileReader(path))
    hdu = scan_fits(reader).hdus[0]
    reader.stats.requests = 0
    region = (slice(10, 1000), slice(3, 1021))
    got = read_pixels(reader, hdu, region, cost=ReadCost(max_concurrency=4, min_part_bytes=1))
    assert_array_equal(got, image[region])
    assert reader.stats.requests == 4


def test_empty_region_reads_nothing(images: tuple[Path, FitsIndex]) -> None:
    path, index = images
    reader = CountingReader(LocalFileReader(path))
    got = read_pixels(reader, index.hdus[1], (slice(4, 4), slice(0, 10)))
    assert got.shape == (0, 10)
    assert reader.stats.requests == 0


@pytest.mark.parametrize(
    ("region", "match"),
    [
        ((slice(0, 5),), "region has 1 axes, the image 2"),
        ((slice(0, 5), slice(0, 54)), "does not fit an axis of length 53"),
        ((slice(0, 5), slice(None, 5)), "need a start and a stop"),
        ((slice(0, 5), slice(0, 5, 2)), "no step"),
    ],
)
def test_bad_regions_are_refused(
    images: tuple[Path, FitsIndex], region: tuple[slice, ...], match: str
) -> None:
    path, index = images
    with pytest.raises(ValueError, match=match):
        read_pixels(LocalFileReader(path), index.hdus[1], region)


def test_truncated_file_is_reported(images: tuple[Path, FitsIndex], tmp_path: Path) -> None:
    path, index = images
    cut = tmp_path / "cut.fits"
    hdu = index.hdus[-1]
    cut.write_bytes(path.read_bytes()[: hdu.data_offset + 100])
    with pytest.raises(UnsupportedSourceError, match="ends at byte"):
        read_pixels(LocalFileReader(cut), hdu, (slice(0, 40), slice(0, 30)))
