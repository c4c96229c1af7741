"""Cutting one task from one version of its source, however often the source changes.

Every read goes through a reader pinned to one generation of the object
(`VersionedReader`; on Cloud Storage, `skycut.storage.gcs.GcsRangeReader`).
Header indexes and tile tables come from a cache keyed by object version;
a replacement seen during a cut (`SourceChangedError`) makes the cut start
over on the live version, and an answer made from cached headers alone is
confirmed against the live object. Cutouts of one image in a message can be
fetched together (`prefetch`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from skycut.config import Settings
from skycut.cutout.cutplan import plan_cut
from skycut.cutout.engine import Cutout, cut
from skycut.cutout.fitsindex import FitsIndex, HduInfo, named_image, scan_fits
from skycut.cutout.prefetch import MEMORY_COST
from skycut.cutout.reader import CountingReader, RangeReader, ReadStats, RememberingReader
from skycut.cutout.readplan import ReadCost
from skycut.cutout.tiles import TileTable, read_tile_table
from skycut.errors import SkycutError, SourceChangedError, UsageError
from skycut.jobs.messages import CutoutTask
from skycut.soda.ids import ObjectVersion, SourceRef, check_source
from skycut.soda.params import CutoutSpec, SodaRequest
from skycut.storage.cache import SourceCache
from skycut.worker.budget import PixelBudget
from skycut.worker.groups import SharedSource, prefetch_group
from skycut.worker.watch import JobWatch, WatchedReader

__all__ = ["CutLimits", "Cutter", "Spec", "VersionedReader"]

Spec = tuple[SodaRequest, CutoutSpec]
"""A task's work as a one-cutout request (its options) and that cutout (source, filters)."""

_ATTEMPTS = 3
"""Cuts of one task at most, when its source is replaced under it each time."""


class VersionedReader(RangeReader, Protocol):
    """A reader of one version of an object: the one given, or the one first read."""

    @property
    def version(self) -> ObjectVersion | None:
        """The version read; None before the first read."""
        ...

    def confirm(self) -> ObjectVersion:
        """Return the version read, asking the store if no read has shown it yet."""
        ...


@dataclass(frozen=True)
class CutLimits:
    """What a worker may cut: buckets, header chunk, pixels per cutout."""

    source_buckets: Collection[str]
    header_chunk_bytes: int
    max_cutout_pixels: int


