"""The web page's files, served under ``<base>/ui/`` with the API.

Files are read once from the package (:mod:`skycut.ui`), sent with their
media type, an ``ETag`` of their content and ``Cache-Control: no-cache``, so
a browser revalidates and a new deployment is seen at once. Only the files
shipped in the package can be named, ``filters.json``: the deployment's
filter table (built-in names and ``SKYCUT_FILTERS``), which the page's band
menus offer, and ``limits.json``: the deployment's mosaic limits, so the
mosaic form can say before it is sent whether a mosaic is made at once
(``mosaic/sync``) or runs as a job; anything else is a 404.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources

from flask import Request, Response

from skycut.api.context import RequestContext
from skycut.api.http import redirect
from skycut.config import Settings
from skycut.errors import NotFoundError

__all__ = ["UiRoute", "page_limits", "ui_files"]

_LIMITS = (
    "mosaic_sync_max_pixels",
    "mosaic_sync_max_inputs",
    "mosaic_sync_max_area",
    "mosaic_max_pixels",
    "mosaic_max_inputs",
    "mosaic_max_area",
)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@cache
def ui_files() -> dict[str, tuple[bytes, str, str]]:
    """Return every file of the page by name: its bytes, media type and ETag."""
    root = resources.files("skycut.ui") / "static"
    files = {}
    for entry in root.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in _TYPES:
            data = entry.read_bytes()
            files[entry.name] = (data, _TYPES[suffix], hashlib.sha256(data).hexdigest()[:16])
    return files


def filters_file(filters: Mapping[str, tuple[float, float]]) -> tuple[bytes, str, str]:
    """Return the filter table as the page reads it: names with their bands, bluest first."""
    table = [
        {"name": name, "em_min": lo, "em_max": hi}
        for name, (lo, hi) in sorted(filters.items(), key=lambda item: (item[1], item[0]))
    ]
    return _json_file({"filters": table})


def page_limits(settings: Settings) -> dict[str, float]:
    """Return the limits the page tells people about, named as the settings are."""
    return {name: getattr(settings, name) for name in _LIMITS}


def _json_file(value: object) -> tuple[bytes, str, str]:
    data = json.dumps(value, indent=1).encode()
    return data, "application/json", hashlib.sha256(data).hexdigest()[:16]


class UiRoute:
    """Serves the page: ``/ui/`` is ``index.html``, ``/ui/<name>`` one of its files.

    Parameters
    ----------
    filters
        The deployment's filter table, served as ``filters.json``.
    limits
        The deployment's mosaic limits (`page_limits`), served as ``limits.json``.

    """

    def __init__(
        self, *, filters: Mapping[str, tuple[float, float]], limits: Mapping[str, float]
    ) -> None:
        self._files = {
            **ui_files(),
            "filters.json": filters_file(filters),
            "limits.json": _json_file(dict(limits)),
        }

    def index(self, request: Request, ctx: RequestContext) -> Response:
        """Send the page (``.../ui`` is sent to ``.../ui/``, where its relative links work)."""
        if not request.path.endswith("/"):
            return redirect(f"{ctx.base_url}/ui/")
        return self.file(request, ctx, name="index.html")

    def file(self, request: Request, ctx: RequestContext, *, name: str) -> Response:
        """Send one file of the page (304 if the browser's copy is current)."""
        found = self._files.get(name)
        if found is None:
            raise NotFoundError(f"the web page has no file {name!r}")
        data, media_type, etag = found
        headers = {
            "ETag": f'"{etag}"',
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if name.endswith(".html"):
            # the page runs only its own scripts and talks only to this service and its
            # result links (signed storage URLs)
            headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data: blob: https: http:; "
                "connect-src 'self' https: http:; style-src 'self'; script-src 'self'; "
                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
            )
        if etag in (request.if_none_match.as_set() if request.if_none_match else set()):
            return Response(status=304, headers=headers)
        return Response(data, status=200, content_type=media_type, headers=headers)
