"""Reading regions of tile-compressed images: astropy's pixels from only the tiles touched."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from skycut.cutout.fitsindex import FitsIndex, HduInfo, named_image, scan_fits
from skycut.cutout.pixels import image_shape, output_image_header, read_pixels
from skycut.cutout.reader import CountingReader, LocalFileReader, RememberingReader
from skycut.cutout.readplan import ReadCost
from skycut.cutout.tilelayout import TileLayout
from skycut.cutout.tiles import read_tile_table
from skycut.errors import UnsupportedSourceError

DITHER_1, DITHER_2, NO_DITHER = 1, 2, -1


def noisy(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Sky-like floats: noise, a few NaNs, a constant patch (which defeats quantisation), zeros."""
    data = rng.normal(100.0, 5.0, size=shape).astype(dtype)
    data[..., :3, :4] = np.nan
    data[..., -9:, -9:] = 7.25
    data[..., 5, :] = 0.0
    return data


def ints(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, low: int = -500, high: int = 3000
) -> np.ndarray:
    return rng.integers(low, high, size=shape).astype(dtype)


def compressed_hdus(rng: np.random.Generator) -> list[fits.CompImageHDU]:
    f32, f64 = np.float32, np.float64
    specs: list[tuple[str, np.ndarray, dict[str, Any]]] = [
        (
            "RICE_D1_ODD",
            noisy(rng, (50, 70), f32),
            {"tile_shape": (16, 16), "quantize_method": DITHER_1, "dither_seed": 17},
        ),
        (
            "RICE_D2_EVEN",
            noisy(rng, (50, 70), f32),
            {"tile_shape": (10, 14), "quantize_method": DITHER_2, "dither_seed": 9000},
        ),
        ("RICE_ROWS", noisy(rng, (40, 33), f32), {"quantize_method": DITHER_1}),
        (
            "GZIP1_NODITHER",
            noisy(rng, (45, 31), f32),
            {"compression_type": "GZIP_1", "tile_shape": (8, 31), "quantize_method": NO_DITHER},
        ),
        (
            "GZIP1_LOSSLESS",
            noisy(rng, (45, 31), f32),
            {"compression_type": "GZIP_1", "tile_shape": (9, 9), "quantize_level": 0.0},
        ),
        (
            "GZIP2_F64",
            noisy(rng, (33, 47), f64),
            {"compression_type": "GZIP_2", "tile_shape": (11, 12), "quantize_method": DITHER_2},
        ),
        ("RICE_I16", ints(rng, (41, 29), np.int16), {}),
        ("RICE_U16", ints(rng, (41, 29), np.uint16, low=0), {"tile_shape": (6, 7)}),
        (
            "GZIP2_I32",
            ints(rng, (41, 29), np.int32),
            {"compression_type": "GZIP_2", "tile_shape": (7, 9)},
        ),
        (
            "GZIP1_U8",
            ints(rng, (30, 30), np.uint8, low=0, high=256),
            {"compression_type": "GZIP_1", "tile_shape": (4, 30)},
        ),
        (
            "HCOMP_I32",
            ints(rng, (52, 70), np.int32),
            {"compression_type": "HCOMPRESS_1", "tile_shape": (16, 16)},
        ),
        (
            "PLIO_I16",
            ints(rng, (30, 40), np.int16, low=0),
            {"compression_type": "PLIO_1", "tile_shape": (8, 8)},
        ),
        (
            "RICE_CUBE",
            noisy(rng, (5, 20, 30), f32),
            {"tile_shape": (2, 8, 8), "quantize_method": DITHER_2},
        ),
        ("GZIP2_CUBE_I32", ints(rng, (4, 9, 30), np.int32), {"compression_type": "GZIP_2"}),
    ]
    return [fits.CompImageHDU(data, name=name, **kwargs) for name, data, kwargs in specs]


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FitsIndex]:
    path = tmp_path_factory.mktemp("tiles") / "tiled.fits"
    fits.HDUList([fits.PrimaryHDU(), *compressed_hdus(np.random.default_rng(5))]).writeto(path)
    return path, scan_fits(LocalFileReader(path))


def by_name(index: FitsIndex, name: str) -> HduInfo:
    return next(h for h in index.hdus if h.name == name)


def astropy_section(path: Path, index: int, region: tuple[slice, ...]) -> np.ndarray:
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        return np.asarray(hdul[index].section[region])


def regions(shape: tuple[int, ...]) -> st.SearchStrategy[tuple[slice, ...]]:
    def axis(n: int) -> st.SearchStrategy[slice]:
        return st.tuples(st.integers(0, n - 1), st.integers(1, n)).map(
            lambda ab: slice(min(ab[0], ab[1] - 1), max(ab[0] + 1, ab[1]))
        )

    return st.tuples(*[axis(n) for n in shape])


