"""Which indexed images meet a sky region: a cell lookup, then the exact test.

:func:`overlapping` answers "what meets this region?" (:func:`containing`,
"what covers this position?") for
the SIA service and for cutouts requested without an ``ID``: the region's
HEALPix cells (:func:`skycut.index.cells.query_cells`) select candidates
without a scan, and :func:`skycut.index.match.overlaps_each` keeps exactly
those whose footprint shares a point with the region (all candidates tested
at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from skycut.cutout.sphere import to_vectors
from skycut.cutout.stencil import Stencil
from skycut.index.cells import MAX_IDS, point_ids, query_cells
from skycut.index.match import overlaps_each
from skycut.index.record import ImageRecord
from skycut.index.spherical import contain_point
from skycut.index.store import ImageIndex

__all__ = ["candidates", "containing", "overlapping", "unique"]


def unique(records: Iterable[ImageRecord]) -> Iterator[ImageRecord]:
    """Yield each image once (several lookups may return it)."""
    seen: set[str] = set()
    for record in records:
        if record.image_id not in seen:
            seen.add(record.image_id)
            yield record


def candidates(index: ImageIndex, region: Stencil) -> Iterator[ImageRecord]:
    """Yield every image that may meet ``region`` (and some that do not), each once."""
    ids = query_cells(region, max_ids=MAX_IDS).query_ids()
    chunks = (ids[k : k + MAX_IDS] for k in range(0, len(ids), MAX_IDS))
    return unique(record for chunk in chunks for record in index.with_cells(chunk))


def overlapping(index: ImageIndex, region: Stencil) -> list[ImageRecord]:
    """Return the images whose footprint shares a point with ``region``.

    Parameters
    ----------
    index
        The image index.
    region
        A CIRCLE, POLYGON or RANGE in ICRS degrees.

    Returns
    -------
    list of ImageRecord
        Every such image, in the index's order.

    """
    found = list(candidates(index, region))
    if not found:
        return []
    hit = overlaps_each([r.footprint for r in found], region)
    return [r for r, h in zip(found, hit.tolist(), strict=True) if h]


def containing(index: ImageIndex, ra: float, dec: float) -> list[ImageRecord]:
    """Return the images a position (ICRS degrees) falls on.

    One lookup: the cell holding the position at every order of the ladder,
    which every image on it is filed under.
    """
    ids = [int(i) for i in point_ids(ra, dec)[0]]
    near = [r for r in unique(index.with_cells(ids)) if r.footprint.may_meet(ra, dec)]
    if not near:
        return []
    point = to_vectors(*np.radians((ra, dec)))
    inside = contain_point([r.footprint.polygon for r in near], point)
    return [r for r, i in zip(near, inside.tolist(), strict=True) if i]
