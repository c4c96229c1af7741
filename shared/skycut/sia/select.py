"""Which indexed images an SIA 2.0 query selects, in a stable order, up to ``MAXREC``.

SIA 2.0 ({query} resource): the values of one parameter are alternatives (OR), different
parameters all apply (AND), and a constraint on a column whose value is
unknown (null) is not satisfied, so an image of unknown band never meets
a ``BAND``, nor one of unknown time a ``TIME``. Each constraint is tested
against the ObsCore column it names (:mod:`skycut.sia.obscore`):

- ``POS``: the footprint shares a point with the region
  (:func:`skycut.index.match.overlaps`, exact on the sphere).
- ``BAND``, ``TIME``: ``[em_min, em_max]`` (m), ``[t_min, t_max]`` (MJD)
  share a value with the interval.
- ``FOV`` (deg), ``SPATRES`` (arcsec, as SIA 2.0 and ObsCore's ``s_resolution``
  say), ``EXPTIME`` (s): the interval includes ``s_fov``,
  ``s_resolution``, ``t_exptime``.
- ``POL``: one of the image's ``pol_states``.
- ``ID``, ``COLLECTION``, ``FACILITY``, ``INSTRUMENT``, ``TARGET``,
  ``DPTYPE``, ``FORMAT``: equal, case-sensitive, to ``obs_publisher_did``,
  ``obs_collection``, ``facility_name``, ``instrument_name``,
  ``target_name``, ``dataproduct_type``, ``access_format``. Our IDs are
  ``gs://`` URIs, whose object names are case-sensitive, not IVOIDs (which
  SIA asks to compare ignoring case).
- ``CALIB``: ``calib_level``.

Matches are ordered by start time (unknown last), then ID, then HDU, so
``MAXREC`` keeps the same images whatever order the index returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from skycut.cutout.intervals import Interval
from skycut.index.match import overlaps as footprint_overlaps
from skycut.index.match import overlaps_each
from skycut.index.record import ImageRecord
from skycut.sia.obscore import ACCESS_FORMAT, field_of_view, spatial_resolution
from skycut.sia.params import SiaQuery, overlaps_any

__all__ = ["Selection", "matches", "select_images"]


@dataclass(frozen=True, slots=True)
class Selection:
    """The images a query returns.

    Attributes
    ----------
    records
        The matching images, in order, at most ``MAXREC`` of them.
    overflow
        Whether ``MAXREC`` cut the result short (DALI's ``OVERFLOW``);
        always true for ``MAXREC=0``, whose answer is the table's
        metadata alone (DALI 1.1 §3.4.4).

    """

    records: tuple[ImageRecord, ...]
    overflow: bool


def _known_overlaps(alternatives: Sequence[Interval], lo: float | None, hi: float | None) -> bool:
    if not alternatives:
        return True
    if lo is None or hi is None:
        return False
    return overlaps_any(alternatives, lo, hi)


def _includes(alternatives: Sequence[Interval], value: float | None) -> bool:
    return _known_overlaps(alternatives, value, value)


def _one_of(alternatives: Sequence[object], value: object) -> bool:
    return not alternatives or (value is not None and value in alternatives)


def _meets_all_but_pos(query: SiaQuery, record: ImageRecord) -> bool:
    meta, footprint = record.metadata, record.footprint
    # the cheap tests first: most candidates of a cell lookup differ in band or time
    return (
        _known_overlaps(query.band, meta.em_min, meta.em_max)
        and _known_overlaps(query.time, meta.t_min, meta.t_max)
        and _includes(query.exptime, meta.t_exptime)
        and _includes(query.fov, field_of_view(footprint))
        and _includes(query.spatres, spatial_resolution(footprint))
        and (not query.pol or any(p in meta.pol_states for p in query.pol))
        and _one_of(query.ids, record.image_id)
        and _one_of(query.collections, meta.obs_collection)
        and _one_of(query.facilities, meta.facility_name)
        and _one_of(query.instruments, meta.instrument_name)
        and _one_of(query.targets, meta.target_name)
        and _one_of(query.dptype, meta.dataproduct_type)
        and _one_of(query.calib, meta.calib_level)
        and _one_of(query.formats, ACCESS_FORMAT)
    )


def matches(query: SiaQuery, record: ImageRecord) -> bool:
    """Whether an image meets every constraint of a query.

    Parameters
    ----------
    query
        The parsed query.
    record
        An indexed image.

    Returns
    -------
    bool
        True if, for each constrained parameter, one of its values matches.

    """
    return _meets_all_but_pos(query, record) and (
        not query.pos or any(footprint_overlaps(record.footprint, r) for r in query.pos)
    )


def _order(record: ImageRecord) -> tuple[bool, float, str, int]:
    t_min = record.metadata.t_min
    return (t_min is None, 0.0 if t_min is None else t_min, record.image_id, record.hdu)


def select_images(query: SiaQuery, records: Iterable[ImageRecord]) -> Selection:
    """Return the images among ``records`` that a query selects, up to its ``MAXREC``.

    Parameters
    ----------
    query
        The parsed query.
    records
        Candidate images (e.g. those filed under the cells of the query's
        ``POS``, or every image for a query without one); not read at all
        when ``MAXREC`` is 0.

    Returns
    -------
    Selection
        The first ``MAXREC`` matches in order, and whether more matched.

    """
    if query.maxrec == 0:
        return Selection(records=(), overflow=True)
    found = [r for r in records if _meets_all_but_pos(query, r)]
    if query.pos and found:
        # POS last, for all candidates at once: a point query's candidates are hundreds
        hit = np.zeros(len(found), dtype=bool)
        footprints = [r.footprint for r in found]
        for region in query.pos:
            hit |= overlaps_each(footprints, region)
        found = [r for r, h in zip(found, hit.tolist(), strict=True) if h]
    found.sort(key=_order)
    return Selection(records=tuple(found[: query.maxrec]), overflow=len(found) > query.maxrec)
