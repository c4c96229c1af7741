"""What a mosaic job keeps in its document: the request, the plan and the stage it is in.

An async mosaic (``<base>/mosaic``) runs as stages of Pub/Sub messages
(`skycut.mosaic.job`); its job document holds what every worker needs and
what decides the next stage, as plain values (no astropy here, so the job
store stays light):

- the request, as `skycut.mosaic.request.MosaicRequest.to_dict` gave it
  (parsed once, by the API);
- the plan, made when the job is queued: each input with the object
  generation and HDU its header was read from (every later read is pinned
  to them), the tile size, and one reprojection task per (input, tile); a
  colour job (``COLOR=rgb``) has three layers, one per band (red, green,
  blue), each a mosaic of its own band's inputs on the same grid;
- the stage (``reproject`` → ``overlaps`` when backgrounds are matched →
  ``assemble``, a unit per row of tiles coadding them into its band of the
  file → ``finish``, one unit joining the bands) and whether its messages
  have all been published (for ``finish``: whether a worker has it in
  hand); the background planes once solved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["STAGES", "LayerTile", "MosaicInput", "MosaicStage", "MosaicState", "MosaicTask"]

MosaicStage = Literal["reproject", "overlaps", "assemble", "finish"]
STAGES: tuple[MosaicStage, ...] = ("reproject", "overlaps", "assemble", "finish")
LayerTile = tuple[int, int, int]
"""A tile of one layer: ``(layer, row, col)`` (layer 0 unless the job makes a colour image)."""


@dataclass(frozen=True, slots=True)
class MosaicInput:
    """One input image as planned: its ID, the HDU and object generation read."""

    id: str
    hdu: int | None = None
    generation: int | None = None


@dataclass(frozen=True, slots=True)
class MosaicTask:
    """Reproject pixels ``box`` (``x0, x1, y0, y1``) of input ``input`` onto tile ``(row, col)``.

    ``layer`` is the colour layer the input is a band of (0 in a grey job).
    """

    input: int
    row: int
    col: int
    box: tuple[int, int, int, int]
    layer: int = 0

    @property
    def tile(self) -> tuple[int, int]:
        """The tile's ``(row, col)``."""
        return self.row, self.col

    @property
    def layer_tile(self) -> LayerTile:
        """The tile with its layer: ``(layer, row, col)``."""
        return self.layer, self.row, self.col


