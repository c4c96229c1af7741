"""The mosaic FITS file: written tile by tile, read back whole and exact, never held whole."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose, assert_array_equal

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.assemble import (
    InputRecord,
    MosaicFile,
    MosaicWriter,
    PlaneName,
    band_bytes,
    stream_mosaic,
)
from skycut.mosaic.background import Plane
from skycut.mosaic.grid import OutputGrid, grid_from_parameters
from skycut.mosaic.tiles import Tiling


def grid(width: int = 100, height: int = 70) -> OutputGrid:
    return grid_from_parameters(
        center=(359.99, -30.0), width=width, height=height, pixscale=1e-3, projection="SIN",
        rotation=12.0,
    )  # fmt: skip


def test_tiles_written_in_any_order_make_the_whole_mosaic(tmp_path: Path) -> None:
    g = grid()
    rng = np.random.default_rng(0)
    mosaic = rng.normal(size=g.shape)
    mosaic[:9, :13] = np.nan  # no input there
    coverage = rng.uniform(0, 3, size=g.shape)
    count = rng.integers(0, 4, size=g.shape)
    path = tmp_path / "mosaic.fits"
    writer = MosaicWriter(path, g, planes=("COVERAGE", "COUNT"), cards={"SC_METH": "exact"})
    tiles = list(Tiling(g, 32))
    for tile in reversed(tiles):
        writer.write("MOSAIC", tile.box, mosaic[tile.box.slices])
        writer.write("COUNT", tile.box, count[tile.box.slices])
    for tile in tiles:
        writer.write("COVERAGE", tile.box, coverage[tile.box.slices])
    writer.finish([InputRecord("gs://skycut-sources/a.fits", Plane(0.5, -0.25, 3.0), 17)])
    with fits.open(path) as hdul:
        hdul.verify("exception")
        assert [h.name for h in hdul] == ["PRIMARY", "COVERAGE", "COUNT", "PROVENANCE"]
        assert_array_equal(hdul[0].data, mosaic.astype(np.float32))
        assert_array_equal(hdul["COVERAGE"].data, coverage.astype(np.float32))
        assert_array_equal(hdul["COUNT"].data, count)
        assert hdul[0].header["SC_METH"] == "exact"
        y, x = np.mgrid[0:70:7, 0:100:9]
        for hdu in hdul[:3]:
            assert_allclose(
                WCS(hdu.header).wcs_pix2world(x.ravel(), y.ravel(), 0),
                g.wcs.wcs_pix2world(x.ravel(), y.ravel(), 0),
                rtol=0,
                atol=1e-10,
            )
        row = hdul["PROVENANCE"].data[0]
        assert (row["ID"], row["GENERATION"]) == ("gs://skycut-sources/a.fits", 17)
        assert (row["BG_A"], row["BG_B"], row["BG_C"]) == (0.5, -0.25, 3.0)


def test_unknown_generations_are_null_in_the_table(tmp_path: Path) -> None:
    path = tmp_path / "m.fits"
    writer = MosaicWriter(path, grid(10, 10), planes=())
    writer.write("MOSAIC", Tiling(grid(10, 10), 10).tile(0, 0).box, np.zeros((10, 10)))
    writer.finish([InputRecord("gs://b/x.fits")])
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "PROVENANCE"]
        assert hdul["PROVENANCE"].columns["GENERATION"].null == -1
        assert hdul["PROVENANCE"].data[0]["GENERATION"] == -1


def test_writing_needs_no_more_memory_than_a_tile(tmp_path: Path) -> None:
    g = grid(1024, 1024)  # 4 MiB of float32 pixels, 8 MiB as float64
    tiling = Tiling(g, 128)
    tile_values = np.ones((128, 128))  # 128 KiB
    writer = MosaicWriter(tmp_path / "big.fits", g, planes=("COVERAGE",))
    tracemalloc.start()
    try:
        for tile in tiling:
            writer.write("MOSAIC", tile.box, tile_values[: tile.shape[0], : tile.shape[1]])
            writer.write("COVERAGE", tile.box, tile_values[: tile.shape[0], : tile.shape[1]])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # far below the mosaic's 4 MiB
    with fits.open(tmp_path / "big.fits") as hdul:
        assert (hdul[0].data == 1).all()


def test_full_rows_are_one_byte_range(tmp_path: Path) -> None:
    g = grid(50, 40)
    writer = MosaicWriter(tmp_path / "m.fits", g, planes=("COUNT",))
    start, stop = writer.layout.row_range("COUNT", 10, 20)
    assert stop - start == 10 * 50 * 2
    writer.write("COUNT", Tiling(g, 50).tile(0, 0).box, np.zeros((40, 50)))
    band = np.arange(500).reshape(10, 50) % 7
    with (tmp_path / "m.fits").open("r+b") as f:
        f.seek(start)
        f.write(band.astype(">i2").tobytes())
    writer.finish([])
    with fits.open(tmp_path / "m.fits") as hdul:
        assert_array_equal(hdul["COUNT"].data[10:20], band)


@pytest.mark.parametrize(
    ("plane", "shape", "match"),
    [("COUNT", (10, 10), "no COUNT plane"), ("MOSAIC", (9, 10), "shape")],
)
def test_writes_that_do_not_fit_are_refused(
    tmp_path: Path, plane: str, shape: tuple[int, int], match: str
) -> None:
    g = grid(20, 20)
    writer = MosaicWriter(tmp_path / "m.fits", g, planes=())
    with pytest.raises(ValueError, match=match):
        writer.write(plane, Tiling(g, 10).tile(0, 0).box, np.zeros(shape))  # type: ignore[arg-type]


class _Unseekable(io.RawIOBase):
    """A stream that can only be written in order, as a resumable upload is."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += bytes(b)
        return len(b)


