"""The images each row without ``id`` was found on, found once and kept with the job.

A bulk job's tasks are not stored: they are read again from its drop file
when its publication is resumed or a stalled job is swept. For rows that
name their image that gives the same tasks every time; for rows without
``id`` the index might answer differently later (an image added or
deleted), which would renumber the job's cutouts under results already
recorded. So the images found for each such row are written once, beside
the job's results (:func:`found_object_name`), and every later reading of
the drop file replays them (:class:`FoundReplay`) instead of asking the
index again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from skycut.cutout.stencil import Stencil
from skycut.errors import UsageError
from skycut.jobs.messages import FoundImage
from skycut.jobs.records import job_objects_prefix
from skycut.sia.covering import CoveringImages, ImageChoice, found_image
from skycut.soda.ids import SourceRef

__all__ = [
    "FoundRecorder",
    "FoundReplay",
    "ImageFinder",
    "Match",
    "found_object_name",
]

Match = tuple[SourceRef, FoundImage]
"""An image a row is cut from, and what the index said of it."""


def found_object_name(job_id: str) -> str:
    """Return the results-bucket object holding the images found for a job's rows."""
    return job_objects_prefix(job_id) + "found.jsonl"


class ImageFinder(Protocol):
    """Finds the images the row on ``line`` of a drop file is cut from."""

    def __call__(self, line: int, region: Stencil, choice: ImageChoice) -> Sequence[Match]:
        """Return the images ``region`` overlaps that ``choice`` keeps, oldest first.

        Raises
        ------
        UsageError
            If the row cannot be matched (too many images, or none kept).

        """
        ...


class FoundRecorder:
    """Asks the index, and remembers each row's answer to be kept with the job."""

    def __init__(self, covering: CoveringImages) -> None:
        self._covering = covering
        self._found: dict[int, list[Match]] = {}

    def __call__(self, line: int, region: Stencil, choice: ImageChoice) -> Sequence[Match]:
        """Return the images found in the index (see `ImageFinder`)."""
        matches = [
            (record.source, found_image(record)) for record in self._covering.of(region, choice)
        ]
        self._found[line] = matches
        return matches

    @property
    def asked(self) -> bool:
        """Whether any row was looked up (so there is something to keep)."""
        return bool(self._found)

    def to_bytes(self) -> bytes:
        """Return every row's answer, one JSON line per row."""
        lines = [
            json.dumps(
                {
                    "line": line,
                    "images": [
                        {
                            "bucket": source.bucket,
                            "name": source.name,
                            **found.model_dump(mode="json", exclude_none=True),
                        }
                        for source, found in matches
                    ],
                }
            )
            for line, matches in sorted(self._found.items())
        ]
        return ("\n".join(lines) + "\n").encode()


class FoundReplay:
    """Gives each row the images kept for it when its job was created.

    Parameters
    ----------
    data
        The kept answers (:meth:`FoundRecorder.to_bytes`), or None if the
        job kept none (it has no rows without ``id``).

    """

    def __init__(self, data: bytes | None) -> None:
        self._found: dict[int, list[Match]] = {}
        for text in (data or b"").decode().splitlines():
            if not text.strip():
                continue
            entry = json.loads(text)
            self._found[int(entry["line"])] = [
                (
                    SourceRef(bucket=image["bucket"], name=image["name"]),
                    FoundImage.model_validate(
                        {k: v for k, v in image.items() if k not in ("bucket", "name")}
                    ),
                )
                for image in entry["images"]
            ]

    def __call__(self, line: int, region: Stencil, choice: ImageChoice) -> Sequence[Match]:
        """Return the images kept for ``line`` (see `ImageFinder`)."""
        if line not in self._found:
            raise UsageError(
                f"the images found for line {line} when the job was created were not kept"
            )
        return self._found[line]
