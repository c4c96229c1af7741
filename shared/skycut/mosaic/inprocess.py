"""A whole mosaic in one process: every stage, tile by tile, for small outputs.

The sync form of the service (a 1024² mosaic from a few inputs) needs no
fan-out: :func:`make_mosaic` plans, reads each task's box through the
caller's ``read`` (the cutout engine's range reads in the service, an array
slice in tests), reprojects, matches backgrounds if asked, and coadds tile
by tile. The whole output is returned in memory, so this is for outputs the
caller's limit allows; larger ones go through the fan-out with the same
stages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.background import (
    BackgroundModel,
    Plane,
    add_sums,
    correct,
    solve_backgrounds,
    tile_overlaps,
)
from skycut.mosaic.coadd import Combine, coadd_tile
from skycut.mosaic.grid import OutputGrid
from skycut.mosaic.plan import InputImage, MosaicPlan, plan_mosaic
from skycut.mosaic.reproject_tile import Method, TilePlane, reproject_to_tile
from skycut.mosaic.tiles import DEFAULT_TILE_SIZE
from skycut.timing import Steps

__all__ = ["Mosaic", "make_mosaic"]

Reader = Callable[[InputImage, PixelBox], npt.NDArray[np.floating]]


@dataclass(frozen=True)
class Mosaic:
    """A mosaic in memory.

    Attributes
    ----------
    data
        The mosaic, NaN where no input covers it.
    coverage
        The sum of the inputs' footprints.
    count
        How many inputs cover each pixel.
    backgrounds
        The plane subtracted from each input that feeds the mosaic, by ID.
    pixels_read
        Input pixels read.

    """

    data: npt.NDArray[np.float64]
    coverage: npt.NDArray[np.float64]
    count: npt.NDArray[np.int32]
    backgrounds: dict[str, Plane]
    pixels_read: int


def make_mosaic(
    grid: OutputGrid,
    inputs: Sequence[InputImage],
    read: Reader,
    *,
    tile_size: int = DEFAULT_TILE_SIZE,
    method: Method = "bilinear",
    combine: Combine = "mean",
    match_background: bool = False,
    reference: str | None = None,
    model: BackgroundModel = "plane",
    region: str = "the requested region",
    plan: MosaicPlan | None = None,
    steps: Steps | None = None,
) -> Mosaic:
    """Make a mosaic in this process.

    Parameters
    ----------
    grid
        The output grid.
    inputs
        The candidate inputs.
    read
        ``read(image, box)`` returns the pixels of ``box`` of ``image``.
    tile_size, method, combine
        As for the stages (`Tiling`, `reproject_to_tile`, `coadd_tile`).
    match_background, reference, model
        Whether to match backgrounds, and how (`solve_backgrounds`).
    region
        How to name the region in errors.
    plan
        The mosaic's `plan_mosaic` for this grid, inputs, tile size and
        method, if the caller made it already (e.g. to check a limit on it);
        made here otherwise.
    steps
        Where to add the time spent reading (``read``), reprojecting
        (``reproject``), matching backgrounds (``background``) and
        coadding (``coadd``), if given.

    Returns
    -------
    Mosaic
        The mosaic with its coverage, count and backgrounds.

    Raises
    ------
    skycut.errors.NoOverlapError
        If no input lands on the grid.

    """
    if plan is None:
        plan = plan_mosaic(grid, inputs, tile_size=tile_size, method=method, region=region)
    timer = steps if steps is not None else Steps()
    by_id = {image.id: image for image in inputs}
    planes: dict[tuple[int, int], dict[str, TilePlane]] = {}
    for task in plan.tasks:
        image = by_id[task.input_id]
        tile = plan.tiling.tile(task.row, task.col)
        with timer.step("read"):
            pixels = read(image, task.box)
        with timer.step("reproject"):
            plane = reproject_to_tile(pixels, image.wcs, tile, method=method, box=task.box)
        planes.setdefault((tile.row, tile.col), {})[image.id] = plane
    names = plan.input_ids
    backgrounds = {name: Plane() for name in names}
    if match_background:
        with timer.step("background"):
            sums = add_sums(
                tile_overlaps(on_tile, box=plan.tiling.tile(*rc).box, grid_shape=grid.shape)
                for rc, on_tile in planes.items()
            )
            backgrounds = solve_backgrounds(sums, names, reference=reference, model=model)
    with timer.step("coadd"):
        data = np.full(grid.shape, np.nan)
        coverage = np.zeros(grid.shape)
        count = np.zeros(grid.shape, dtype=np.int32)
        for tile in plan.tiling:
            corrected = [
                correct(p, backgrounds[n], box=tile.box)
                for n, p in planes.get((tile.row, tile.col), {}).items()
            ]
            result = coadd_tile(corrected, shape=tile.shape, combine=combine)
            data[tile.box.slices] = result.data
            coverage[tile.box.slices] = result.coverage
            count[tile.box.slices] = result.count
    return Mosaic(data, coverage, count, backgrounds, plan.pixels_read)
