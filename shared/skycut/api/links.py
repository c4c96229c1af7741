"""DataLink {links}: for each ID, the file itself and a SODA cutout service descriptor.

Clients such as TOPCAT, Aladin and pyvo discover cutouts from here: the
descriptor names the sync URL, the parameters with their UCDs and units, and
the image's footprint as the CIRCLE and POLYGON ``VALUES``.
"""

from __future__ import annotations

from flask import Request, Response

from skycut.api.context import RequestContext
from skycut.api.http import request_params
from skycut.clients import Clients
from skycut.cutout.fitsindex import named_image, scan_fits, select_image_hdu
from skycut.datalink.footprint import image_footprint
from skycut.datalink.xml import LinkRow, links_votable
from skycut.errors import NotFoundError, ServiceUnavailableError, SkycutError, UsageError
from skycut.soda.ids import parse_source_id
from skycut.soda.params import group_params
from skycut.soda.semantics import SodaParameter
from skycut.storage.cache import SourceCache
from skycut.storage.gcs import GcsRangeReader

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
    """Builds the links of the requested IDs."""

    def __init__(self, *, clients: Clients, parameters: tuple[SodaParameter, ...]) -> None:
        self._clients = clients
        self._parameters = parameters
        self._sources = SourceCache(capacity=256)

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
        settings = self._clients.settings
        try:
            source = parse_source_id(source_id, allowed_buckets=settings.source_buckets)
            reader = GcsRangeReader(client=self._clients.storage, source=source)
            # the size's metadata request names the live version: the footprint is its own
            size = reader.size()
            index = self._sources.index(
                reader.confirm(),
                lambda: scan_fits(
                    reader, stop_after=named_image, chunk_size=settings.header_chunk_bytes
                ),
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
                access_url=self._clients.results.object_url(source.bucket, source.name),
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
