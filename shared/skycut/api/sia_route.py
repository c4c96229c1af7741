"""SIA 2.0 ``{query}``: which indexed images meet a position, band, time...

The query is parsed once (:mod:`skycut.sia.params`); the index is asked
for candidates by the most selective constraint it can look up without a
scan (``POS`` cells, else ``ID``, else ``COLLECTION``, else every image);
:mod:`skycut.sia.select` keeps exactly the matches, and each becomes an
ObsCore row leading to the image's DataLink links (:mod:`skycut.sia.obscore`).
Errors are DALI error VOTables with a 4xx/5xx status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property

from flask import Request, Response

from skycut.api.context import RequestContext
from skycut.api.http import request_params
from skycut.errors import SkycutError, UsageError
from skycut.index.record import ImageRecord
from skycut.index.search import candidates, unique
from skycut.index.store import ImageIndex
from skycut.logs import log
from skycut.sia.obscore import obscore_row
from skycut.sia.params import VOTABLE, SiaQuery, parse_sia_query
from skycut.sia.select import select_images
from skycut.sia.votable import sia_error_votable, sia_votable
from skycut.soda.ids import SourceRef, parse_source_id
from skycut.soda.params import group_params

__all__ = ["SiaRoute"]

_LOOKUP_VALUES = 30  # Firestore's limit on the values of one `in` filter


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
            selection = select_images(query, self._candidates(query))
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

    def _candidates(self, query: SiaQuery) -> Iterator[ImageRecord]:
        """Images that may match: looked up by the constraint the index can serve best."""
        index = self._index
        if query.pos:
            return unique(r for region in query.pos for r in candidates(index, region))
        if query.ids:
            return index.get_many(self._sources(query.ids))
        if query.collections:
            names = list(dict.fromkeys(query.collections))
            chunks = (names[k : k + _LOOKUP_VALUES] for k in range(0, len(names), _LOOKUP_VALUES))
            return unique(r for chunk in chunks for r in index.in_collections(chunk))
        return index.images()

    def _sources(self, ids: Iterable[str]) -> Iterator[SourceRef]:
        for text in ids:
            try:
                yield parse_source_id(text, allowed_buckets=self._buckets)
            except UsageError:
                continue  # an ID of no image of this service matches nothing
