"""Pixels in flight: many small cutouts run at once, large ones only as memory allows."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skycut.config import Settings
from skycut.cutout.reader import ReadStats
from skycut.cutout.stencil import Circle
from skycut.soda.ids import SourceRef
from skycut.soda.params import CutoutSpec, SodaRequest
from skycut.worker.budget import PixelBudget
from skycut.worker.cutter import Cutter
from tests.unit.test_worker_cutter_reads import (
    BUCKET,
    NoWatch,
    Source,
    assert_cut_of,
    exposure,  # noqa: F401 - a fixture
    wcs_header,
)


def test_holders_never_exceed_the_budget_and_all_get_their_turn() -> None:
    budget = PixelBudget(10)
    held, most = [0], [0]
    lock = threading.Lock()

    def run(pixels: int) -> None:
        with budget.held(pixels):
            with lock:
                held[0] += min(pixels, 10)
                most[0] = max(most[0], held[0])
            time.sleep(0.002)
            with lock:
                held[0] -= min(pixels, 10)

    sizes = [1, 3, 4, 6, 10, 25, 2, 2, 7, 5] * 5
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, sizes))
    assert most[0] <= 10
    assert most[0] > 6  # small ones did run together
    assert budget.free == 10


def test_a_hold_shrinks_at_once_and_grows_only_when_the_pixels_are_free() -> None:
    budget = PixelBudget(10)
    with budget.held(8) as first:
        first.resize(3)
        assert (first.pixels, budget.free) == (3, 7)
        grown = threading.Event()

        def grow_other() -> None:
            with budget.held(2) as other:
                other.resize(9)  # lets go of its 2, waits for 9
                grown.set()

        thread = threading.Thread(target=grow_other)
        thread.start()
        assert not grown.wait(0.05)
        first.resize(1)  # 9 free now
        assert grown.wait(2)
        thread.join()
    assert budget.free == 10


def test_a_detail_cut_holds_its_budget_before_planning_reads_pixels(
    exposure: Path,  # noqa: F811 - the fixture
) -> None:
    """A first-touch DETAIL cut reads its planes' pixels on a guess while it plans: held first."""
    log: list[tuple[float, float]] = []
    budget = PixelBudget(10**9)
    pixel_reads: list[tuple[int, int]] = []  # (bytes read, pixels held meanwhile)
    with fits.open(exposure) as hdus:
        data_start = hdus["IMAGE"].fileinfo()["datLoc"]

    class Watched(Source):
        def read_range(self, start: int, stop: int) -> bytes:
            if start >= data_start:
                pixel_reads.append((stop - start, budget.capacity - budget.free))
            return super().read_range(start, stop)

    settings = Settings(source_buckets=[BUCKET])
    cutter = Cutter.from_settings(settings, lambda s, g: Watched(exposure, s, log))
    cutter.budget = budget
    source = SourceRef(BUCKET, exposure.name)
    circle = Circle(150.0, 2.0, 2 / 3600)
    spec = CutoutSpec(source=source, stencil=circle)
    request = SodaRequest(sources=(source,), stencils=(circle,), detail="image,mask,variance")
    cutout, _ = cutter.cut(request, spec, None, ReadStats(), NoWatch(), None)  # type: ignore[arg-type]
    assert_cut_of(fits.open(io.BytesIO(cutout.content)), exposure, ["IMAGE", "MASK", "VARIANCE"])
    assert len(pixel_reads) >= 3  # the planes' rows and MASK's and VARIANCE's headers, at once
    # every one made while the cut held at least the pixels of the largest (4 bytes a pixel)
    assert min(held for _, held in pixel_reads) >= max(size for size, _ in pixel_reads) // 4
    assert budget.free == budget.capacity


def test_a_budget_must_hold_a_pixel() -> None:
    with pytest.raises(ValueError, match="at least one pixel"):
        PixelBudget(0)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = np.random.default_rng(3).normal(100, 5, (1024, 1024)).astype(np.float32)
    path = tmp_path_factory.mktemp("budget") / "image.fits"
    fits.PrimaryHDU(data, wcs_header(*data.shape)).writeto(path)
    return path


def most_reads_at_once(path: Path, capacity: int | None, cuts: int = 6) -> tuple[int, int]:
    """Cut stamps in parallel (headers known); return the most pixel reads that overlapped."""
    log: list[tuple[float, float]] = []
    settings = Settings(source_buckets=[BUCKET], cutout_pixels_in_flight=capacity or 10**9)
    cutter = Cutter.from_settings(settings, lambda s, g: Source(path, s, log))
    source = SourceRef(BUCKET, path.name)

    def cut(k: int) -> int:
        circle = Circle(150.0 + k * 1e-3, 2.0, 2 / 3600)
        spec = CutoutSpec(source=source, stencil=circle)
        request = SodaRequest(sources=(source,), stencils=(circle,))
        cutout, _ = cutter.cut(request, spec, None, ReadStats(), NoWatch(), None)  # type: ignore[arg-type]
        return int(fits.open(io.BytesIO(cutout.content))[1].data.size)

    pixels = cut(-1)  # headers read and kept
    log.clear()
    with ThreadPoolExecutor(cuts) as pool:
        list(pool.map(cut, range(cuts)))
    assert len(log) == cuts  # one read of pixels each
    edges = sorted([(t, 1) for t, _ in log] + [(t, -1) for _, t in log], key=lambda e: (e[0], e[1]))
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most, pixels


def test_cutouts_hold_their_planned_pixels_while_they_read(image: Path) -> None:
    together, pixels = most_reads_at_once(image, None)
    assert together >= 4  # an ample budget lets them wait on storage together
    two, _ = most_reads_at_once(image, 2 * pixels)
    assert two == 2
    alone, _ = most_reads_at_once(image, 1)  # each is larger than the budget: one at a time
    assert alone == 1
