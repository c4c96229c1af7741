"""What each unit of a mosaic stage computes, from the plan and the stored intermediates.

Every unit reads what the previous stage stored under the job and stores
its own output under a name fixed by the plan (`JobObjects.put`), so a unit
run twice (a redelivery, or two deliveries at once) writes the same bytes
to the same object. The numbers are those of the in-process mosaic
(`skycut.mosaic.inprocess.make_mosaic`): the same reprojection, pair sums,
global solve and coaddition, in the same input order.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
import numpy.typing as npt

from skycut.cutout.geometry import PixelBox
from skycut.cutout.readplan import ReadCost
from skycut.cutout.selection import FITS, PNG, ResponseFormat
from skycut.jobs.mosaic_state import LayerTile, MosaicInput, MosaicState, MosaicTask
from skycut.jobs.records import job_objects_prefix
from skycut.mosaic.assemble import InputRecord, MosaicFile, PlaneName, band_bytes
from skycut.mosaic.background import Plane, add_sums, correct, solve_backgrounds, tile_overlaps
from skycut.mosaic.coadd import coadd_tile
from skycut.mosaic.encode import provenance_cards
from skycut.mosaic.intermediate import (
    decode_overlaps,
    decode_tile_plane,
    encode_overlaps,
    encode_tile_plane,
)
from skycut.mosaic.job.scratch import JobObjects
from skycut.mosaic.preview import PreviewCanvas, render_mosaic_preview, render_rgb_preview
from skycut.mosaic.reproject_tile import TilePlane, reproject_to_tile
from skycut.mosaic.request import MosaicRequest
from skycut.mosaic.sources import OpenedInput, SourceReader, open_inputs
from skycut.mosaic.tiles import Tile, Tiling
from skycut.soda.ids import SourceRef

__all__ = ["InputCache", "MadeFiles", "StageWork"]

_CACHED_INPUTS = 64


class InputCache:
    """Inputs opened (headers read) in this process, by ID and generation.

    Parameters
    ----------
    open_source
        Opens a range reader of one object version (the generation planned).
    header_chunk_bytes
        The first read of each input.

    """

    def __init__(
        self,
        *,
        open_source: Callable[[SourceRef, int | None], SourceReader],
        header_chunk_bytes: int,
    ) -> None:
        self._open_source = open_source
        self._chunk = header_chunk_bytes
        self._opened: dict[tuple[str, int | None], OpenedInput] = {}
        self._lock = threading.Lock()

    def open(self, image: MosaicInput) -> OpenedInput:
        """Return the input with its header read, pinned to the planned generation."""
        key = (image.id, image.generation)
        with self._lock:
            found = self._opened.get(key)
        if found is not None:
            return found
        bucket, name = image.id.removeprefix("gs://").split("/", 1)
        (opened,) = open_inputs(
            [(SourceRef(bucket, name), image.hdu)],
            open_source=lambda source: self._open_source(source, image.generation),
            header_chunk_bytes=self._chunk,
        )
        with self._lock:
            if len(self._opened) >= _CACHED_INPUTS:
                self._opened.pop(next(iter(self._opened)))
            self._opened[key] = opened
        return opened


@dataclass(frozen=True)
class MadeFiles:
    """What the assembly stored: each result's object name, type and size."""

    results: tuple[tuple[str, str, str, int], ...]
    """``(result id, object name, content type, size)`` of each result, mosaic first."""


def _plane_name(task: MosaicTask) -> str:
    return f"plane-r{task.row}c{task.col}-{task.input:05d}.npz"


def _tile_name(kind: str, tile: LayerTile, suffix: str) -> str:
    layer, row, col = tile
    return f"{kind}-r{row}c{col}{_layer_suffix(layer)}.{suffix}"


def _preview_name(band: int, layer: int) -> str:
    return f"preview-r{band}{_layer_suffix(layer)}.npz"


def _layer_suffix(layer: int) -> str:
    """Return what names a colour layer's intermediates (nothing for layer 0)."""
    return f"-l{layer}" if layer else ""


_SUFFIXES: dict[str, str] = {FITS: ".fits", PNG: ".png", "image/jpeg": ".jpg"}
_Planes = tuple[npt.NDArray[np.generic], npt.NDArray[np.generic], npt.NDArray[np.generic]]
_PLANE_INDEX: dict[PlaneName, int] = {"MOSAIC": 0, "COVERAGE": 1, "COUNT": 2}


def _tile_key(tile: Tile, layer: int) -> LayerTile:
    """Return the tile of ``layer`` as the plan names tiles: ``(layer, row, col)``."""
    return layer, tile.row, tile.col


