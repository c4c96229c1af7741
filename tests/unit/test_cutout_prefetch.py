"""Many stamps on one image: their reads planned and fetched together, then cut from memory."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_array_equal
from PIL import Image

from skycut.cutout.cutplan import plan_cut
from skycut.cutout.engine import Cutout, cut
from skycut.cutout.fitsindex import FitsIndex, HduInfo, named_image, scan_fits
from skycut.cutout.pixels import pixel_segments
from skycut.cutout.prefetch import (
    MEMORY_COST,
    CutRequest,
    PrefetchedReader,
    prefetch,
    prefetch_plans,
)
from skycut.cutout.reader import CountingReader, LocalFileReader
from skycut.cutout.readplan import plan_reads
from skycut.cutout.selection import PNG, Selection
from skycut.cutout.stencil import Circle
from skycut.cutout.tiles import TileTable, read_tile_table
from skycut.errors import NoOverlapError, UsageError

from .test_cutout_engine import sip_header, write_mef

SCALE = 1e-4  # degrees per pixel
STAMP = 25.5 * SCALE  # the radius of a 51x51 stamp
# (x, y) pixel centres: a close pair, a column of three sharing rows, and scattered ones
CENTRES = [(100, 80), (130, 95), (600, 300), (600, 360), (600, 420)]
CENTRES += [(900, 900), (300, 700), (50, 990), (980, 30), (512, 512)]

Tables = Callable[[HduInfo], TileTable]


@pytest.fixture(scope="module")
def mef(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1024² float32 IMAGE with MASK and VARIANCE planes, TAN-SIP WCS."""
    image = np.random.default_rng(21).normal(100.0, 10.0, (1024, 1024)).astype(np.float32)
    path = tmp_path_factory.mktemp("prefetch") / "mef.fits"
    return write_mef(path, image, sip_header((150.0, 2.0), image.shape, scale=SCALE))


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of image, RICE_1 in 64² tiles, with a tiled MASK."""
    rng = np.random.default_rng(22)
    header = sip_header((150.0, 2.0), (1024, 1024), scale=SCALE)
    image = rng.normal(100.0, 10.0, (1024, 1024)).astype(np.float32)
    mask = rng.integers(0, 4, (1024, 1024)).astype(np.int32)
    path = tmp_path_factory.mktemp("prefetch") / "tiled.fits"
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.CompImageHDU(image, header=header, name="IMAGE", tile_shape=(64, 64)),
            fits.CompImageHDU(mask, header=header, name="MASK", tile_shape=(64, 64)),
        ]
    ).writeto(path)
    return path


def stamps(path: Path, centres: list[tuple[int, int]] = CENTRES) -> list[Selection]:
    """51x51 circles on the image's pixel ``centres``."""
    with fits.open(path) as hdul:
        wcs = WCS(hdul["IMAGE"].header)
    out = []
    for x, y in centres:
        ra, dec = wcs.pixel_to_world_values(x, y)
        out.append(Selection(stencil=Circle(float(ra), float(dec), STAMP)))
    return out


def indexed(path: Path) -> tuple[CountingReader, FitsIndex]:
    """A counted reader and the index a worker caches (up to IMAGE), its reads not counted."""
    index = scan_fits(LocalFileReader(path), stop_after=named_image)
    return CountingReader(LocalFileReader(path)), index


def cached_tables(path: Path) -> Tables:
    """Whole tile tables, read once as the worker caches them."""
    tables: dict[int, TileTable] = {}

    def table(hdu: HduInfo) -> TileTable:
        if hdu.index not in tables:
            tables[hdu.index] = read_tile_table(LocalFileReader(path), hdu)
        return tables[hdu.index]

    return table


def without_date(content: bytes) -> bytes:
    """The cutout file without its creation time, the one card two runs may differ in."""
    return re.sub(rb"DATE    = '[^']*'", b"", content)


def cut_each(
    reader: CountingReader | PrefetchedReader,
    requests: list[CutRequest],
    index: FitsIndex | None,
    **options: Any,
) -> list[Cutout | UsageError]:
    """Cut every request; an error a cut raises takes its place."""
    out: list[Cutout | UsageError] = []
    for r in requests:
        options |= {"detail": r.detail, "response_format": r.response_format}
        try:
            out.append(cut(reader, r.selection, source_id="s", index=index, **options))
        except UsageError as e:
            out.append(e)
    return out


def cut_separately(
    path: Path, requests: list[CutRequest], **options: Any
) -> tuple[list[Cutout | UsageError], int]:
    """Cut each request on its own; return the cutouts (or errors) and the requests read."""
    reader, index = indexed(path)
    return cut_each(reader, requests, index, **options), reader.stats.requests


