"""MASK and VARIANCE pixels read on a guess with their headers: used if right, dropped if not."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_array_equal

from skycut.cutout.cutplan import plan_cut
from skycut.cutout.engine import cut
from skycut.cutout.fitsindex import named_image, scan_fits
from skycut.cutout.planes import needed_parts, used
from skycut.cutout.reader import LocalFileReader
from skycut.cutout.readplan import ReadCost
from skycut.cutout.selection import Selection
from skycut.cutout.stencil import parse_stencil
from skycut.errors import UsageError

from .test_cutout_engine import sip_header

POLYGON = parse_stencil("POLYGON 10.003 19.998 10.0 20.004 9.996 19.999")


class Offline(LocalFileReader):
    """A file that may no longer be read: every byte must come from memory."""

    def read_range(self, start: int, stop: int) -> bytes:
        raise AssertionError(f"read [{start}, {stop}) after planning")


def exposure(path: Path, mask_dtype: type = np.int32) -> Path:
    rng = np.random.default_rng(3)
    image = rng.normal(100.0, 10.0, size=(200, 300)).astype(np.float32)
    header = sip_header((10.0, 20.0), image.shape)
    mask_header = header.copy()
    mask_header["HIERARCH MP_NO_DATA"] = 8  # a longer header than IMAGE's, within the slack
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(image, header, name="IMAGE"),
            fits.ImageHDU((image > 110).astype(mask_dtype), mask_header, name="MASK"),
            fits.ImageHDU(image / 4, header, name="VARIANCE"),
        ]
    ).writeto(path)
    return path


def test_planes_laid_out_as_the_image_are_cut_from_what_planning_read(tmp_path: Path) -> None:
    path = exposure(tmp_path / "e.fits")
    reader = LocalFileReader(path)
    index = scan_fits(reader, stop_after=named_image)
    selection = Selection(stencil=POLYGON)
    options = {"source_id": "e", "detail": "image,mask,variance"}
    plan = plan_cut(reader, selection, index=index, cost=ReadCost(), **options)  # type: ignore[arg-type]
    assert plan.held
    cutout = cut(Offline(path), selection, index=plan.index, plan=plan, **options)  # type: ignore[arg-type]
    with fits.open(path) as src, fits.open(io.BytesIO(cutout.content)) as out:
        assert cutout.box is not None
        for name in ("IMAGE", "MASK", "VARIANCE"):
            assert_array_equal(out[name].data, src[name].data[cutout.box.slices])


def test_a_wrong_guess_keeps_only_the_images_own_pixels(tmp_path: Path) -> None:
    path = exposure(tmp_path / "e.fits", mask_dtype=np.int16)  # MASK's rows are not where guessed
    reader = LocalFileReader(path)
    index = scan_fits(reader, stop_after=named_image)
    plan = plan_cut(
        reader, Selection(stencil=POLYGON), source_id="e", index=index,
        detail="image,mask,variance", cost=ReadCost(),
    )  # fmt: skip
    image = plan.image
    own = needed_parts(image.hdu, image.region.slices, ReadCost().shared(3))
    assert [(a, a + data.size) for a, data in plan.held] == list(own)  # nothing guessed kept
    # and the cut is still right, its other planes read after their headers
    cutout = cut(
        reader, Selection(stencil=POLYGON), source_id="e", index=index,
        detail="image,mask,variance",
    )  # fmt: skip
    with fits.open(path) as src, fits.open(io.BytesIO(cutout.content)) as out:
        assert cutout.box is not None
        for name in ("IMAGE", "MASK", "VARIANCE"):
            assert_array_equal(out[name].data, src[name].data[cutout.box.slices])


def test_planes_too_large_to_risk_are_not_guessed(tmp_path: Path) -> None:
    """Guessed bytes the network takes longer to move than a round trip are not asked for."""
    path = exposure(tmp_path / "e.fits")
    reader = LocalFileReader(path)
    index = scan_fits(reader, stop_after=named_image)
    options = {"source_id": "e", "detail": "image,mask,variance", "index": index}
    quick = ReadCost(round_trip=0.025, bandwidth=100e6)
    assert plan_cut(reader, Selection(stencil=POLYGON), cost=quick, **options).held  # type: ignore[arg-type]
    # 2 x 72 KB of guessed rows take 29 ms at 5 MB/s: more than the 25 ms round trip
    slow = ReadCost(round_trip=0.025, bandwidth=5e6)
    assert not plan_cut(reader, Selection(stencil=POLYGON), cost=slow, **options).held  # type: ignore[arg-type]


def test_the_bytes_read_ahead_count_in_the_plans_pixels(tmp_path: Path) -> None:
    """A worker holds a cut's pixels from its budget: the rows read on a guess are held too."""
    path = exposure(tmp_path / "e.fits")
    reader = LocalFileReader(path)
    index = scan_fits(reader, stop_after=named_image)
    plan = plan_cut(
        reader, Selection(stencil=POLYGON), source_id="e", index=index,
        detail="image,mask,variance", cost=ReadCost(),
    )  # fmt: skip
    held = sum(data.size for _, data in plan.held)
    assert held > 0
    assert plan.pixels >= plan.region_pixels + held // 4  # float32 planes: 4 bytes a pixel


