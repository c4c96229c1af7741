"""The sync mosaic service on local files: only planned boxes are read, errors name the region."""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose
from reproject import reproject_interp
from reproject.mosaicking import reproject_and_coadd

from skycut.cutout.reader import CountingReader, LocalFileReader
from skycut.cutout.readplan import ReadCost
from skycut.cutout.stencil import Stencil
from skycut.errors import NoOverlapError, SourceChangedError, UsageError
from skycut.mosaic.request import MosaicRequest, parse_mosaic_request
from skycut.mosaic.service import MosaicService
from skycut.sia.covering import ImageChoice
from skycut.soda.ids import SourceRef

BUCKET = "survey"
SIZE = 1000
SCALE = 1.0 / 3600


def _image(path: Path, crval: tuple[float, float], rotation: float, sky: float) -> None:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = list(crval)
    wcs.wcs.crpix = [SIZE / 2 + 0.5, SIZE / 2 + 0.5]
    wcs.wcs.cdelt = [-SCALE, SCALE]
    t = math.radians(rotation)
    wcs.wcs.pc = [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    data = (sky + 0.01 * x + 0.02 * y + 5 * np.sin(x / 7.0) * np.cos(y / 11.0)).astype(np.float32)
    image = fits.ImageHDU(data, header=wcs.to_header(), name="IMAGE")
    fits.HDUList([fits.PrimaryHDU(), image]).writeto(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _image(tmp_path / "west.fits", (150.0, 2.2), 1.0, 100.0)
    _image(tmp_path / "east.fits", (150.2, 2.21), -2.0, 100.0)
    return tmp_path


class Reader(CountingReader):
    generation = 42


@dataclass
class Local:
    """Local stand-ins for Cloud Storage and the index."""

    folder: Path
    found: tuple[Any, ...] = ()
    readers: list[Reader] = field(default_factory=list)
    written: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    asked: list[tuple[Stencil, ImageChoice]] = field(default_factory=list)

    def open(self, source: SourceRef) -> Reader:
        reader = Reader(LocalFileReader(self.folder / source.name))
        self.readers.append(reader)
        return reader

    def of(self, region: Stencil, choice: ImageChoice) -> tuple[Any, ...]:
        self.asked.append((region, choice))
        return self.found

    def write(
        self, object_name: str, data: bytes, *, content_type: str, expires: datetime | None = None
    ) -> int:
        assert expires is not None
        self.written[object_name] = (data, content_type)
        return len(data)


def service(local: Local, max_inputs: int = 4, max_plane_pixels: int = 10**8) -> MosaicService:
    return MosaicService(
        open_source=local.open,
        covering=lambda: local,
        results=lambda: local,
        max_inputs=max_inputs,
        max_plane_pixels=max_plane_pixels,
        header_chunk_bytes=65536,
        read_cost=ReadCost(),
        result_days=1.0,
    )


def request(**params: str | list[str]) -> MosaicRequest:
    grouped = {k.upper(): v if isinstance(v, list) else [v] for k, v in params.items()}
    return parse_mosaic_request(
        grouped, allowed_buckets=[BUCKET], max_pixels=10_000_000, max_inputs=4
    )


IDS = [f"gs://{BUCKET}/west.fits", f"gs://{BUCKET}/east.fits"]
POS = "RANGE 150.11 150.16 2.19 2.22"  # across the overlap's eastern edge


def test_the_mosaic_matches_reproject_and_reads_only_the_boxes(folder: Path) -> None:
    local = Local(folder)
    made = service(local).make(request(pos=POS, pixscale="0.0004", id=IDS, detail="coverage"))
    data, content_type = local.written[made.object_name]
    assert content_type == "application/fits"
    assert made.object_name.endswith(".fits")
    assert made.inputs == tuple(IDS)
    with fits.open(io.BytesIO(data)) as hdul:
        mosaic = hdul[0].data.astype(np.float64)
        wcs = WCS(hdul[0].header)
        assert hdul[0].header["SC_REGN"] == f"POS={POS}"
        assert list(hdul["PROVENANCE"].data["ID"]) == IDS
        assert list(hdul["PROVENANCE"].data["GENERATION"]) == [42, 42]
        coverage = hdul["COVERAGE"].data
    inputs = []
    for name in ("west.fits", "east.fits"):
        with fits.open(folder / name) as hdul:
            inputs.append((hdul["IMAGE"].data.astype(np.float64), WCS(hdul["IMAGE"].header)))
    expected, footprint = reproject_and_coadd(
        inputs, wcs, shape_out=mosaic.shape, reproject_function=reproject_interp
    )
    assert_allclose(coverage, footprint, atol=1e-6)
    covered = footprint > 0
    assert covered.all(), "the region lies inside the two images"
    assert_allclose(mosaic[covered], expected[covered], rtol=1e-6)
    assert (coverage > 1.5).any(), "the region crosses the overlap"
    # each file's bytes read: its headers and the rows of its box (~110 of 1000)
    for reader in local.readers:
        assert reader.stats.bytes < 0.2 * (folder / "west.fits").stat().st_size


def test_images_are_found_in_the_index_by_region_and_constraints(folder: Path) -> None:
    @dataclass
    class Record:
        source: SourceRef
        hdu: int

    local = Local(folder, found=(Record(SourceRef(BUCKET, "west.fits"), 1),))
    made = service(local).make(
        request(pos=POS, pixscale="0.0004", collection="calexp", responseformat="png")
    )
    assert made.inputs == (IDS[0],)
    region, choice = local.asked[0]
    assert region.to_soda() == POS
    assert choice.collections == ("calexp",)
    data, content_type = local.written[made.object_name]
    assert content_type == "image/png"
    assert data.startswith(b"\x89PNG")


def test_no_indexed_image_is_an_error_naming_the_region(folder: Path) -> None:
    with pytest.raises(NoOverlapError, match=r"no indexed image \(COLLECTION calexp\) covers POS="):
        service(Local(folder)).make(request(pos=POS, pixscale="0.0004", collection="calexp"))


def test_named_images_missing_the_grid_are_an_error_naming_it(folder: Path) -> None:
    local = Local(folder)
    with pytest.raises(
        NoOverlapError, match=re.escape("no image covers POS=CIRCLE 10.0 10.0 0.01")
    ):
        service(local).make(request(pos="CIRCLE 10 10 0.01", pixscale="0.0004", id=IDS))
    assert [r.stats.requests for r in local.readers] == [1, 1], "one header read each"


def test_more_images_than_the_limit_are_refused_before_reading(folder: Path) -> None:
    local = Local(folder, found=tuple(object() for _ in range(5)))
    with pytest.raises(UsageError, match=r"5 images .* more than the limit of 4"):
        service(local).make(request(pos=POS, pixscale="0.0004"))
    assert local.readers == []


def test_planes_over_the_memory_limit_are_refused_before_reading_pixels(folder: Path) -> None:
    local = Local(folder)
    grid = request(pos=POS, pixscale="0.0004", id=IDS).grid
    # both images land on the grid's one tile: two planes of the grid's size
    fits_exactly = service(local, max_plane_pixels=2 * grid.pixels)
    fits_exactly.make(request(pos=POS, pixscale="0.0004", id=IDS))
    local.readers.clear()
    with pytest.raises(UsageError, match=rf"would hold {2 * grid.pixels} reprojected pixels, over"):
        service(local, max_plane_pixels=2 * grid.pixels - 1).make(
            request(pos=POS, pixscale="0.0004", id=IDS)
        )
    assert [r.stats.requests for r in local.readers] == [1, 1], "headers only"


def test_an_input_replaced_while_read_is_mosaicked_again_from_the_live_version(
    folder: Path,
) -> None:
    class Changing(Reader):
        """Gives the headers, then finds the object replaced."""

        def read_range(self, start: int, stop: int) -> bytes:
            if start > 65536:
                raise SourceChangedError(f"{self.name} changed while it was read")
            return super().read_range(start, stop)

    class Replaced(Local):
        def open(self, source: SourceRef) -> Reader:
            reader = (Changing if not self.readers else Reader)(
                LocalFileReader(self.folder / source.name)
            )
            self.readers.append(reader)
            return reader

    local = Replaced(folder)
    made = service(local).make(request(pos=POS, pixscale="0.0004", id=IDS))
    assert made.inputs == tuple(IDS)
    assert len(local.readers) == 4, "both inputs opened again"
    assert isinstance(local.readers[0], Changing)