def test_every_hdu_of_the_fixture_is_compressed_as_intended(tiled: tuple[Path, FitsIndex]) -> None:
    path, index = tiled
    assert all(h.is_compressed for h in index.hdus[1:])
    gzip_fallback = by_name(index, "RICE_D1_ODD").header
    assert "GZIP_COMPRESSED_DATA" in [gzip_fallback[f"TTYPE{i}"] for i in range(1, 5)]
    with fits.open(path) as hdul:
        # the constant patch made at least one tile fall back to lossless GZIP
        assert (hdul["RICE_D1_ODD"]._bintable.data["GZIP_COMPRESSED_DATA"][:, 0] > 0).any()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.integers(1, 14), cached=st.booleans())
def test_random_regions_equal_astropy_bit_for_bit(
    tiled: tuple[Path, FitsIndex], data: st.DataObject, which: int, cached: bool
) -> None:
    path, index = tiled
    hdu = index.hdus[which]
    region = data.draw(regions(image_shape(hdu)))
    reader = LocalFileReader(path)
    table = read_tile_table(reader, hdu) if cached else None
    got = read_pixels(reader, hdu, region, tiles=table)
    expected = astropy_section(path, hdu.index, region)
    assert got.dtype == expected.dtype.newbyteorder(">")
    # Same bits, NaNs in the same places: compare the raw bytes.
    assert got.astype(expected.dtype).tobytes() == expected.tobytes()


@pytest.mark.parametrize("name", ["RICE_D1_ODD", "RICE_U16", "GZIP2_CUBE_I32", "HCOMP_I32"])
def test_whole_image_equals_astropy_data(tiled: tuple[Path, FitsIndex], name: str) -> None:
    path, index = tiled
    hdu = by_name(index, name)
    got = read_pixels(LocalFileReader(path), hdu, tuple(slice(0, n) for n in image_shape(hdu)))
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        assert_array_equal(got, hdul[name].data)


def test_output_header_is_astropys_image_header(tiled: tuple[Path, FitsIndex]) -> None:
    path, index = tiled
    with fits.open(path) as hdul:
        for hdu in index.hdus[1:]:
            header = output_image_header(hdu)
            assert fits.HeaderDiff(header, hdul[hdu.index].header).identical, hdu.name
            assert header["BITPIX"] == hdu.header["ZBITPIX"]
            assert not [k for k in header if k.startswith(("Z", "TFORM", "TTYPE"))]
    assert output_image_header(by_name(index, "RICE_U16"))["BZERO"] == 32768


def test_unsigned_values_come_back_stored_with_their_bzero(tiled: tuple[Path, FitsIndex]) -> None:
    path, index = tiled
    hdu = by_name(index, "RICE_U16")
    got = read_pixels(LocalFileReader(path), hdu, (slice(2, 20), slice(3, 17)))
    with fits.open(path) as hdul:
        assert_array_equal(got.astype(np.int32) + 32768, hdul["RICE_U16"].section[2:20, 3:17])


@pytest.fixture(scope="module")
def big_tiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, HduInfo]:
    """A 2048² float image in 256² tiles, the layout of the sample survey's tiled calexp."""
    rng = np.random.default_rng(11)
    image = rng.normal(0.0, 3.0, size=(2048, 2048)).astype(np.float32)
    path = tmp_path_factory.mktemp("big") / "big.fits"
    hdu = fits.CompImageHDU(image, name="IMAGE", tile_shape=(256, 256), quantize_method=DITHER_2)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path, scan_fits(LocalFileReader(path)).hdus[1]


def needed_bytes(path: Path, hdu: HduInfo, region: tuple[slice, ...]) -> int:
    """Heap bytes of the tiles ``region`` touches, plus their table rows."""
    layout = TileLayout.of(hdu)
    tile = np.array(layout.tile_shape)
    first = np.array([s.start for s in region]) // tile
    last = (np.array([s.stop for s in region]) - 1) // tile
    rows = layout.tile_rows(first, last)
    with fits.open(path) as hdul:
        sizes = hdul[hdu.index]._bintable.data["COMPRESSED_DATA"][rows, 0]
    return int(sizes.sum()) + len(rows) * layout.row_bytes


@pytest.mark.parametrize(
    "region",
    [
        (slice(1000, 1051), slice(700, 751)),  # a 51² stamp across two tile rows
        (slice(10, 40), slice(10, 40)),  # inside one tile
        (slice(900, 1103), slice(1200, 1403)),  # 203² across four tiles
        (slice(500, 1503), slice(10, 1013)),  # 1003²
    ],
)
def test_a_stamp_reads_little_more_than_its_tiles(
    big_tiled: tuple[Path, HduInfo], region: tuple[slice, ...]
) -> None:
    path, hdu = big_tiled
    reader = CountingReader(LocalFileReader(path))
    got = read_pixels(reader, hdu, region)
    assert_array_equal(got, astropy_section(path, hdu.index, region))
    assert reader.stats.bytes <= 1.5 * needed_bytes(path, hdu, region)


