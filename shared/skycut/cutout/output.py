"""Writing cut pixels as FITS image extensions with their WCS shifted exactly.

Pixels are written as stored: the output keeps the source's ``BITPIX``,
``BSCALE``, ``BZERO`` and ``BLANK``, so readers scale it exactly as they
would the source, and integer images stay integer. Every header card but the
structural ones is copied; each ``CRPIXj`` (and alternate ``CRPIXja``) of a
cut axis is shifted by the cut's start, which keeps every WCS exact on the
cutout, SIP and other distortions included (they are relative to CRPIX).
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from skycut.cutout.fitsindex import BLOCK_SIZE

__all__ = ["STRUCTURAL", "copy_cards", "extension_bytes", "stored_array"]

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
        The HDU's header; a copy is changed and returned.

    Returns
    -------
    array, header
        Big-endian stored values, and the header with ``BITPIX`` to match
        (scaling cards dropped if the values were already scaled).

    """
    header = header.copy()
    kind, size = values.dtype.kind, values.dtype.itemsize
    source_bitpix = int(header.get("BITPIX", 0))
    if kind == "f":
        bitpix = -8 * size
        if source_bitpix > 0:  # integers scaled to floats: the scaling is done
            for key in _SCALING:
                header.remove(key, ignore_missing=True)
    elif kind == "u" and size > 1:
        # Unsigned values are stored signed with BZERO = 2**(bits - 1) (FITS 4.0 §5.3).
        bitpix = 8 * size
        values = (values ^ np.array(1 << (bitpix - 1)).astype(values.dtype)).view(f"i{size}")
        header["BSCALE"], header["BZERO"] = 1, 2 ** (bitpix - 1)
    elif kind == "i" and size == 1:
        bitpix = 8
        values = (values.astype(np.int16) + 128).astype(np.uint8)
        header["BSCALE"], header["BZERO"] = 1, -128
    else:
        bitpix = 8 * size
    header["BITPIX"] = bitpix
    return values.astype(values.dtype.newbyteorder(">"), copy=False), header


def extension_bytes(
    header: fits.Header, data: npt.NDArray[np.generic], start: tuple[int, ...], *, note: str
) -> bytes:
    """Render one image extension: header and padded big-endian data.

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
    bytes
        The extension, a whole number of 2880-byte blocks.

    """
    cards = [
        ("XTENSION", "IMAGE", "image extension"),
        ("BITPIX", header["BITPIX"], "array data type"),
        ("NAXIS", data.ndim, "number of array dimensions"),
        *((f"NAXIS{k + 1}", n) for k, n in enumerate(reversed(data.shape))),
        ("PCOUNT", 0, "number of parameters"),
        ("GCOUNT", 1, "number of groups"),
    ]
    # Rendered card by card: the source's cards keep their parsed 80-column
    # images, which is several times faster than building a Header (a small
    # stamp's time is mostly header work).
    images = [fits.Card(*card).image for card in cards]
    ltv = dict.fromkeys(range(1, len(start) + 1), 0.0)
    for card in header.cards:
        key = card.keyword
        if STRUCTURAL.fullmatch(key):
            continue
        match = _CRPIX.fullmatch(key)
        if match is not None and int(match.group(1)) <= len(start):
            shifted = float(card.value) - start[int(match.group(1)) - 1]
            images.append(fits.Card(key, shifted, card.comment).image)
            continue
        if key.startswith("LTV") and key[3:].isdigit() and int(key[3:]) in ltv:
            ltv[int(key[3:])] = float(card.value)
            continue
        images.append(card.image)
    # IRAF's image = LTM * physical + LTV, with LTM = 1 unless given.
    for axis, shift in enumerate(start, start=1):
        images.append(
            fits.Card(f"LTV{axis}", ltv[axis] - shift, "IRAF: image = LTM * physical + LTV").image
        )
    images.append(fits.Card("COMMENT", note).image)
    text = "".join(images) + "END".ljust(80)
    text += " " * (-len(text) % BLOCK_SIZE)
    raw = np.ascontiguousarray(data).tobytes()
    return text.encode("ascii") + raw + b"\0" * (-len(raw) % BLOCK_SIZE)