def cut_together(
    path: Path, requests: list[CutRequest], *, tile_tables: Tables | None = None, **options: Any
) -> tuple[list[Cutout | UsageError], int, int]:
    """Prefetch every request, then cut each from memory.

    Returns the cutouts (or errors), the requests the prefetch read and
    those the cuts read.
    """
    reader, index = indexed(path)
    limit = options.get("max_pixels")
    ahead = prefetch(
        reader, requests, source_id="s", index=index, tile_tables=tile_tables, max_pixels=limit
    )
    fetched = reader.stats.requests
    options |= {"cost": MEMORY_COST, "tile_tables": tile_tables}
    out = cut_each(ahead, requests, ahead.index, **options)
    return out, fetched, reader.stats.requests - fetched


def assert_same_results(
    alone: list[Cutout | UsageError], ahead: list[Cutout | UsageError], *, compare: int = 0
) -> None:
    """Each prefetched cut made the same file, or error (its first ``compare`` characters)."""
    for one, other in zip(alone, ahead, strict=True):
        if isinstance(one, UsageError):
            assert type(other) is type(one)
            assert str(other)[: compare or None] == str(one)[: compare or None]
            continue
        assert isinstance(other, Cutout)
        assert other.hdus == one.hdus
        if one.content_type == PNG:
            assert_same_png(other.content, one.content)
        else:
            assert without_date(other.content) == without_date(one.content)


def assert_same_png(content: bytes, expected: bytes) -> None:
    """The same pixels and text, but for the creation time."""
    with Image.open(io.BytesIO(content)) as got, Image.open(io.BytesIO(expected)) as want:
        assert_array_equal(np.asarray(got), np.asarray(want))
        assert {**got.text, "DATE": ""} == {**want.text, "DATE": ""}  # type: ignore[attr-defined]


def test_stamps_cut_from_the_prefetch_are_the_stamps_cut_alone(mef: Path) -> None:
    requests = [CutRequest(s) for s in stamps(mef)]
    alone, separate_requests = cut_separately(mef, requests)
    ahead, fetched, during = cut_together(mef, requests)
    assert_same_results(alone, ahead)
    assert all(isinstance(c, Cutout) and c.shape[0] >= 51 for c in ahead)
    assert during == 0, "every cut read from memory"
    assert 0 < fetched < separate_requests == len(requests)


@pytest.mark.parametrize("cached", [True, False], ids=["tables cached", "tables read here"])
def test_tile_compressed_stamps_too(tiled: Path, cached: bool) -> None:
    requests = [CutRequest(s) for s in stamps(tiled)]
    tables = cached_tables(tiled) if cached else None
    alone, separate_requests = cut_separately(tiled, requests, tile_tables=cached_tables(tiled))
    ahead, fetched, during = cut_together(tiled, requests, tile_tables=tables)
    assert_same_results(alone, ahead)
    assert during == 0, "every cut read from memory, the table rows too"
    assert 0 < fetched < separate_requests


def test_bad_selections_are_left_out_and_fail_as_before(mef: Path) -> None:
    good = stamps(mef, CENTRES[:8])
    far = Selection(stencil=Circle(160.0, 2.0, STAMP))
    centre = stamps(mef, [(512, 512)])[0].stencil
    assert isinstance(centre, Circle)
    huge = Selection(stencil=Circle(centre.ra, centre.dec, 8 * STAMP))  # 409² pixels
    requests = [CutRequest(s) for s in [*good[:4], far, huge, *good[4:]]]
    alone, _ = cut_separately(mef, requests, max_pixels=100_000)
    ahead, fetched, during = cut_together(mef, requests, max_pixels=100_000)
    assert_same_results(alone, ahead)
    assert isinstance(ahead[4], NoOverlapError)
    assert isinstance(ahead[5], UsageError)
    assert "over this service's limit of 100000" in str(ahead[5])
    assert fetched > 0
    assert during == 0


def test_a_preview_asking_for_more_than_the_image_is_left_out(mef: Path) -> None:
    selections = stamps(mef, CENTRES[:3])
    requests = [CutRequest(selections[0], detail="image,mask,variance", response_format=PNG)]
    requests += [CutRequest(selections[1], response_format=PNG), CutRequest(selections[2])]
    alone, _ = cut_separately(mef, requests)
    ahead, _, during = cut_together(mef, requests)
    assert_same_results(alone, ahead)
    assert isinstance(ahead[0], UsageError)
    assert isinstance(ahead[1], Cutout)
    assert ahead[1].content.startswith(b"\x89PNG")
    assert during == 0


