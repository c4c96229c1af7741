"""Finding the indexed images a query selects: the index lookup, then the exact selection.

Both the SIA 2.0 service and cutouts requested without an ``ID`` (a
position and a collection, band or time) ask the same question, so they
get the same answer. The index is asked for candidates by the most
selective constraint it can look up without a scan (``POS`` cells, else
``ID``, else ``COLLECTION``, else every image); :func:`skycut.sia.select.select_images`
keeps exactly the matches, in a stable order, up to ``MAXREC``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from skycut.errors import UsageError
from skycut.index.record import ImageRecord
from skycut.index.search import candidates, unique
from skycut.index.store import ImageIndex
from skycut.sia.params import SiaQuery
from skycut.sia.select import Selection, select_images
from skycut.soda.ids import SourceRef, parse_source_id

__all__ = ["find_images"]

_LOOKUP_VALUES = 30  # Firestore's limit on the values of one `in` filter


def find_images(index: ImageIndex, query: SiaQuery, *, source_buckets: Sequence[str]) -> Selection:
    """Return the images ``query`` selects, up to its ``MAXREC``.

    Parameters
    ----------
    index
        The image index.
    query
        The parsed query.
    source_buckets
        The buckets an ``ID`` may name; an ``ID`` elsewhere matches nothing.

    """
    return select_images(query, _candidates(index, query, source_buckets))


def _candidates(
    index: ImageIndex, query: SiaQuery, buckets: Sequence[str]
) -> Iterator[ImageRecord]:
    """Images that may match: looked up by the constraint the index can serve best."""
    if query.pos:
        return unique(r for region in query.pos for r in candidates(index, region))
    if query.ids:
        return index.get_many(_sources(query.ids, buckets))
    if query.collections:
        names = list(dict.fromkeys(query.collections))
        chunks = (names[k : k + _LOOKUP_VALUES] for k in range(0, len(names), _LOOKUP_VALUES))
        return unique(r for chunk in chunks for r in index.in_collections(chunk))
    return index.images()


def _sources(ids: Iterable[str], buckets: Sequence[str]) -> Iterator[SourceRef]:
    for text in ids:
        try:
            yield parse_source_id(text, allowed_buckets=buckets)
        except UsageError:
            continue  # an ID of no image of this service matches nothing
