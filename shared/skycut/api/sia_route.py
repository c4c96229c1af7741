"""SIA 2.0 ``{query}``: which indexed images meet a position, band, time...

The query is parsed once (:mod:`skycut.sia.params`); the images it selects
are found by :func:`skycut.sia.lookup.find_images`, and each becomes an
ObsCore row leading to the image's DataLink links (:mod:`skycut.sia.obscore`).
Errors are DALI error VOTables with a 4xx/5xx status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import cached_property

from flask import Request, Response

from skycut.api.context import RequestContext
from skycut.api.http import request_params
from skycut.errors import SkycutError
from skycut.index.store import ImageIndex
from skycut.logs import log
from skycut.sia.lookup import find_images
from skycut.sia.obscore import obscore_row
from skycut.sia.params import VOTABLE, parse_sia_query
from skycut.sia.votable import sia_error_votable, sia_votable
from skycut.soda.params import group_params

__all__ = ["SiaRoute"]


class SiaRoute:
    """Answers SIA 2.0 queries from the image index.

    Parameters
    ----------
    index
        Builds the index on first use (no client is made before a query).
    source_buckets
        The buckets an ``ID`` may name.
    default_maxrec, max_maxrec
        ``MAXREC`` when absent, and the most records any query returns.

    """

    def __init__(
        self,
        *,
        index: Callable[[], ImageIndex],
        source_buckets: Iterable[str],
        default_maxrec: int,
        max_maxrec: int,
    ) -> None:
        self._make_index = index
        self._buckets = tuple(source_buckets)
        self._default_maxrec = default_maxrec
        self._max_maxrec = max_maxrec

    @cached_property
    def _index(self) -> ImageIndex:
        return self._make_index()

    def query(self, request: Request, ctx: RequestContext) -> Response:
        """GET or POST the SIA 2.0 parameters: the matching images as a VOTable."""
        try:
            query = parse_sia_query(
                group_params(request_params(request)),
                default_maxrec=self._default_maxrec,
                max_maxrec=self._max_maxrec,
            )
            selection = find_images(self._index, query, source_buckets=self._buckets)
            rows = [obscore_row(r, base_url=ctx.base_url) for r in selection.records]
            body = sia_votable(
                rows,
                overflow=selection.overflow,
                base_url=ctx.base_url,
                serialization=query.serialization,
            )
        except SkycutError as e:
            log(logging.INFO, "SIA query refused", path=request.path, error=e.to_text())
            return Response(sia_error_votable(e), status=e.status_code, content_type=VOTABLE)
        return Response(body, status=200, content_type=VOTABLE)