@pytest.mark.parametrize("planes", [(), ("COVERAGE", "COUNT")])
def test_the_streamed_file_is_the_written_file_byte_for_byte(
    tmp_path: Path, planes: tuple[PlaneName, ...]
) -> None:
    g = grid(100, 70)
    rng = np.random.default_rng(1)
    values = {
        "MOSAIC": rng.normal(size=g.shape),
        "COVERAGE": rng.uniform(0, 3, size=g.shape),
        "COUNT": rng.integers(0, 4, size=g.shape),
    }
    values["MOSAIC"][:5, :20] = np.nan
    cards = {"SC_METH": "bilinear", "SC_NIN": 2}
    inputs = [
        InputRecord("gs://b/a.fits", Plane(0.5, -0.25, 3.0), 17),
        InputRecord("gs://b/bb.fits"),
    ]
    path = tmp_path / "mosaic.fits"
    writer = MosaicWriter(path, g, planes=planes, cards=cards)
    for name in writer.planes:
        writer.write(name, PixelBox(0, 100, 0, 70), values[name])
    writer.finish(inputs)
    out = _Unseekable()

    def bands(name: PlaneName) -> Any:
        return (values[name][y : y + 32] for y in range(0, 70, 32))  # 32, 32 and 6 rows

    size = stream_mosaic(out, g, bands, planes=planes, cards=cards, inputs=inputs)
    assert size == len(out.data) == path.stat().st_size
    assert bytes(out.data) == path.read_bytes()
    with fits.open(io.BytesIO(bytes(out.data))) as hdul:
        hdul.verify("exception")


def test_bands_that_miss_rows_are_refused() -> None:
    g = grid(10, 7)
    with pytest.raises(ValueError, match="hold 6 rows of 7"):
        stream_mosaic(_Unseekable(), g, lambda _: [np.zeros((6, 10))], planes=())
    with pytest.raises(ValueError, match="does not fit"):
        stream_mosaic(_Unseekable(), g, lambda _: [np.zeros((7, 9))], planes=())


@pytest.mark.parametrize("planes", [(), ("COVERAGE", "COUNT")])
def test_bands_written_apart_and_joined_make_the_streamed_file(
    planes: tuple[PlaneName, ...],
) -> None:
    g = grid(100, 70)
    rng = np.random.default_rng(4)
    values = {
        "MOSAIC": rng.normal(size=g.shape),
        "COVERAGE": rng.uniform(0, 3, size=g.shape),
        "COUNT": rng.integers(0, 4, size=g.shape),
    }
    cards = {"SC_METH": "exact"}
    inputs = [InputRecord("gs://b/a.fits", Plane(0.5, -0.25, 3.0), 17)]
    streamed = _Unseekable()
    stream_mosaic(
        streamed, g, lambda name: [values[name]], planes=planes, cards=cards, inputs=inputs
    )
    file = MosaicFile.of(g, planes=planes, cards=cards, inputs=inputs)
    joints = file.joints()
    assert len(joints) == len(file.planes) + 1
    pieces = []
    for name, joint in zip(file.planes, joints, strict=False):
        pieces.append(joint)  # each band written by a worker of its own, as an object
        pieces += [band_bytes(name, values[name][y : y + 32], width=100) for y in (0, 32, 64)]
    pieces.append(joints[-1])
    assert b"".join(pieces) == bytes(streamed.data)
    with pytest.raises(ValueError, match="not 100 pixels wide"):
        band_bytes("MOSAIC", values["MOSAIC"][:, :99], width=100)
