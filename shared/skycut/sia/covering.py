"""Cutting a position from every image that covers it: the images found, one work each.

A cutout asked for without an ``ID`` (an async SODA job naming a
``COLLECTION``, a bulk row without ``id``) is cut from every indexed image
its stencil overlaps, narrowed by collection, band, time and data product
type. The images are found exactly as SIA 2.0 finds them for the same
constraints (:func:`skycut.sia.lookup.find_images`), so what a user saw in
an SIA query is what gets cut; they are found once, when the job is
created, and each becomes an ordinary cutout of that image.

Too many images for one position (the ``max_images_per_position``
setting) is a `UsageError` saying how to narrow it; none is an empty
answer, which the caller reports for that position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import product
from typing import TypeVar

from skycut.cutout.intervals import Interval
from skycut.cutout.stencil import Stencil
from skycut.errors import UsageError
from skycut.index.record import ImageRecord
from skycut.index.store import ImageIndex
from skycut.jobs.messages import FoundImage
from skycut.sia.lookup import find_images
from skycut.sia.params import DataProductType, SiaQuery
from skycut.soda.ids import SourceRef
from skycut.soda.params import CutoutSpec, SodaRequest
from skycut.soda.work import CutWork

__all__ = ["CoveringImages", "ImageChoice", "covered_works", "found_image", "works_by_position"]

_Found = TypeVar("_Found")


def found_image(record: ImageRecord) -> FoundImage:
    """Return what a cutout keeps of the image it was found on (collection, band, time)."""
    meta = record.metadata
    return FoundImage(collection=meta.obs_collection, band=meta.filter_name, mjd=meta.t_min)


@dataclass(frozen=True, slots=True)
class ImageChoice:
    """Which images a position is cut from; each constraint's values are alternatives.

    An empty constraint keeps every image; an image whose band or time is
    unknown never meets a band or time constraint (as in SIA 2.0).
    """

    collections: tuple[str, ...] = ()
    bands: tuple[Interval, ...] = ()
    times: tuple[Interval, ...] = ()
    dptypes: tuple[DataProductType, ...] = ()

    def describe(self) -> str:
        """Return the constraints as a user wrote them, ``collection calexp, BAND 5e-07 6e-07``."""
        parts = [f"collection {' or '.join(self.collections)}"] if self.collections else []
        parts += [f"BAND {b.to_soda()}" for b in self.bands]
        parts += [f"TIME {t.to_soda()}" for t in self.times]
        parts += [f"dptype {' or '.join(self.dptypes)}"] if self.dptypes else []
        return ", ".join(parts)


class CoveringImages:
    """Finds the images a stencil overlaps, within a limit per position.

    Parameters
    ----------
    index
        Builds the image index on first use (no client is made before a lookup).
    source_buckets
        The buckets whose images may be cut.
    limit
        The most images one position may be cut from.

    """

    def __init__(
        self, index: Callable[[], ImageIndex], *, source_buckets: Sequence[str], limit: int
    ) -> None:
        self._make_index = index
        self._buckets = tuple(source_buckets)
        self._limit = limit

    @cached_property
    def _index(self) -> ImageIndex:
        return self._make_index()

    def of(self, region: Stencil, choice: ImageChoice) -> tuple[ImageRecord, ...]:
        """Return the images ``region`` overlaps that ``choice`` keeps, oldest first.

        Raises
        ------
        UsageError
            If more than the limit of images would be cut for ``region``.

        """
        query = SiaQuery(
            pos=(region,),
            band=choice.bands,
            time=choice.times,
            collections=choice.collections,
            dptype=choice.dptypes,
            maxrec=self._limit,
        )
        found = find_images(self._index, query, source_buckets=self._buckets)
        if found.overflow:
            narrowed = f" ({choice.describe()})" if choice.describe() else ""
            raise UsageError(
                f"more than {self._limit} images{narrowed} cover {region.to_soda()}, over the "
                "limit per position; narrow it by collection, band or time, or split the "
                "time range"
            )
        return found.records


def works_by_position(
    request: SodaRequest,
    choice: ImageChoice,
    find: Callable[[Stencil, ImageChoice], Sequence[tuple[SourceRef, _Found]]],
) -> list[tuple[CutWork, _Found]]:
    """Return one work per (stencil, BAND, TIME combination, image ``find`` gives for it).

    Each combination's images are asked of ``find`` with ``choice``
    narrowed to its BAND and TIME, which the cut then applies as well;
    each found image comes back beside its work.
    """
    works: list[tuple[CutWork, _Found]] = []
    for stencil, band, time in product(
        request.stencils, request.bands or (None,), request.times or (None,)
    ):
        narrowed = replace(
            choice,
            bands=() if band is None else (band,),
            times=() if time is None else (time,),
        )
        for source, found in find(stencil, narrowed):
            spec = CutoutSpec(source=source, stencil=stencil, band=band, time=time, pol=request.pol)
            works.append((CutWork.of(spec, request), found))
    return works


def covered_works(
    request: SodaRequest, covering: CoveringImages
) -> list[tuple[CutWork, ImageRecord]]:
    """Return one work per (stencil, BAND, TIME combination, covering image) of a request.

    The request names collections instead of IDs (`SodaRequest.by_position`);
    each combination's images are those of its collections that its
    stencil overlaps and that meet its BAND and TIME (`works_by_position`).

    Raises
    ------
    UsageError
        If the request has no stencil, no image covers any of its stencils,
        or a stencil is covered by more images than the limit.

    """
    if not request.stencils:
        raise UsageError("a cutout without ID needs a position: POS, CIRCLE or POLYGON")
    works = works_by_position(
        request,
        ImageChoice(collections=request.collections),
        lambda stencil, choice: [(r.source, r) for r in covering.of(stencil, choice)],
    )
    if not works:
        raise UsageError(
            f"no indexed image of collection {' or '.join(request.collections)} covers "
            + " or ".join(s.to_soda() for s in request.stencils)
            + ("" if not (request.bands or request.times) else " with the BAND and TIME given")
            + "; an SIA query with the same POS and COLLECTION shows what there is"
        )
    return works