@dataclass(frozen=True, slots=True)
class MosaicState:
    """A mosaic job's request, plan and progress through its stages.

    Attributes
    ----------
    request
        The parsed request (`MosaicRequest.to_dict`).
    tile_size
        The side of the output tiles, in pixels.
    inputs
        The inputs, in plan order.
    tasks
        The reprojection tasks; a message names them by their position here.
    bands
        The rows of tiles of the output grid: the assembly's units, each
        coadding its tiles into its band of the file.
    stage
        The stage running now.
    published
        Whether every message of ``stage`` has been published.
    backgrounds
        The plane ``(a, b, c)`` subtracted from each input, by ID, once solved.

    """

    request: dict[str, Any]
    tile_size: int
    inputs: tuple[MosaicInput, ...] = ()
    tasks: tuple[MosaicTask, ...] = ()
    bands: int = 1
    stage: MosaicStage = "reproject"
    published: bool = False
    backgrounds: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    @property
    def match_background(self) -> bool:
        """Whether the request asks for background matching (the ``overlaps`` stage)."""
        return self.request.get("background") == "match"

    @property
    def stages(self) -> tuple[MosaicStage, ...]:
        """The stages this job runs, in order."""
        return tuple(s for s in STAGES if s != "overlaps" or self.match_background)

    @property
    def layers(self) -> int:
        """The number of layers: 3 for a colour job (red, green, blue), else 1."""
        return 3 if self.request.get("color") == "rgb" else 1

    @property
    def tiles(self) -> tuple[LayerTile, ...]:
        """The tiles some input lands on, with their layer, in the order tasks first name them.

        Backgrounds are matched per tile of each layer (the ``overlaps`` units);
        each band of the assembly coadds its row of every layer's tiles.
        """
        return tuple(dict.fromkeys(t.layer_tile for t in self.tasks))

    def units(self, stage: MosaicStage) -> int:
        """How many counted units ``stage`` has: tasks, tiles, bands, or the one finish."""
        if stage == "reproject":
            return len(self.tasks)
        if stage == "assemble":
            return self.bands
        if stage == "finish":
            return 1
        return len(self.tiles) if stage in self.stages else 0

    @property
    def total(self) -> int:
        """Units of every stage: the job's progress total."""
        return sum(self.units(s) for s in self.stages)

    def done_before(self, stage: MosaicStage) -> int:
        """Units of the stages before ``stage``."""
        before = self.stages[: self.stages.index(stage)]
        return sum(self.units(s) for s in before)

    def next_stage(self, stage: MosaicStage) -> MosaicStage | None:
        """Return the stage after ``stage`` (None after the finish)."""
        k = self.stages.index(stage)
        return self.stages[k + 1] if k + 1 < len(self.stages) else None

    def at(
        self, stage: MosaicStage, *, backgrounds: Mapping[str, tuple[float, ...]]
    ) -> MosaicState:
        """Return the state moved on to ``stage`` (not yet published)."""
        planes = {k: (float(v[0]), float(v[1]), float(v[2])) for k, v in backgrounds.items()}
        return replace(self, stage=stage, published=False, backgrounds=planes)

    def to_document(self) -> dict[str, Any]:
        """Return the state as the job document stores it (tasks as number lists)."""
        return {
            "request": self.request,
            "tile_size": self.tile_size,
            "inputs": [{"id": i.id, "hdu": i.hdu, "generation": i.generation} for i in self.inputs],
            # Firestore holds no arrays of arrays: seven numbers per task, one after another
            "tasks": [n for t in self.tasks for n in (t.input, t.row, t.col, *t.box)],
            # each task's layer, only in a colour job (a grey job's are all 0)
            "task_layers": [t.layer for t in self.tasks] if self.layers > 1 else [],
            "bands": self.bands,
            "stage": self.stage,
            "published": self.published,
            # a list, not a map: IDs hold dots and slashes, which field paths give meaning to
            "backgrounds": [
                {"id": k, "a": v[0], "b": v[1], "c": v[2]} for k, v in self.backgrounds.items()
            ],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> MosaicState:
        """Rebuild the state `to_document` gave."""
        return cls(
            request=dict(doc["request"]),
            tile_size=int(doc["tile_size"]),
            inputs=tuple(
                MosaicInput(
                    id=str(i["id"]),
                    hdu=None if i.get("hdu") is None else int(i["hdu"]),
                    generation=None if i.get("generation") is None else int(i["generation"]),
                )
                for i in doc.get("inputs", [])
            ),
            tasks=tuple(
                _tasks(
                    [int(n) for n in doc.get("tasks", [])],
                    [int(n) for n in doc.get("task_layers") or []],
                )
            ),
            bands=int(doc.get("bands", 1)),
            stage=doc.get("stage", "reproject"),
            published=bool(doc.get("published", False)),
            backgrounds={
                str(b["id"]): (float(b["a"]), float(b["b"]), float(b["c"]))
                for b in doc.get("backgrounds") or []
            },
        )


def _tasks(numbers: list[int], layers: list[int]) -> list[MosaicTask]:
    groups = [numbers[k : k + 7] for k in range(0, len(numbers), 7)]
    layers = layers or [0] * len(groups)
    return [
        MosaicTask(n[0], n[1], n[2], (n[3], n[4], n[5], n[6]), layer)
        for n, layer in zip(groups, layers, strict=True)
    ]