class StageWork:
    """The units of one mosaic job's stages.

    Parameters
    ----------
    job_id
        The job.
    state
        Its plan and stage.
    objects
        Where intermediates and results are stored.
    inputs
        The inputs opened in this process.
    read_cost
        The network box reads are planned for.
    expires
        The job's destruction time (every object's Custom-Time).

    """

    def __init__(
        self,
        *,
        job_id: str,
        state: MosaicState,
        objects: JobObjects,
        inputs: InputCache,
        read_cost: ReadCost,
        expires: datetime | None,
    ) -> None:
        self._job_id = job_id
        self._state = state
        self._objects = objects
        self._inputs = inputs
        self._cost = read_cost
        self._expires = expires

    @cached_property
    def request(self) -> MosaicRequest:
        """The request (its grid rebuilt from the stored header once)."""
        return MosaicRequest.from_dict(self._state.request)

    @cached_property
    def tiling(self) -> Tiling:
        """The output grid's tiles."""
        return Tiling(self.request.grid, self._state.tile_size)

    def _tile(self, unit: int) -> tuple[Tile, int]:
        """Return the tile of an ``overlaps`` unit, and its layer."""
        layer, row, col = self._state.tiles[unit]
        return self.tiling.tile(row, col), layer

    def _put(self, name: str, data: bytes) -> None:
        self._objects.put(self._job_id, name, data, expires=self._expires)

    def _planes(self, tile: Tile, layer: int) -> dict[str, TilePlane]:
        """Return the reprojected planes of ``layer`` on ``tile``, by input ID, in task order."""
        state = self._state
        return {
            state.inputs[t.input].id: decode_tile_plane(
                self._objects.get(self._job_id, _plane_name(t))
            )
            for t in state.tasks
            if t.layer_tile == _tile_key(tile, layer)
        }

    # -- the units ---------------------------------------------------------------
    def reproject(self, unit: int, check: Callable[[], None]) -> None:
        """Reproject task ``unit``: read its box of the input, store its plane on the tile."""
        task = self._state.tasks[unit]
        opened = self._inputs.open(self._state.inputs[task.input])
        box = PixelBox(*task.box)
        check()  # a job stopped while the header was read reads no pixels
        pixels = opened.read(box, cost=self._cost)
        tile = self.tiling.tile(task.row, task.col)
        plane = reproject_to_tile(
            pixels, opened.image.wcs, tile, method=self.request.method, box=box
        )
        check()
        self._put(_plane_name(task), encode_tile_plane(plane))

    def overlaps(self, unit: int, check: Callable[[], None]) -> None:
        """Reduce every overlapping pair on tile ``unit`` to its plane-fit sums."""
        tile, layer = self._tile(unit)
        sums = tile_overlaps(
            self._planes(tile, layer), box=tile.box, grid_shape=self.request.grid.shape
        )
        check()
        self._put(_tile_name("overlaps", self._state.tiles[unit], "json"),
                  json.dumps(encode_overlaps(sums)).encode())  # fmt: skip

    def solve(self) -> dict[str, tuple[float, float, float]]:
        """Solve every input's background plane from all tiles' pair sums (one global solve).

        A colour job's layers share no pair (planes pair on a tile of one
        layer), so each layer's inputs are solved as their own groups.
        """
        state = self._state
        parts = (
            decode_overlaps(
                json.loads(self._objects.get(self._job_id, _tile_name("overlaps", t, "json")))
            )
            for t in state.tiles
        )
        planes = solve_backgrounds(add_sums(parts), [i.id for i in state.inputs])
        return {name: (p.a, p.b, p.c) for name, p in planes.items()}

    def _background(self, name: str) -> Plane:
        a, b, c = self._state.backgrounds.get(name, (0.0, 0.0, 0.0))
        return Plane(a=a, b=b, c=c)

    def _coadd(self, tile: Tile, layer: int) -> _Planes:
        """Return a tile's coadd: values, coverage, count (NaN, 0, 0 where no input lands).

        The planes, backgrounds subtracted, combined, as stored in the file.
        """
        if _tile_key(tile, layer) not in self._state.tiles:
            return (
                np.full(tile.shape, np.nan, dtype=np.float32),
                np.zeros(tile.shape, dtype=np.float32),
                np.zeros(tile.shape, dtype=np.int16),
            )
        corrected = [
            correct(plane, self._background(name), box=tile.box)
            for name, plane in self._planes(tile, layer).items()
        ]
        result = coadd_tile(corrected, shape=tile.shape, combine=self.request.combine)
        return (
            result.data.astype(np.float32),
            result.coverage.astype(np.float32),
            result.count.astype(np.int16),
        )

    def _part_name(self, plane: PlaneName, band: int) -> str:
        return f"band-{plane}-r{band}.bin"

    @property
    def _as_fits(self) -> bool:
        return self.request.response_format == FITS

    def band(self, unit: int, check: Callable[[], None]) -> None:
        """Coadd row ``unit`` of tiles; store its band of the file, each plane's bytes, and preview.

        Each tile's reprojected planes are combined (backgrounds subtracted)
        here, not in a stage of their own: no coadded tile is written and
        read back. Each plane's rows of the band are one byte range of the
        file (`MosaicLayout.row_range`), stored as an intermediate of its
        own for `finish` to join; the band's binned preview goes beside
        them. One row of coadded tiles is in memory, and one tile's planes.
        A colour job (no FITS file) stores each layer's preview share.
        """
        request, tiling = self.request, self.tiling
        tiles = [tiling.tile(unit, col) for col in range(tiling.cols)]
        for layer in range(self._state.layers):
            coadds = [self._coadd(tile, layer) for tile in tiles]
            canvas = PreviewCanvas(request.grid.shape).band(tiles[0].box.y0, tiles[0].box.y1)
            for tile, planes in zip(tiles, coadds, strict=True):
                canvas.add(tile.box, planes[0].astype(np.float64))
            check()
            if self._as_fits:
                for plane in MosaicFile.of(request.grid, planes=request.planes).planes:
                    values = np.hstack([planes[_PLANE_INDEX[plane]] for planes in coadds])
                    data = band_bytes(plane, values, width=request.grid.shape[1])
                    self._put(self._part_name(plane, unit), data)
            self._put(_preview_name(unit, layer), canvas.to_bytes())

    def _cards(self) -> dict[str, str | int | float | bool]:
        request = self.request
        return provenance_cards(
            method=request.method,
            combine=request.combine,
            background=request.background,
            region=request.region_text,
            inputs=len(self._state.inputs),
        )

    def results(self) -> list[tuple[str, str, ResponseFormat]]:
        """Return ``(result id, object name, content type)`` of what `finish` writes.

        A job stopped before it recorded them keeps none of them.
        """
        prefix = job_objects_prefix(self._job_id)
        if self._as_fits:
            return [
                ("mosaic", prefix + "mosaic.fits", FITS),
                ("preview", prefix + "preview.png", PNG),
            ]
        kind = self.request.response_format
        return [("mosaic", prefix + "mosaic" + _SUFFIXES[kind], kind)]

    def finish(self, check: Callable[[], None]) -> MadeFiles:
        """Join the bands into the FITS file, render the preview; store them as results.

        The headers, padding and provenance table (`MosaicFile.joints`) are
        stored as intermediates and the file is their concatenation with the
        bands, by Cloud Storage's compose: nothing of the mosaic passes
        through this worker but its binned preview, rendered while the
        service joins the file. A PNG or JPEG response is the preview alone.
        """
        cards = self._cards()
        if not self._as_fits:
            return MadeFiles(results=(self._preview(cards, check),))
        with ThreadPoolExecutor(max_workers=1) as pool:
            joined = pool.submit(self._join, cards, check)
            preview = self._preview(cards, check)
            return MadeFiles(results=(joined.result(), preview))

    def _join(
        self, cards: dict[str, str | int | float | bool], check: Callable[[], None]
    ) -> tuple[str, str, str, int]:
        """Store the joints and join the FITS file from them and the bands."""
        request, state = self.request, self._state
        result_id, name, kind = self.results()[0]
        file = MosaicFile.of(
            request.grid,
            planes=request.planes,
            cards=cards,
            inputs=[
                InputRecord(id=i.id, background=self._background(i.id), generation=i.generation)
                for i in state.inputs
            ],
        )
        parts: list[str] = []
        for k, joint in enumerate(file.joints()):
            self._put(f"joint-{k}.bin", joint)
            parts.append(f"joint-{k}.bin")
            if k < len(file.planes):
                parts += [self._part_name(file.planes[k], b) for b in range(state.bands)]
        check()
        size = self._objects.compose(
            self._job_id, parts, name, content_type=kind, expires=self._expires
        )
        return result_id, name, kind, size

    def _preview(
        self, cards: dict[str, str | int | float | bool], check: Callable[[], None]
    ) -> tuple[str, str, str, int]:
        """Render the preview from the bands' binned shares and store it.

        A colour job's preview draws its layers red, green and blue.
        """
        result_id, name, kind = self.results()[-1]
        if self._state.layers == 1:
            preview = render_mosaic_preview(
                self._binned(0),
                response_format=kind,
                text={key: str(value) for key, value in cards.items()},
            )
        else:
            red, green, blue = (self._binned(layer) for layer in range(self._state.layers))
            preview = render_rgb_preview(red, green, blue, response_format=kind)
        check()
        size = self._objects.write(name, preview, content_type=kind, expires=self._expires)
        return result_id, name, kind, size

    def _binned(self, layer: int) -> npt.NDArray[np.float64]:
        """Return the binned mosaic of ``layer``, joined from the bands' preview shares."""
        canvas = PreviewCanvas(self.request.grid.shape)
        for b in range(self._state.bands):
            canvas.merge(
                PreviewCanvas.from_bytes(self._objects.get(self._job_id, _preview_name(b, layer)))
            )
        return canvas.plane()
