"""Planning a mosaic: which input feeds which tile, from which pixels.

The plan is the list of reprojection tasks, one per (input, tile) pair that
overlaps, each with the box of input pixels it reads; the fan-out sends one
message per task and the coadd of a tile waits for that tile's tasks. Tasks
are small values that travel as JSON (`ReprojectTask.to_dict`), so the plan
is made once, where the request is parsed, and never recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from astropy.wcs import WCS

from skycut.cutout.geometry import PixelBox
from skycut.errors import NoOverlapError, UsageError
from skycut.mosaic.grid import OutputGrid
from skycut.mosaic.reproject_tile import Method, input_box
from skycut.mosaic.tiles import DEFAULT_TILE_SIZE, Tiling

__all__ = ["InputImage", "MosaicPlan", "ReprojectTask", "plan_mosaic"]


@dataclass(frozen=True)
class InputImage:
    """An input as the planner sees it: its ID and where its pixels lie on the sky.

    Attributes
    ----------
    id
        The image's ID (``gs://bucket/object``).
    wcs
        Its 2-D celestial WCS, distortions included.
    shape
        Its ``(ny, nx)``.

    """

    id: str
    wcs: WCS = field(compare=False, repr=False)
    shape: tuple[int, int]


@dataclass(frozen=True)
class ReprojectTask:
    """Reproject ``box`` of input ``input_id`` onto tile ``(row, col)``."""

    input_id: str
    row: int
    col: int
    box: PixelBox

    @property
    def tile_key(self) -> str:
        """The tile's name, as `Tile.key`."""
        return f"r{self.row}c{self.col}"

    def to_dict(self) -> dict[str, Any]:
        """Return the task as JSON-ready values."""
        b = self.box
        return {"input_id": self.input_id, "row": self.row, "col": self.col,
                "box": [b.x0, b.x1, b.y0, b.y1]}  # fmt: skip

    @classmethod
    def from_dict(cls, item: dict[str, Any]) -> ReprojectTask:
        """Return the task `to_dict` gave."""
        x0, x1, y0, y1 = (int(v) for v in item["box"])
        return cls(str(item["input_id"]), int(item["row"]), int(item["col"]),
                   PixelBox(x0, x1, y0, y1))  # fmt: skip


@dataclass(frozen=True)
class MosaicPlan:
    """The tasks of one mosaic.

    Attributes
    ----------
    tiling
        The output grid's tiles.
    tasks
        One per overlapping (input, tile) pair, input by input in the order given.

    """

    tiling: Tiling
    tasks: tuple[ReprojectTask, ...]

    @property
    def input_ids(self) -> list[str]:
        """The inputs that feed the mosaic, in the order given (others are left out)."""
        return list(dict.fromkeys(t.input_id for t in self.tasks))

    def tasks_for(self, row: int, col: int) -> list[ReprojectTask]:
        """Return the tasks whose planes a tile's coadd needs."""
        return [t for t in self.tasks if (t.row, t.col) == (row, col)]

    @property
    def pixels_read(self) -> int:
        """Input pixels all tasks read together."""
        return sum(t.box.shape[0] * t.box.shape[1] for t in self.tasks)


def plan_mosaic(
    grid: OutputGrid,
    inputs: Sequence[InputImage],
    *,
    tile_size: int = DEFAULT_TILE_SIZE,
    method: Method = "bilinear",
    max_inputs: int | None = None,
    region: str = "the requested region",
) -> MosaicPlan:
    """Plan the reprojection tasks of a mosaic.

    Parameters
    ----------
    grid
        The output grid.
    inputs
        The candidate inputs (from the index; some may miss the grid).
    tile_size
        Tile side in pixels.
    method
        The reprojection method (its kernel sets how far boxes reach).
    max_inputs
        The most inputs a mosaic may use, if limited.
    region
        How to name the region in errors (e.g. the ``POS`` value).

    Returns
    -------
    MosaicPlan
        The tiling and the tasks.

    Raises
    ------
    skycut.errors.NoOverlapError
        If no input lands on the grid.
    skycut.errors.UsageError
        If more than ``max_inputs`` inputs land on it.

    """
    tiling = Tiling(grid, tile_size)
    tasks = []
    for image in inputs:
        for tile in tiling.touched_by(image.wcs, image.shape):
            box = input_box(tile, image.wcs, image.shape, method=method)
            if box is not None:
                tasks.append(ReprojectTask(image.id, tile.row, tile.col, box))
    plan = MosaicPlan(tiling=tiling, tasks=tuple(tasks))
    if not tasks:
        raise NoOverlapError(f"no image covers {region}")
    used = len(plan.input_ids)
    if max_inputs is not None and used > max_inputs:
        raise UsageError(
            f"{used} images cover {region}, more than the limit of {max_inputs} for one "
            "mosaic; ask for a smaller region or select fewer images (COLLECTION, BAND, TIME)"
        )
    return plan