def test_planning_reserves_the_pixels_it_reads_ahead_before_reading_them(tmp_path: Path) -> None:
    """A worker holds what planning reads on a guess from its budget, before the reads."""
    path = exposure(tmp_path / "e.fits")
    events: list[tuple[str, int]] = []

    class Logged(LocalFileReader):
        def read_range(self, start: int, stop: int) -> bytes:
            events.append(("read", stop - start))
            return super().read_range(start, stop)

    reader = Logged(path)
    index = scan_fits(reader, stop_after=named_image)
    events.clear()
    plan = plan_cut(
        reader, Selection(stencil=POLYGON), source_id="e", index=index,
        detail="image,mask,variance", cost=ReadCost(),
        reserve=lambda pixels: events.append(("reserve", pixels)),
    )  # fmt: skip
    assert plan.held
    reserved = [pixels for kind, pixels in events if kind == "reserve"]
    assert len(reserved) == 1
    assert events[0][0] == "reserve"  # before any read
    # the image's rows and the guessed planes', and the three planes' regions: the plan's
    # pixels when the guess is right, so the worker's hold only shrinks after planning
    assert reserved[0] >= plan.pixels
    # an image alone, or planes whose headers are known, reserve nothing
    none: list[int] = []
    for detail in ("image,mask,variance", "image"):
        plan_cut(
            reader, Selection(stencil=POLYGON), source_id="e", index=plan.index,
            detail=detail, cost=ReadCost(), reserve=none.append,
        )  # fmt: skip
    assert none == []


def test_a_plan_refused_for_its_size_reads_no_pixel(tmp_path: Path) -> None:
    path = exposure(tmp_path / "e.fits")
    reads: list[tuple[int, int]] = []

    class Logged(LocalFileReader):
        def read_range(self, start: int, stop: int) -> bytes:
            reads.append((start, stop))
            return super().read_range(start, stop)

    reader = Logged(path)
    index = scan_fits(reader, stop_after=named_image)
    reads.clear()
    with pytest.raises(UsageError, match="over this service's limit"):
        plan_cut(
            reader, Selection(stencil=POLYGON), source_id="e", index=index,
            detail="image,mask,variance", cost=ReadCost(), max_pixels=100,
        )  # fmt: skip
    image = index.hdus[-1]
    assert all(stop <= image.data_offset or start >= image.data_offset + image.data_size
               for start, stop in reads)  # fmt: skip


@pytest.mark.parametrize(
    ("needed", "kept"),
    [
        ([(10, 20)], [0]),
        ([(10, 20), (105, 110)], [0, 100]),
        ([(25, 45)], [0]),  # two touching chunks make one run
        ([(45, 55)], []),  # beyond the run's end: served by no run whole
        ([(195, 205)], []),  # before the run's start
    ],
)
def test_only_runs_serving_a_needed_range_whole_are_kept(
    needed: list[tuple[int, int]], kept: list[int]
) -> None:
    chunk = np.zeros(40, np.uint8)
    held = ((0, chunk[:30]), (30, chunk[:20]), (100, chunk[:20]), (200, chunk))
    assert [start for start, _ in used(held, needed)] == kept
