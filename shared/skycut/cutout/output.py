"""Writing cut pixels as FITS image extensions with their WCS shifted exactly.

Pixels are written as stored: the output keeps the source's ``BITPIX``,
``BSCALE``, ``BZERO`` and ``BLANK``, so readers scale it exactly as they
would the source, and integer images stay integer. Every header card but the
structural ones is copied; each ``CRPIXj`` (and alternate ``CRPIXja``) of a
cut axis is shifted by the cut's start, which keeps every WCS exact on the
cutout, SIP and other distortions included (they are relative to CRPIX).
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from skycut.cutout.fitsindex import BLOCK_SIZE

__all__ = ["STRUCTURAL", "copy_cards", "extension_bytes", "extension_parts", "stored_array"]

STRUCTURAL = re.compile(
    r"(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|NEXTEND|PCOUNT|GCOUNT|GROUPS"
    r"|CHECKSUM|DATASUM|DATAMIN|DATAMAX)"
)
"""Cards describing the source's layout or checksums, which the output rewrites or loses."""

_CRPIX = re.compile(r"CRPIX(\d+)[A-Z]?")
_SCALING = ("BSCALE", "BZERO", "BLANK")


def copy_cards(header: fits.Header, target: fits.Header) -> None:
    """Append copies of the non-structural cards of ``header`` to ``target``."""
    # Copies, not the cards themselves: the index's headers may be cached and reused.
    for card in header.copy().cards:
        if not STRUCTURAL.fullmatch(card.keyword):
            target.append(card, end=True)


def stored_array(
    values: npt.NDArray[np.generic], header: fits.Header
) -> tuple[npt.NDArray[np.generic], fits.Header]:
    """Bring pixel values into a FITS stored type consistent with the header.

    Parameters
    ----------
    values
        Pixels as read: stored values of the header's ``BITPIX``, or values
        already scaled (floats, or unsigned integers with their ``BZERO``).
    header
        The HDU's header, never changed (it may be shared with a cache).

    Returns
    -------
    array, header
        Big-endian stored values, and the header with ``BITPIX`` to match
        (scaling cards dropped if the values were already scaled): ``header``
        itself when it already says so, else a changed copy.

    """
    kind, size = values.dtype.kind, values.dtype.itemsize
    source_bitpix = int(header.get("BITPIX", 0))
    changes: dict[str, int] = {}
    drop: tuple[str, ...] = ()
    if kind == "f":
        bitpix = -8 * size
        if source_bitpix > 0:  # integers scaled to floats: the scaling is done
            drop = _SCALING
    elif kind == "u" and size > 1:
        # Unsigned values are stored signed with BZERO = 2**(bits - 1) (FITS 4.0 §5.3).
        bitpix = 8 * size
        values = (values ^ np.array(1 << (bitpix - 1)).astype(values.dtype)).view(f"i{size}")
        changes = {"BSCALE": 1, "BZERO": 2 ** (bitpix - 1)}
    elif kind == "i" and size == 1:
        bitpix = 8
        values = (values.astype(np.int16) + 128).astype(np.uint8)
        changes = {"BSCALE": 1, "BZERO": -128}
    else:
        bitpix = 8 * size
    stored = values.astype(values.dtype.newbyteorder(">"), copy=False)
    if bitpix == source_bitpix and not changes and not any(key in header for key in drop):
        return stored, header  # nothing to change: no copy of a long header
    header = header.copy()
    for key in drop:
        header.remove(key, ignore_missing=True)
    for key, value in changes.items():
        header[key] = value
    header["BITPIX"] = bitpix
    return stored, header


def extension_bytes(
    header: fits.Header, data: npt.NDArray[np.generic], start: tuple[int, ...], *, note: str
) -> bytes:
    """Render one image extension: header and padded big-endian data.

    Parameters are those of `extension_parts`; returns its parts joined.
    """
    return b"".join(extension_parts(header, data, start, note=note))


