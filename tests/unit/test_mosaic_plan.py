"""Planning: one task per overlapping (input, tile), boxes that read little more than needed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skycut.cutout.geometry import PixelBox
from skycut.errors import NoOverlapError, UsageError
from skycut.mosaic.grid import OutputGrid, grid_from_parameters
from skycut.mosaic.inprocess import make_mosaic
from skycut.mosaic.plan import InputImage, ReprojectTask, plan_mosaic
from skycut.mosaic.sampling import transfer
from tests.unit.test_mosaic_sky import make_wcs, offset

CENTRE = (0.0, -45.0)


def field() -> list[InputImage]:
    """A 3x3 survey field of 150² exposures overlapping by ~20%, a little rotated, and one far."""
    images = []
    for i in range(3):
        for j in range(3):
            lon, lat = offset(*CENTRE, (i - 1) * 0.036, (j - 1) * 0.036)
            wcs = make_wcs(lon, lat, shape=(150, 150), pixscale=3e-4, rotation=i - j)
            images.append(InputImage(f"gs://b/exp{i}{j}.fits", wcs, (150, 150)))
    far = make_wcs(*offset(*CENTRE, 1.0, 0.0), shape=(150, 150), pixscale=3e-4)
    return [*images, InputImage("gs://b/far.fits", far, (150, 150))]


def grid() -> OutputGrid:
    return grid_from_parameters(center=CENTRE, width=300, height=280, pixscale=3e-4)


def test_every_overlapping_pair_is_one_task_and_far_inputs_none() -> None:
    plan = plan_mosaic(grid(), field(), tile_size=64)
    assert "gs://b/far.fits" not in plan.input_ids
    assert len(plan.input_ids) == 9
    pairs = [(t.input_id, t.row, t.col) for t in plan.tasks]
    assert len(pairs) == len(set(pairs))
    # every tile has at least one task (the field covers the grid), some several
    counts = [len(plan.tasks_for(t.row, t.col)) for t in plan.tiling]
    assert min(counts) >= 1
    assert max(counts) >= 2


def test_tasks_read_at_most_one_and_a_half_times_the_pixels_that_land() -> None:
    g = grid()
    images = field()[:9]
    plan = plan_mosaic(g, images, tile_size=64)
    landing = 0
    for image in images:
        y, x = np.mgrid[0:150, 0:150].astype(float)
        gx, gy = transfer(image.wcs, g.wcs, x.ravel(), y.ravel())
        landing += int(
            (
                (gx >= -0.5) & (gx <= g.shape[1] - 0.5) & (gy >= -0.5) & (gy <= g.shape[0] - 0.5)
            ).sum()
        )
    assert landing <= plan.pixels_read <= 1.5 * landing


def test_tasks_travel_as_json() -> None:
    task = ReprojectTask("gs://b/x.fits", 2, 3, PixelBox(1, 20, 5, 40))
    assert ReprojectTask.from_dict(json.loads(json.dumps(task.to_dict()))) == task
    assert task.tile_key == "r2c3"


def test_a_region_no_image_covers_is_an_error_naming_it() -> None:
    with pytest.raises(NoOverlapError, match=r"no image covers CIRCLE 10 10 0\.1"):
        plan_mosaic(grid(), field()[9:], region="CIRCLE 10 10 0.1")


def test_too_many_inputs_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"9 images cover the requested region, more than .* 4"):
        plan_mosaic(grid(), field(), tile_size=64, max_inputs=4)


def test_the_in_process_mosaic_reads_only_the_planned_boxes() -> None:
    images = field()
    data = {image.id: np.full(image.shape, 7.0) for image in images}
    reads: list[tuple[str, PixelBox]] = []

    def read(image: InputImage, box: PixelBox) -> np.ndarray:
        reads.append((image.id, box))
        return data[image.id][box.slices]

    mosaic = make_mosaic(grid(), images, read, tile_size=64)
    assert len(reads) == len(plan_mosaic(grid(), images, tile_size=64).tasks)
    assert all(name != "gs://b/far.fits" for name, _ in reads)
    assert np.nanmax(np.abs(mosaic.data - 7.0)) < 1e-9
    assert (mosaic.count >= 1).mean() > 0.99  # the field covers the grid but its very corners
