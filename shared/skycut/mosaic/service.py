"""The synchronous mosaic: find the inputs, read their boxes, mosaic, store the result.

`MosaicService.make` runs a parsed `MosaicRequest` in this process:

1. the inputs are the ``ID`` values, or the indexed images overlapping the
   request's region that its ``COLLECTION``/``BAND``/``TIME`` keep (found
   as SIA 2.0 finds them, `skycut.sia.covering.CoveringImages`); none is a
   `NoOverlapError` naming the region, more than the limit a `UsageError`
   saying how to narrow the request, before any image is read;
2. each input's headers are read (`skycut.mosaic.sources.open_inputs`);
3. the mosaic is planned (`skycut.mosaic.plan.plan_mosaic`); one whose
   reprojected planes (tile pixels times the inputs landing on the tile,
   all held until the coadd) exceed the memory limit is a `UsageError`;
   then `skycut.mosaic.inprocess.make_mosaic` reads each planned box by
   range requests, reprojects, matches backgrounds if asked and coadds;
4. the FITS file or preview is written to the results bucket, with an
   expiry as cutouts have, and its object name returned.

The service takes what it uses (a reader opener, an image finder, a result
store) so no cloud client is imported here and tests can hand in local ones.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Protocol

from skycut.cutout.geometry import PixelBox
from skycut.cutout.readplan import ReadCost
from skycut.cutout.selection import FITS, JPEG, ResponseFormat
from skycut.cutout.stencil import Stencil
from skycut.errors import NoOverlapError, SourceChangedError, UsageError
from skycut.index.record import ImageRecord
from skycut.logs import log
from skycut.mosaic.assemble import InputRecord
from skycut.mosaic.background import Plane
from skycut.mosaic.encode import mosaic_fits, mosaic_preview, provenance_cards
from skycut.mosaic.inprocess import Mosaic, make_mosaic
from skycut.mosaic.plan import InputImage, MosaicPlan, plan_mosaic
from skycut.mosaic.preview import PreviewCanvas, render_rgb_preview
from skycut.mosaic.request import MosaicRequest
from skycut.mosaic.sources import OpenedInput, SourceReader, open_inputs
from skycut.mosaic.tiles import DEFAULT_TILE_SIZE
from skycut.sia.covering import ImageChoice
from skycut.soda.ids import SourceRef
from skycut.timing import Steps

__all__ = ["ImageFinder", "MadeMosaic", "MosaicService", "ResultStore", "mosaic_sources"]

_EXTENSIONS: dict[ResponseFormat, str] = {FITS: ".fits", JPEG: ".jpg"}


class ImageFinder(Protocol):
    """Finds the indexed images a region overlaps (`skycut.sia.covering.CoveringImages`)."""

    def of(self, region: Stencil, choice: ImageChoice) -> tuple[ImageRecord, ...]:
        """Return the images ``region`` overlaps that ``choice`` keeps."""
        ...


class ResultStore(Protocol):
    """Writes result objects (`skycut.storage.gcs.ResultWriter`)."""

    def write(
        self, object_name: str, data: bytes, *, content_type: str, expires: datetime | None = None
    ) -> int:
        """Upload one result; return its size."""
        ...


@dataclass(frozen=True)
class MadeMosaic:
    """A mosaic stored in the results bucket.

    Attributes
    ----------
    object_name
        Its object in the results bucket.
    content_type
        FITS, PNG or JPEG.
    inputs
        The IDs of the inputs that feed it.
    size
        Its size in bytes.

    """

    object_name: str
    content_type: ResponseFormat
    inputs: tuple[str, ...]
    size: int


class MosaicService:
    """Makes synchronous mosaics.

    Parameters
    ----------
    open_source
        Opens a range reader of an object's live version.
    covering
        Returns the finder of indexed images (built on first use).
    results
        Returns the result store (built on first use).
    max_inputs
        The most inputs one mosaic may use.
    max_plane_pixels
        The most reprojected pixels one mosaic may hold in memory: the
        output pixels of each tile times the inputs landing on it.
    header_chunk_bytes
        The first read of each input, to catch its headers.
    read_cost
        The network box reads are planned for.
    result_days
        How long a result is kept (the results bucket deletes it after).
    tile_size
        The tiles the mosaic is made in.

    """

    def __init__(
        self,
        *,
        open_source: Callable[[SourceRef], SourceReader],
        covering: Callable[[], ImageFinder],
        results: Callable[[], ResultStore],
        max_inputs: int,
        max_plane_pixels: int,
        header_chunk_bytes: int,
        read_cost: ReadCost,
        result_days: float,
        tile_size: int = DEFAULT_TILE_SIZE,
    ) -> None:
        self._open_source = open_source
        self._make_covering = covering
        self._make_results = results
        self._max_inputs = max_inputs
        self._max_plane_pixels = max_plane_pixels
        self._chunk = header_chunk_bytes
        self._cost = read_cost
        self._keep = timedelta(days=result_days)
        self._tile_size = tile_size

    @cached_property
    def _covering(self) -> ImageFinder:
        return self._make_covering()

    @cached_property
    def _results(self) -> ResultStore:
        return self._make_results()

    def make(self, request: MosaicRequest) -> MadeMosaic:
        """Make the mosaic a request asks for and store it.

        Raises
        ------
        skycut.errors.NoOverlapError
            If no image covers the region (a `UsageError`, 400).
        skycut.errors.UsageError
            If more images than the limit cover it, their reprojected planes
            would exceed the memory limit, or an input is unreadable.
        skycut.errors.ServiceUnavailableError
            If storage or the index cannot be reached, or an input is
            replaced again while the mosaic is made a second time.

        """
        # Every read of an input is pinned to the generation its header came from; an
        # input replaced meanwhile makes the mosaic again from the live versions, once.
        try:
            return self._make(request)
        except SourceChangedError as e:
            log(logging.INFO, "mosaic input replaced; making it again", error=e.to_text())
            return self._make(request)

    def _make(self, request: MosaicRequest) -> MadeMosaic:
        steps = Steps()
        if request.color == "rgb":
            return self._make_colour(request, steps)
        mosaic, by_id = self._mosaic(request, steps)
        used = tuple(mosaic.backgrounds)
        cards = provenance_cards(
            method=request.method,
            combine=request.combine,
            background=request.background,
            region=request.region_text,
            inputs=len(used),
        )
        with steps.step("encode"):
            if request.response_format == FITS:
                records = [_record(by_id[name], mosaic.backgrounds[name]) for name in used]
                content = mosaic_fits(
                    mosaic, request.grid, planes=request.planes, cards=cards, inputs=records
                )
            else:
                content = mosaic_preview(
                    mosaic, response_format=request.response_format, cards=cards
                )
        return self._store(request, content, used, pixels_read=mosaic.pixels_read, steps=steps)

    def _store(
        self,
        request: MosaicRequest,
        content: bytes,
        used: tuple[str, ...],
        *,
        pixels_read: int,
        steps: Steps,
    ) -> MadeMosaic:
        """Write a made mosaic (or its preview) to the results bucket, and log how it went."""
        name = (
            f"mosaics/{uuid.uuid4().hex}/mosaic{_EXTENSIONS.get(request.response_format, '.png')}"
        )
        with steps.step("write"):
            size = self._results.write(
                name,
                content,
                content_type=request.response_format,
                expires=datetime.now(UTC) + self._keep,
            )
        log(
            logging.INFO,
            "mosaic served",
            object_name=name,
            inputs=len(used),
            pixels=request.grid.pixels,
            pixels_read=pixels_read,
            steps_ms=steps.as_log(),
        )
        return MadeMosaic(name, request.response_format, used, size)

    def _mosaic(
        self, request: MosaicRequest, steps: Steps
    ) -> tuple[Mosaic, dict[str, OpenedInput]]:
        """Find, open, plan and make the mosaic a request asks for, in memory."""
        with steps.step("find"):
            sources = self._sources(request)
        with steps.step("headers"):
            opened = open_inputs(
                sources, open_source=self._open_source, header_chunk_bytes=self._chunk
            )
        by_id = {o.image.id: o for o in opened}
        inputs = [o.image for o in opened]
        with steps.step("plan"):
            plan = self._plan(request, inputs)
        with steps.step("mosaic"):
            mosaic = make_mosaic(
                request.grid,
                inputs,
                lambda image, box: by_id[image.id].read(box, cost=self._cost),
                tile_size=self._tile_size,
                method=request.method,
                combine=request.combine,
                match_background=request.background == "match",
                region=request.region_text,
                plan=plan,
                steps=steps,
            )
        return mosaic, by_id

    def _make_colour(self, request: MosaicRequest, steps: Steps) -> MadeMosaic:
        """Make each band's mosaic on the request's grid and store them as one colour preview."""
        planes = []
        used: list[str] = []
        read = 0
        for one in request.layers:
            mosaic, _ = self._mosaic(one, steps)
            read += mosaic.pixels_read
            ny, nx = mosaic.data.shape
            canvas = PreviewCanvas((ny, nx))
            canvas.add(PixelBox(0, nx, 0, ny), mosaic.data)
            planes.append(canvas.plane())
            used += [name for name in mosaic.backgrounds if name not in used]
        with steps.step("encode"):
            red, green, blue = planes
            content = render_rgb_preview(red, green, blue, response_format=request.response_format)
        return self._store(request, content, tuple(used), pixels_read=read, steps=steps)

    def _plan(self, request: MosaicRequest, inputs: list[InputImage]) -> MosaicPlan:
        """Plan the mosaic, refusing one whose reprojected planes would not fit in memory."""
        plan = plan_mosaic(
            request.grid,
            inputs,
            tile_size=self._tile_size,
            method=request.method,
            max_inputs=self._max_inputs,
            region=request.region_text,
        )
        tiles = plan.tiling
        # make_mosaic keeps every plane until the backgrounds are solved: each is at most its tile
        planes = sum(math.prod(tiles.tile(t.row, t.col).shape) for t in plan.tasks)
        if planes > self._max_plane_pixels:
            ny, nx = request.grid.shape
            raise UsageError(
                f"{len(plan.input_ids)} images overlap {request.region_text}: the {nx}x{ny} "
                f"mosaic would hold {planes} reprojected pixels, over the limit of "
                f"{self._max_plane_pixels} for a synchronous mosaic; use a coarser PIXSCALE, "
                "a smaller region or fewer images (COLLECTION, BAND, TIME or ID)"
            )
        return plan

    def _sources(self, request: MosaicRequest) -> list[tuple[SourceRef, int | None]]:
        return mosaic_sources(request, lambda: self._covering, max_inputs=self._max_inputs)


def mosaic_sources(
    request: MosaicRequest, finder: Callable[[], ImageFinder], *, max_inputs: int
) -> list[tuple[SourceRef, int | None]]:
    """Return a mosaic's inputs with their HDUs: the ``ID``s given, else the images found.

    ``finder`` is called only when the request names no ``ID`` (it may build
    the index's client).

    Raises
    ------
    skycut.errors.NoOverlapError
        If no indexed image (of the ``COLLECTION``, ``BAND`` and ``TIME`` asked
        for) covers the region.
    skycut.errors.UsageError
        If more than ``max_inputs`` do.

    """
    images = request.images
    if images.ids:
        return [(source, None) for source in images.ids]
    choice = ImageChoice(collections=images.collections, bands=images.bands, times=images.times)
    found = finder().of(request.region, choice)
    narrowed = f" ({images.describe()})" if images.describe() else ""
    if not found:
        raise NoOverlapError(f"no indexed image{narrowed} covers {request.region_text}")
    if len(found) > max_inputs:
        raise UsageError(
            f"{len(found)} images{narrowed} cover {request.region_text}, more than the "
            f"limit of {max_inputs} for one mosaic; ask for a smaller region or "
            "select fewer images (COLLECTION, BAND, TIME)"
        )
    return [(record.source, record.hdu) for record in found]


def _record(opened: OpenedInput, background: Plane) -> InputRecord:
    return InputRecord(id=opened.image.id, background=background, generation=opened.generation)