def test_with_a_cached_table_a_stamp_is_one_round_of_heap_reads(
    big_tiled: tuple[Path, HduInfo],
) -> None:
    path, hdu = big_tiled
    reader = CountingReader(LocalFileReader(path))
    table = read_tile_table(reader, hdu)
    assert reader.stats.requests == 1
    assert reader.stats.bytes == 64 * int(hdu.header["NAXIS1"])
    region = (slice(1000, 1051), slice(700, 751))
    reader.stats.requests = reader.stats.bytes = 0
    got = read_pixels(reader, hdu, region, tiles=table)
    assert_array_equal(got, astropy_section(path, hdu.index, region))
    # Two tile rows, far apart in the heap: two concurrent requests, one round trip.
    assert reader.stats.requests <= ReadCost().max_concurrency
    assert reader.stats.bytes <= 1.5 * needed_bytes(path, hdu, region)


def test_without_a_table_a_stamp_reads_its_rows_then_its_tiles(
    big_tiled: tuple[Path, HduInfo],
) -> None:
    path, hdu = big_tiled
    reader = CountingReader(LocalFileReader(path))
    read_pixels(reader, hdu, (slice(10, 40), slice(10, 40)))
    assert reader.stats.requests == 2


def test_a_table_that_does_not_match_its_tiles_is_refused(tiled: tuple[Path, FitsIndex]) -> None:
    _, index = tiled
    hdu = by_name(index, "RICE_I16")
    header = hdu.header.copy()
    header["ZTILE2"] = 3
    bad = dataclasses.replace(hdu, header=header)
    with pytest.raises(UnsupportedSourceError, match="do not match its tiles"):
        read_pixels(LocalFileReader("/nonexistent"), bad, (slice(0, 2), slice(0, 2)))


def test_truncated_heap_is_reported(tiled: tuple[Path, FitsIndex], tmp_path: Path) -> None:
    path, index = tiled
    hdu = by_name(index, "RICE_D2_EVEN")
    cut = tmp_path / "cut.fits"
    heap = hdu.data_offset + int(hdu.header["NAXIS1"]) * int(hdu.header["NAXIS2"])
    cut.write_bytes(path.read_bytes()[: heap + 10])
    with pytest.raises(UnsupportedSourceError, match="ends at byte"):
        read_pixels(LocalFileReader(cut), hdu, (slice(30, 50), slice(50, 70)))


def test_a_first_cutout_takes_the_tile_table_from_the_header_chunk(
    big_tiled: tuple[Path, HduInfo],
) -> None:
    path, _ = big_tiled
    counted = CountingReader(LocalFileReader(path))
    reader = RememberingReader(counted)
    hdu = scan_fits(reader, stop_after=named_image).hdus[1]
    region = (slice(10, 40), slice(10, 40))
    got = read_pixels(reader, hdu, region)
    assert_array_equal(got, astropy_section(path, hdu.index, region))
    # The 64-row table lies inside the first 64 KiB: header chunk, then the tile.
    assert counted.stats.requests == 2


@pytest.mark.parametrize(
    ("name", "cards"),
    [
        ("RICE_I16", {}),
        ("RICE_I16", {"ZBLANK": -7}),
        ("RICE_I16", {"BLANK": 99}),
        ("GZIP2_I32", {"ZBLANK": 5, "BLANK": 6}),
        ("RICE_D1_ODD", {}),
        ("RICE_D1_ODD", {"ZBLANK": -2147483648}),
    ],
)
def test_layout_blank_is_the_blank_of_astropys_image_header(
    tiled: tuple[Path, FitsIndex], name: str, cards: dict[str, int]
) -> None:
    _, index = tiled
    hdu = by_name(index, name)
    header = hdu.header.copy()
    header.update(cards)
    changed = dataclasses.replace(hdu, header=header)
    assert TileLayout.of(changed).blank == output_image_header(changed).get("BLANK")


def test_a_tile_table_of_another_hdu_is_refused(tiled: tuple[Path, FitsIndex]) -> None:
    path, index = tiled
    reader = LocalFileReader(path)
    table = read_tile_table(reader, by_name(index, "RICE_I16"))
    with pytest.raises(ValueError, match="not that of HDU GZIP2_I32"):
        read_pixels(reader, by_name(index, "GZIP2_I32"), (slice(0, 2), slice(0, 2)), tiles=table)
