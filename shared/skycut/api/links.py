"""DataLink {links}: for each ID, the file itself and a SODA cutout service descriptor.

Clients such as TOPCAT, Aladin and pyvo discover cutouts from here: the
descriptor names the sync URL, the parameters with their UCDs and units, and
the image's footprint as the CIRCLE and POLYGON ``VALUES``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import cached_property

from flask import Request, Response

from skycut.api.context import RequestContext
from skycut.api.http import request_params
from skycut.cutout.fitsindex import named_image, scan_fits, select_image_hdu
from skycut.datalink.footprint import image_footprint
from skycut.datalink.xml import LinkRow, links_votable
from skycut.errors import NotFoundError, ServiceUnavailableError, SkycutError, UsageError
from skycut.soda.ids import SourceRef, parse_source_id
from skycut.soda.params import group_params
from skycut.soda.semantics import SodaParameter
from skycut.storage.cache import SourceCache
from skycut.storage.gcs import DownloadLinks, GcsRangeReader

__all__ = ["LinksRoute"]

_VOTABLE = "application/x-votable+xml;content=datalink"
_MAX_IDS = 100


def _fault(error: SkycutError) -> str:
    # DataLink 1.0 §3.4 labels for error_message
    if isinstance(error, ServiceUnavailableError):
        return f"TransientFault: {error.message}"
    if isinstance(error, NotFoundError) or "does not exist" in error.message:
        return f"NotFoundFault: {error.message}"
    if isinstance(error, UsageError):
        return f"UsageFault: {error.message}"
    return f"FatalFault: {error.message}"


class LinksRoute:
    """Builds the links of the requested IDs.

    Parameters
    ----------
    open_source
        Opens a reader of the live version of a source image.
    downloads
        Returns the download links of objects (asked for on the first link made).
    source_buckets
        The buckets an ID may name.
    header_chunk_bytes
        The first read of a FITS file, to catch its headers.
    parameters
        The SODA parameters the service supports, for the descriptor.

    """

    def __init__(
        self,
        *,
        open_source: Callable[[SourceRef], GcsRangeReader],
        downloads: Callable[[], DownloadLinks],
        source_buckets: Collection[str],
        header_chunk_bytes: int,
        parameters: tuple[SodaParameter, ...],
    ) -> None:
        self._open_source = open_source
        self._make_downloads = downloads
        self._source_buckets = source_buckets
        self._chunk = header_chunk_bytes
        self._parameters = parameters
        self._sources = SourceCache(capacity=256)

    @cached_property
    def _downloads(self) -> DownloadLinks:
        return self._make_downloads()

    def links(self, request: Request, ctx: RequestContext) -> Response:
        """GET or POST ``ID`` (repeatable): the links table."""
        ids = group_params(request_params(request)).get("ID", [])
        if not ids:
            raise UsageError("ID is required: the gs:// URI of an image")
        if len(ids) > _MAX_IDS:
            raise UsageError(f"at most {_MAX_IDS} IDs per request")
        rows: list[LinkRow] = []
        for source_id in ids:
            rows.extend(self._rows(source_id))
        body = links_votable(rows, sync_url=f"{ctx.base_url}/sync", parameters=self._parameters)
        return Response(body, status=200, content_type=_VOTABLE)

    def _rows(self, source_id: str) -> list[LinkRow]:
        try:
            source = parse_source_id(source_id, allowed_buckets=self._source_buckets)
            reader = self._open_source(source)
            # the size's metadata request names the live version: the footprint is its own
            size = reader.size()
            index = self._sources.index(
                reader.confirm(),
                lambda: scan_fits(reader, stop_after=named_image, chunk_size=self._chunk),
            )
            footprint = image_footprint(select_image_hdu(index).header)
        except SkycutError as e:
            return [
                LinkRow(
                    id=source_id,
                    semantics="#this",
                    description="the image",
                    error_message=_fault(e),
                )
            ]
        return [
            LinkRow(
                id=source_id,
                semantics="#this",
                description="the whole image file",
                access_url=self._downloads.object_url(source.bucket, source.name),
                content_type="application/fits",
                content_length=size,
            ),
            LinkRow(
                id=source_id,
                semantics="#cutout",
                description="cutouts of this image (SODA sync)",
                footprint=footprint,
            ),
        ]