@pytest.mark.parametrize("path_name", ["mef", "tiled"])
def test_detail_planes_are_prefetched_too(path_name: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(path_name)
    selections = stamps(path)
    requests = [CutRequest(s, detail="image,mask,variance") for s in selections[:5]]
    requests += [CutRequest(s) for s in selections[5:]]
    tables = cached_tables(path)
    alone, separate_requests = cut_separately(path, requests, tile_tables=tables)
    ahead, fetched, during = cut_together(path, requests, tile_tables=tables)
    assert_same_results(alone, ahead)
    first = ahead[0]
    assert isinstance(first, Cutout)
    expected = ["IMAGE", "MASK", "VARIANCE"] if path_name == "mef" else ["IMAGE", "MASK"]
    assert [h.name for h in first.hdus] == expected
    assert during == 0, "the headers beyond IMAGE were scanned while planning"
    assert fetched < separate_requests


def test_plans_made_first_are_fetched_the_same_way(mef: Path) -> None:
    reader, index = indexed(mef)
    plans = [plan_cut(reader, s, source_id="s", index=index) for s in stamps(mef)]
    ahead = prefetch_plans(reader, plans)
    assert ahead.index is index
    assert ahead.plan is not None
    assert reader.stats.requests == ahead.plan.requests
    needed = [pixel_segments(p.image.hdu, p.image.region.slices) for p in plans]
    assert ahead.held_bytes >= sum(int((hi - lo).sum()) for lo, hi in needed)


def test_what_was_not_fetched_is_read_through_and_counted(mef: Path) -> None:
    reader, index = indexed(mef)
    ahead = prefetch(reader, [CutRequest(stamps(mef)[0])], source_id="s", index=index)
    assert ahead.plan is not None
    start, stop = ahead.plan.spans[0]
    before = reader.stats.requests
    data = mef.read_bytes()
    assert ahead.read_range(start + 10, stop) == data[start + 10 : stop]
    assert reader.stats.requests == before
    assert ahead.read_range(0, 2880) == data[:2880]  # the header: not fetched
    assert ahead.read_range(start - 1, stop) == data[start - 1 : stop]  # one byte short
    assert reader.stats.requests == before + 2


def test_a_file_without_an_index_is_scanned_once(mef: Path) -> None:
    reader = CountingReader(LocalFileReader(mef))
    requests = [CutRequest(s) for s in stamps(mef)]
    ahead = prefetch(reader, requests, source_id="s", index=None)
    assert ahead.index is not None
    assert named_image(ahead.index.hdus[-1])
    before = reader.stats.requests
    for r in requests:
        cut(ahead, r.selection, source_id="s", index=ahead.index, cost=MEMORY_COST)
    assert reader.stats.requests == before


def test_a_truncated_file_falls_back_to_each_cut(tmp_path: Path, mef: Path) -> None:
    path = tmp_path / "truncated.fits"
    path.write_bytes(mef.read_bytes()[: 2880 * 2 + 500 * 1024 * 4])  # IMAGE stops at row 500
    requests = [CutRequest(s) for s in stamps(mef)]
    alone, _ = cut_separately(path, requests)
    ahead, _, _ = cut_together(path, requests)
    # The bytes the message cites depend on the read plan, which differs from memory.
    assert_same_results(alone, ahead, compare=len(f"{path} ends at byte"))
    assert any(isinstance(c, Cutout) for c in ahead)
    assert any(isinstance(c, UsageError) and "ends at byte" in str(c) for c in ahead)


def test_nothing_to_fetch_gives_a_reader_that_reads_through(mef: Path) -> None:
    reader, index = indexed(mef)
    far = CutRequest(Selection(stencil=Circle(160.0, 2.0, STAMP)))
    ahead = prefetch(reader, [far], source_id="s", index=index)
    assert isinstance(ahead, PrefetchedReader)
    assert ahead.held_bytes == 0
    assert reader.stats.requests == 0
    assert ahead.read_range(0, 80) == mef.read_bytes()[:80]


@pytest.mark.parametrize("seed", range(5))
def test_the_memory_cost_plans_exactly_the_needed_segments(seed: int) -> None:
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.integers(0, 10**7, 200))
    stops = starts + rng.integers(1, 5000, 200)
    plan = plan_reads(starts, stops, cost=MEMORY_COST)
    covered = np.zeros(10**7 + 5000, bool)
    for a, b in zip(starts, stops, strict=True):
        covered[a:b] = True
    assert plan.nbytes == int(covered.sum())
    assert plan.parts == plan.spans
    edges = np.flatnonzero(np.diff(np.concatenate([[0], covered.view(np.int8), [0]])))
    assert plan.spans == tuple(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