def extension_parts(
    header: fits.Header, data: npt.NDArray[np.generic], start: tuple[int, ...], *, note: str
) -> list[bytes | memoryview]:
    """Render one image extension as parts to join: header, big-endian data, padding.

    The data part is a view of ``data``'s memory (when contiguous), not a
    copy: a file of several extensions is then copied once, by the join that
    makes it, instead of once per step (a 1003² float cut is 4 MB).

    Parameters
    ----------
    header
        The source HDU's header, ``BITPIX`` matching ``data`` (see `stored_array`).
    data
        The cut's stored values, numpy order.
    start
        The cut's first pixel on each axis, FITS order, 0-based.
    note
        A line for the header's ``COMMENT`` saying where the cut comes from.

    Returns
    -------
    list
        The extension's parts; together a whole number of 2880-byte blocks.

    """
    naxis = len(start)
    cards = [
        ("XTENSION", "IMAGE", "image extension"),
        ("BITPIX", header["BITPIX"], "array data type"),
        ("NAXIS", data.ndim, "number of array dimensions"),
        *((f"NAXIS{k + 1}", n, "") for k, n in enumerate(reversed(data.shape))),
        ("PCOUNT", 0, "number of parameters"),
        ("GCOUNT", 1, "number of groups"),
    ]
    images = [_image(*card) for card in cards]
    body, crpix, ltv = _rendered(header, naxis)
    images += body
    for position, keyword, axis, value, comment in crpix:
        shifted = fits.Card(keyword, value - start[axis - 1], comment)
        images[len(cards) + position] = shifted.image
    # IRAF's image = LTM * physical + LTV, with LTM = 1 unless given.
    for axis, shift in enumerate(start, start=1):
        images.append(
            fits.Card(f"LTV{axis}", ltv[axis] - shift, "IRAF: image = LTM * physical + LTV").image
        )
    images.append(fits.Card("COMMENT", note).image)
    text = "".join(images) + "END".ljust(80)
    text += " " * (-len(text) % BLOCK_SIZE)
    raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8).data
    return [text.encode("ascii"), raw, b"\0" * (-raw.nbytes % BLOCK_SIZE)]


_Rendered = tuple[list[str], list[tuple[int, str, int, float, str]], dict[int, float]]
_RENDERED: OrderedDict[tuple[int, int], tuple[fits.Header, _Rendered]] = OrderedDict()
_RENDERED_LOCK = threading.Lock()
_CACHED_RENDERINGS = 256


@functools.lru_cache(maxsize=256, typed=True)
def _image(key: str, value: str | int | bool, comment: str) -> str:
    return str(fits.Card(key, value, comment).image)


def _rendered(header: fits.Header, naxis: int) -> _Rendered:
    """Return the card images an extension copies from ``header``, rendered once per header.

    The source's cards keep their parsed 80-column images, which is several
    times faster than building a Header; a header derived from a compressed
    HDU's has no images yet, and formatting them costs more than a stamp's
    cut, so they are rendered once per (cached, shared) header. ``CRPIXn``
    cards are listed with their position, to be shifted by each cut, and
    ``LTVn`` values taken out, to be written after the shift.
    """
    key = (id(header), naxis)
    with _RENDERED_LOCK:
        hit = _RENDERED.get(key)
        if hit is not None and hit[0] is header:  # the entry holds the header: its id is not reused
            _RENDERED.move_to_end(key)
            return hit[1]
    body: list[str] = []
    crpix: list[tuple[int, str, int, float, str]] = []
    ltv = dict.fromkeys(range(1, naxis + 1), 0.0)
    for card in header.cards:
        keyword = card.keyword
        if STRUCTURAL.fullmatch(keyword):
            continue
        match = _CRPIX.fullmatch(keyword)
        if match is not None and int(match.group(1)) <= naxis:
            axis = int(match.group(1))
            crpix.append((len(body), keyword, axis, float(card.value), card.comment))
            body.append("")  # replaced by the shifted card
            continue
        if keyword.startswith("LTV") and keyword[3:].isdigit() and int(keyword[3:]) in ltv:
            ltv[int(keyword[3:])] = float(card.value)
            continue
        body.append(card.image)
    rendered = (body, crpix, ltv)
    with _RENDERED_LOCK:
        _RENDERED[key] = (header, rendered)
        while len(_RENDERED) > _CACHED_RENDERINGS:
            _RENDERED.popitem(last=False)
    return rendered
