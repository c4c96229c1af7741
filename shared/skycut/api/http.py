"""Small HTTP helpers shared by the API's route modules."""

from __future__ import annotations

from flask import Request, Response

__all__ = ["XML", "form_params", "redirect", "request_params", "text", "xml"]

XML = "application/xml"
_TEXT = "text/plain; charset=utf-8"


def request_params(request: Request) -> list[tuple[str, str]]:
    """Return query parameters, then (for POST) form parameters, in order."""
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs += list(request.form.items(multi=True))
    return pairs


def form_params(request: Request) -> list[tuple[str, str]]:
    """Return the form parameters of a POST (UWS state changes are forms)."""
    return list(request.form.items(multi=True)) + list(request.args.items(multi=True))


def text(body: str, status: int = 200) -> Response:
    """Return a ``text/plain`` response."""
    return Response(body, status=status, content_type=_TEXT)


def xml(body: bytes, status: int = 200) -> Response:
    """Return an ``application/xml`` response."""
    return Response(body, status=status, content_type=XML)


def redirect(location: str) -> Response:
    """Return a ``303 See Other`` to ``location``."""
    return Response(status=303, headers={"Location": location})
