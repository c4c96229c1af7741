"""The CLI's SIA 2.0 client: which images meet a position, from ``<service>/sia/query``.

The query is sent as SIA 2.0 parameters (``POS``, ``BAND``, ``TIME``,
``COLLECTION``, ``MAXREC``) and the answer read with
:mod:`astropy.io.votable`: a RESOURCE ``type="results"`` whose INFO
``QUERY_STATUS`` is ``OK``, ``OVERFLOW`` (``MAXREC`` rows of more) or
``ERROR`` (DALI 1.1 §4.4: the INFO's text says what was wrong).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from skycut.cli.config import Target
from skycut.cutout.dali import format_number

if TYPE_CHECKING:
    from astropy.io.votable.tree import Resource, VOTableFile

__all__ = [
    "POINT_RADIUS",
    "ImageSearch",
    "SiaAnswer",
    "SiaQueryError",
    "Value",
    "search_images",
]

POINT_RADIUS = 1e-9
"""Radius (degrees) sent for a point: SIA's CIRCLE needs one above 0; this is 3.6 µas."""

Value = str | int | float | tuple[float, ...] | None
"""One cell of an answer: text, a number, a polygon's numbers, or null."""


class SiaQueryError(RuntimeError):
    """The service refused the query or could not be asked; the message says why."""


@dataclass(frozen=True, kw_only=True)
class ImageSearch:
    """What ``skycut find`` asks for.

    Attributes
    ----------
    ra, dec
        The position, ICRS degrees.
    radius
        Degrees around it; 0 asks for the images covering the point itself.
    band
        Wavelengths in metres (``lo == hi`` for one wavelength), or `None`.
    time
        MJD interval (``lo == hi`` for one instant), or `None`.
    collections
        Collection names, any of which may hold an image (none: any collection).
    maxrec
        Most rows to return, or `None` for the service's default.

    """

    ra: float
    dec: float
    radius: float = 0.0
    band: tuple[float, float] | None = None
    time: tuple[float, float] | None = None
    collections: tuple[str, ...] = ()
    maxrec: int | None = None

    def params(self) -> list[tuple[str, str]]:
        """Return the SIA 2.0 query parameters, repeated names as separate pairs."""
        radius = self.radius if self.radius > 0 else POINT_RADIUS
        circle = " ".join(map(format_number, (self.ra, self.dec, radius)))
        params = [("POS", f"CIRCLE {circle}")]
        for name, interval in (("BAND", self.band), ("TIME", self.time)):
            if interval is not None:
                params.append((name, " ".join(map(format_number, interval))))
        params += [("COLLECTION", name) for name in self.collections]
        if self.maxrec is not None:
            params.append(("MAXREC", str(self.maxrec)))
        return params


@dataclass(frozen=True, slots=True)
class SiaAnswer:
    """The images the service found.

    Attributes
    ----------
    fields
        The column names, in the service's order.
    rows
        One mapping of column name to value per image, in the service's order.
    overflow
        Whether more images match than were returned (``QUERY_STATUS=OVERFLOW``).
    content
        The VOTable as the service sent it.

    """

    fields: tuple[str, ...]
    rows: tuple[dict[str, Value], ...]
    overflow: bool
    content: bytes


def search_images(
    target: Target, search: ImageSearch, *, session: requests.Session | None = None
) -> SiaAnswer:
    """Ask the service's SIA endpoint for the images meeting ``search``.

    Parameters
    ----------
    target
        The service (``<url>/sia/query`` is asked).
    search
        The constraints.
    session
        The HTTP session to use (a new one if not given).

    Returns
    -------
    SiaAnswer
        The rows and the query's status.

    Raises
    ------
    SiaQueryError
        If the service cannot be reached, answers with an HTTP error or an
        error VOTable, or sends something that is not an SIA response.

    """
    if session is None:
        with requests.Session() as own:
            return search_images(target, search, session=own)
    url = f"{target.url}/sia/query"
    try:
        response = session.get(url, params=search.params(), headers=target.headers(), timeout=120)
    except requests.RequestException as e:
        raise SiaQueryError(f"cannot reach {url}: {e}") from e
    document = _parse(response.content)
    status, message = _status(document)
    if status == "ERROR":
        raise SiaQueryError(f"the service refused the query: {message or 'no reason given'}")
    if response.status_code != 200:
        detail = response.text.strip()[:500]
        raise SiaQueryError(f"{url} answered {response.status_code}: {detail}")
    if document is None or status not in ("OK", "OVERFLOW"):
        raise SiaQueryError(f"{url} did not answer with an SIA 2.0 VOTable (QUERY_STATUS {status})")
    fields, rows = _rows(_results(document))
    return SiaAnswer(fields, rows, overflow=status == "OVERFLOW", content=response.content)


def _parse(content: bytes) -> VOTableFile | None:
    # astropy is imported when a query is made, so the other commands start without it
    from astropy.io import votable

    try:
        return votable.parse(io.BytesIO(content), verify="ignore")
    except Exception:  # an HTML error page, a proxy's text: not a VOTable at all
        return None


def _results(document: VOTableFile) -> Resource | None:
    resources = list(document.resources)
    return next((r for r in resources if r.type == "results"), resources[0] if resources else None)


def _status(document: VOTableFile | None) -> tuple[str | None, str]:
    if document is None:
        return None, ""
    resource = _results(document)
    # DALI puts QUERY_STATUS in the results RESOURCE; older services put it under VOTABLE
    for info in [*(resource.infos if resource is not None else []), *document.infos]:
        if info.name == "QUERY_STATUS":
            return str(info.value), str(info.content or "").strip()
    return None, ""


def _rows(resource: Resource | None) -> tuple[tuple[str, ...], tuple[dict[str, Value], ...]]:
    if resource is None or not resource.tables:
        return (), ()
    table = resource.tables[0].to_table()
    names = tuple(table.colnames)
    return names, tuple({name: _value(row[name]) for name in names} for row in table)


def _value(cell: Any) -> Value:
    import numpy as np

    if cell is None or cell is np.ma.masked or (np.ma.isMaskedArray(cell) and cell.mask.all()):
        return None
    if isinstance(cell, bytes):
        return cell.decode()
    if isinstance(cell, str):
        return cell or None
    if isinstance(cell, np.ndarray):
        return tuple(float(v) for v in np.ma.getdata(cell).ravel())
    if isinstance(cell, np.integer | int):
        return int(cell)
    number = float(cell)
    return None if math.isnan(number) else number