@dataclass
class Cutter:
    """Cuts tasks from sources opened with ``open_source(source, generation or None)``.

    A cut alone holds its planned pixels from ``budget`` (the process's) while
    it reads and encodes them, and what its planning reads ahead before it
    reads it; cuts of a prefetched group share pixels the group read at once.
    """

    open_source: Callable[[SourceRef, int | None], VersionedReader]
    limits: CutLimits
    cost: ReadCost
    budget: PixelBudget
    sources: SourceCache = field(default_factory=SourceCache)

    @classmethod
    def from_settings(
        cls, settings: Settings, open_source: Callable[[SourceRef, int | None], VersionedReader]
    ) -> Cutter:
        """Return a cutter with the limits and read costs ``settings`` configure."""
        return cls(
            open_source=open_source,
            limits=CutLimits(
                source_buckets=settings.source_buckets,
                header_chunk_bytes=settings.header_chunk_bytes,
                max_cutout_pixels=settings.max_cutout_pixels,
            ),
            cost=settings.read_cost(),
            budget=PixelBudget(settings.cutout_pixels_in_flight),
        )

    def spec(self, task: CutoutTask) -> Spec | UsageError:
        """Return a task's cutout built from its work (no text parsed), or why it cannot run."""
        work = task.work
        try:
            check_source(work.source, allowed_buckets=self.limits.source_buckets)
            spec = work.spec()
        except UsageError as e:
            return e
        request = SodaRequest(
            sources=(spec.source,),
            stencils=() if spec.stencil is None else (spec.stencil,),
            bands=() if spec.band is None else (spec.band,),
            times=() if spec.time is None else (spec.time,),
            pol=spec.pol,
            response_format=work.response_format,
            detail=work.detail,
            mask_outside=work.mask_outside,
        )
        return request, spec

    def _open(
        self, source: SourceRef, stats: ReadStats, watch: JobWatch
    ) -> tuple[VersionedReader, RangeReader]:
        """Return a reader of the version of ``source`` last seen, bare and wrapped for cuts."""
        gcs = self.open_source(source, self.sources.latest(source))
        # remembers the header chunk, which often holds a tile table or first rows
        return gcs, RememberingReader(WatchedReader(CountingReader(gcs, stats), watch))

    def _index(self, gcs: VersionedReader, reader: RangeReader) -> FitsIndex:
        chunk = self.limits.header_chunk_bytes

        def scan() -> FitsIndex:
            return scan_fits(reader, stop_after=named_image, chunk_size=chunk)

        version = gcs.version
        if version is None:  # a source not seen before: the scan's first read names its version
            index = scan()
            version = gcs.confirm()
            self.sources.put_index(version, index)
            return index
        return self.sources.index(version, scan)

    def _tile_tables(
        self, version: ObjectVersion, reader: RangeReader
    ) -> Callable[[HduInfo], TileTable]:
        return lambda hdu: self.sources.tile_table(
            version, hdu, lambda: read_tile_table(reader, hdu, cost=self.cost)
        )

    def prefetch(
        self, group: list[CutoutTask], specs: dict[int, Spec | UsageError], watch: JobWatch
    ) -> SharedSource | None:
        """Fetch the pixels of a group of cutouts of one image together (None: one by one)."""
        if len(group) < 2:
            return None
        cutouts = []
        for task in group:
            parsed = specs[task.index]
            if isinstance(parsed, UsageError):
                continue  # its own run reports the error
            request, spec = parsed
            cutouts.append((task, request, spec))
        if len(cutouts) < 2:
            return None
        limits = self.limits
        source = cutouts[0][2].source
        stats = ReadStats()
        gcs, reader = self._open(source, stats, watch)
        try:
            index = self._index(gcs, reader)
            version = _pinned(gcs)
            shared = prefetch_group(
                reader,
                stats,
                [(task, request, spec.selection) for task, request, spec in cutouts],
                source_id=source.uri,
                index=index,
                cost=self.cost,
                tile_tables=self._tile_tables(version, reader),
                max_pixels=limits.max_cutout_pixels,
                chunk_size=limits.header_chunk_bytes,
                version=version,
            )
            if shared is not None:
                gcs.confirm()  # free once a read showed it
        except SourceChangedError:
            if gcs.version is not None:
                self.sources.forget(gcs.version)
            return None  # each cutout reads the live version on its own
        except SkycutError as e:
            if e.error_type == "transient":
                raise
            return None
        return shared

    def cut(
        self,
        request: SodaRequest,
        spec: CutoutSpec,
        task: CutoutTask,
        stats: ReadStats,
        watch: JobWatch,
        shared: SharedSource | None,
    ) -> tuple[Cutout, ObjectVersion]:
        """Cut one task from one version of its source, and name that version.

        Every read is pinned to one generation of the object; if it was
        replaced (before or during the cut) the cut starts over on the live
        version, so a result is never made of a stale header or mixed bytes.
        """
        limits = self.limits
        cut_task = partial(
            cut,
            selection=spec.selection,
            source_id=spec.source.uri,
            detail=request.detail,
            mask_outside=request.mask_outside,
            response_format=request.response_format,
            chunk_size=limits.header_chunk_bytes,
            max_pixels=limits.max_cutout_pixels,
        )
        if shared is not None:
            stats.requests, stats.bytes = shared.share(task.index)
            try:
                cutout = cut_task(
                    shared.reader,
                    index=shared.index,
                    cost=MEMORY_COST,
                    tile_tables=self._tile_tables(shared.version, shared.reader),
                    plan=shared.plans.get(task.index),
                    source_generation=shared.version.generation,
                )
            except SourceChangedError:
                self.sources.forget(shared.version)  # cut it alone, from the live version
            else:
                return cutout, shared.version
        for attempt in range(1, _ATTEMPTS + 1):
            gcs, reader = self._open(spec.source, stats, watch)
            try:
                try:
                    index = self._index(gcs, reader)
                    version = _pinned(gcs)
                    with self.budget.held(0) as hold:  # planning may read pixels ahead
                        plan = plan_cut(
                            reader,
                            spec.selection,
                            source_id=spec.source.uri,
                            index=index,
                            detail=request.detail,
                            response_format=request.response_format,
                            max_pixels=limits.max_cutout_pixels,
                            chunk_size=limits.header_chunk_bytes,
                            cost=self.cost,
                            reserve=hold.resize,
                        )
                        hold.resize(plan.pixels)
                        cutout = cut_task(
                            reader,
                            index=plan.index,
                            cost=self.cost,
                            tile_tables=self._tile_tables(version, reader),
                            source_generation=version.generation,
                            plan=plan,
                        )
                    # free once a pixel read showed the version; a metadata request if
                    # the cut read nothing (e.g. all from a cached header)
                    gcs.confirm()
                except SkycutError as e:
                    if e.error_type != "transient" and gcs.version is not None:
                        gcs.confirm()  # an answer from cached headers alone is checked too
                    raise
                self.sources.put_index(version, cutout.index)
                return cutout, version
            except SourceChangedError:
                if gcs.version is not None:
                    self.sources.forget(gcs.version)
                if attempt == _ATTEMPTS:
                    raise  # transient: the message is delivered again
        raise AssertionError("unreachable")  # pragma: no cover


def _pinned(reader: VersionedReader) -> ObjectVersion:
    """Return the version a reader is pinned to (its reads are conditional on it)."""
    version = reader.version
    if version is None:  # pragma: no cover - the header index was read or looked up by version
        return reader.confirm()
    return version
