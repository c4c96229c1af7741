"""A finished in-memory mosaic as the bytes a client downloads: FITS or a preview.

The FITS file is `skycut.mosaic.assemble.MosaicWriter`'s layout (the mosaic
with the grid's exact WCS and provenance cards, the planes ``DETAIL``
asked for, then the ``PROVENANCE`` table of every input with the
generation read and the background subtracted), so the sync form and the
fan-out's assembler write the same file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import skycut
from skycut.cutout.geometry import PixelBox
from skycut.cutout.selection import ResponseFormat
from skycut.mosaic.assemble import InputRecord, MosaicWriter, PlaneName
from skycut.mosaic.grid import OutputGrid
from skycut.mosaic.inprocess import Mosaic
from skycut.mosaic.preview import PreviewCanvas, render_mosaic_preview

__all__ = ["mosaic_fits", "mosaic_preview", "provenance_cards"]

Card = str | int | float | bool


def provenance_cards(
    *, method: str, combine: str, background: str, region: str, inputs: int
) -> dict[str, Card]:
    """Return the primary header's provenance cards (``SC_*``, ``DATE``)."""
    return {
        "SC_KIND": "mosaic",
        "SC_REGN": region,
        "SC_METH": method,
        "SC_COMB": combine,
        "SC_BKG": background,
        "SC_NIN": inputs,
        "SC_VERS": skycut.__version__,
        "DATE": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    }


def mosaic_fits(
    mosaic: Mosaic,
    grid: OutputGrid,
    *,
    planes: Sequence[PlaneName],
    cards: Mapping[str, Card],
    inputs: Sequence[InputRecord],
) -> bytes:
    """Return the mosaic as a FITS file.

    Parameters
    ----------
    mosaic
        The mosaic made.
    grid
        Its grid.
    planes
        ``COVERAGE`` and/or ``COUNT``, written after the mosaic.
    cards
        Provenance cards for the primary header.
    inputs
        The inputs that feed it, for the ``PROVENANCE`` table.

    """
    whole = PixelBox(0, grid.shape[1], 0, grid.shape[0])
    with tempfile.TemporaryDirectory(prefix="skycut-mosaic-") as folder:
        path = Path(folder) / "mosaic.fits"
        writer = MosaicWriter(path, grid, planes=planes, cards=cards)
        writer.write("MOSAIC", whole, mosaic.data)
        if "COVERAGE" in writer.planes:
            writer.write("COVERAGE", whole, mosaic.coverage)
        if "COUNT" in writer.planes:
            writer.write("COUNT", whole, mosaic.count)
        writer.finish(inputs)
        return path.read_bytes()


def mosaic_preview(
    mosaic: Mosaic, *, response_format: ResponseFormat, cards: Mapping[str, Card]
) -> bytes:
    """Return a grey PNG or JPEG preview of the mosaic, binned to the preview size."""
    ny, nx = mosaic.data.shape
    canvas = PreviewCanvas((ny, nx))
    canvas.add(PixelBox(0, nx, 0, ny), mosaic.data)
    return render_mosaic_preview(
        canvas.plane(),
        response_format=response_format,
        text={key: str(value) for key, value in cards.items()},
    )
