"""Planning a mosaic job when it is queued: inputs found, headers read, tasks made.

Done by the API, once: a request that cannot run (no image covers its
region, too many inputs, a plan too big for the job document) is refused
there with a `UsageError` and nothing runs. Each input's generation and
image HDU are kept, so every worker later reads exactly the version the
plan was made from.
"""

from __future__ import annotations

from collections.abc import Callable

from skycut.errors import UsageError
from skycut.jobs.mosaic_state import MosaicInput, MosaicState, MosaicTask
from skycut.jobs.records import MAX_TASKS_BYTES
from skycut.mosaic.plan import plan_mosaic
from skycut.mosaic.request import MosaicRequest
from skycut.mosaic.service import ImageFinder, mosaic_sources
from skycut.mosaic.sources import SourceReader, open_inputs
from skycut.mosaic.tiles import Tiling
from skycut.soda.ids import SourceRef

__all__ = ["MosaicPlanner"]

_BYTES_PER_TASK = 7 * 8  # seven numbers, as Firestore counts them


class MosaicPlanner:
    """Turns a parsed request into a job's plan.

    Parameters
    ----------
    finder
        Returns the finder of indexed images (built on first use).
    open_source
        Opens a range reader of an object's live version.
    header_chunk_bytes
        The first read of each input.
    max_inputs
        The most inputs one mosaic may use.
    tile_size
        The side of the output tiles.

    """

    def __init__(
        self,
        *,
        finder: Callable[[], ImageFinder],
        open_source: Callable[[SourceRef], SourceReader],
        header_chunk_bytes: int,
        max_inputs: int,
        tile_size: int,
    ) -> None:
        self._finder = finder
        self._open_source = open_source
        self._chunk = header_chunk_bytes
        self._max_inputs = max_inputs
        self._tile_size = tile_size

    def pending(self, request: MosaicRequest) -> MosaicState:
        """Return the state of a job not yet planned (PENDING): its request only."""
        return MosaicState(request=request.to_dict(), tile_size=self._tile_size)

    def plan(self, request: MosaicRequest) -> MosaicState:
        """Find the inputs, read their headers and plan the tasks (of each colour's band).

        Raises
        ------
        skycut.errors.NoOverlapError
            If no image covers the region (a `UsageError` naming it).
        skycut.errors.UsageError
            If more images than the limit cover it, an input is unreadable,
            or the plan would not fit in the job document.

        """
        inputs: list[MosaicInput] = []
        tasks: list[MosaicTask] = []
        index: dict[str, int] = {}
        for layer, one in enumerate(request.layers):
            opened = open_inputs(
                self._sources(one), open_source=self._open_source, header_chunk_bytes=self._chunk
            )
            plan = plan_mosaic(
                request.grid,
                [o.image for o in opened],
                tile_size=self._tile_size,
                method=request.method,
                max_inputs=self._max_inputs,
                region=request.region_text,
            )
            by_id = {o.image.id: o for o in opened}
            for name in plan.input_ids:
                if name not in index:
                    index[name] = len(inputs)
                    found = by_id[name]
                    inputs.append(
                        MosaicInput(id=name, hdu=found.hdu.index, generation=found.generation)
                    )
            tasks += (
                MosaicTask(
                    index[t.input_id],
                    t.row,
                    t.col,
                    (t.box.x0, t.box.x1, t.box.y0, t.box.y1),
                    layer,
                )
                for t in plan.tasks
            )
        per_task = _BYTES_PER_TASK + (8 if len(request.layers) > 1 else 0)  # and its layer
        size = len(tasks) * per_task + sum(len(i.id) + 24 for i in inputs)
        if size > MAX_TASKS_BYTES:
            raise UsageError(
                f"the mosaic's {len(tasks)} reprojection tasks take {size} bytes to store, over "
                f"the limit of {MAX_TASKS_BYTES}; ask for a smaller region or fewer images"
            )
        return MosaicState(
            request=request.to_dict(),
            tile_size=self._tile_size,
            inputs=tuple(inputs),
            tasks=tuple(tasks),
            bands=Tiling(request.grid, self._tile_size).rows,
        )

    def _sources(self, request: MosaicRequest) -> list[tuple[SourceRef, int | None]]:
        return mosaic_sources(request, self._finder, max_inputs=self._max_inputs)
