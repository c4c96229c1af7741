"""Cut a circle out of a FITS image, reading only the rows it needs.

The engine is pure: bytes come from a :class:`RangeReader`, FITS bytes go
out. It reads the headers (unless the caller has them), then the rows the
circle covers as one byte range, and writes them untouched: the output keeps
the source's ``BITPIX``, ``BSCALE``, ``BZERO`` and ``BLANK``, so readers scale
it exactly as they would the source, and integer images stay integer.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

import skycut
from skycut.cutout.fitsindex import (
    BLOCK_SIZE,
    FitsIndex,
    HduInfo,
    named_image,
    scan_fits,
    select_image_hdu,
)
from skycut.cutout.geometry import PixelBox, circle_pixel_box
from skycut.cutout.reader import CountingReader, RangeReader, ReadStats
from skycut.cutout.stencil import Circle
from skycut.errors import UnsupportedSourceError

__all__ = ["Cutout", "cut_circle"]

# Cards describing the source's layout or checksums, which the output rewrites or loses.
_STRUCTURAL = re.compile(
    r"(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|NEXTEND|PCOUNT|GCOUNT|GROUPS"
    r"|CHECKSUM|DATASUM|DATAMIN|DATAMAX)"
)
_CRPIX = re.compile(r"CRPIX([12])[A-Z]?")
_SCALING = ("BSCALE", "BZERO", "BLANK")


@dataclass(frozen=True)
class Cutout:
    """A cutout as a FITS file, and how it was made.

    Attributes
    ----------
    fits_bytes
        The FITS file: a primary HDU with provenance cards, then the image.
    box
        The source pixels cut, 0-based, stops exclusive.
    shape
        The cutout's shape in numpy order.
    hdu_name
        The source HDU's ``EXTNAME``, or ``PRIMARY`` / ``HDU<n>``.
    read_requests
        Range requests this cut made, if they were counted.
    read_bytes
        Bytes this cut read, if they were counted.

    """

    fits_bytes: bytes
    box: PixelBox
    shape: tuple[int, int]
    hdu_name: str
    read_requests: int | None = None
    read_bytes: int | None = None


def cut_circle(
    reader: RangeReader,
    circle: Circle,
    *,
    source_id: str,
    index: FitsIndex | None = None,
    stats: ReadStats | None = None,
) -> Cutout:
    """Cut the pixels a circle covers out of a FITS image.

    Parameters
    ----------
    reader
        The source file's bytes.
    circle
        The stencil.
    source_id
        The source's public identifier, for provenance and error messages.
    index
        The file's HDU index from `scan_fits`, if the caller has it cached;
        scanned (up to the HDU named ``IMAGE``) otherwise.
    stats
        Counters of the reader's requests; taken from ``reader`` if it is a
        `CountingReader`.

    Returns
    -------
    Cutout
        The cutout FITS file and its box. ``read_requests`` and ``read_bytes``
        count this call's reads only.

    Raises
    ------
    skycut.errors.NoOverlapError
        If the circle misses the image.
    skycut.errors.UnsupportedSourceError
        If the file has no plain 2-D image with a celestial WCS, or is truncated.

    """
    if stats is None and isinstance(reader, CountingReader):
        stats = reader.stats
    before = (stats.requests, stats.bytes) if stats is not None else (0, 0)
    if index is None:
        index = scan_fits(reader, stop_after=named_image)
    hdu = select_image_hdu(index)
    if hdu.is_compressed:
        raise UnsupportedSourceError(
            f"tile-compressed images are not supported yet ({source_id} HDU {hdu.name})"
        )
    header = hdu.header
    if header.get("NAXIS") != 2:
        raise UnsupportedSourceError(f"{source_id} HDU {hdu.name} is not a 2-D image")
    shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    try:
        with warnings.catch_warnings():
            # wcslib's notes on non-standard cards it fixes are not the user's concern.
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header)
    except (ValueError, KeyError) as e:
        raise UnsupportedSourceError(f"{source_id} HDU {hdu.name}: unusable WCS: {e}") from e
    box = circle_pixel_box(wcs, shape, circle, source=source_id)
    data = _read_box(reader, hdu, box, source_id)
    primary = _primary_header(index, hdu, circle, source_id)
    image = _image_header(hdu, box)
    out = primary.tostring().encode("ascii") + image.tostring().encode("ascii") + data
    after = (stats.requests, stats.bytes) if stats is not None else (0, 0)
    return Cutout(
        fits_bytes=out,
        box=box,
        shape=box.shape,
        hdu_name=hdu.name,
        read_requests=after[0] - before[0] if stats is not None else None,
        read_bytes=after[1] - before[1] if stats is not None else None,
    )


def _read_box(reader: RangeReader, hdu: HduInfo, box: PixelBox, source_id: str) -> bytes:
    """Read the box's rows in one request; return its pixels as padded FITS data."""
    bitpix = int(hdu.header["BITPIX"])
    nx = int(hdu.header["NAXIS1"])
    row = nx * abs(bitpix) // 8
    start, stop = hdu.data_offset + box.y0 * row, hdu.data_offset + box.y1 * row
    raw = reader.read_range(start, stop)
    if len(raw) != stop - start:
        raise UnsupportedSourceError(f"{source_id} is truncated in HDU {hdu.name}")
    # Bytes stay big-endian and unscaled; only the columns are sliced.
    dtype = np.dtype(f">{'f' if bitpix < 0 else 'i' if bitpix > 8 else 'u'}{abs(bitpix) // 8}")
    rows = np.frombuffer(raw, dtype=dtype).reshape(box.y1 - box.y0, nx)
    data = np.ascontiguousarray(rows[:, box.x0 : box.x1]).tobytes()
    return data + b"\0" * (-len(data) % BLOCK_SIZE)


def _copy_cards(header: fits.Header, target: fits.Header) -> None:
    # Copies, not the cards themselves: the index's headers may be cached and reused.
    for card in header.copy().cards:
        if not _STRUCTURAL.fullmatch(card.keyword):
            target.append(card, end=True)


def _primary_header(index: FitsIndex, hdu: HduInfo, circle: Circle, source_id: str) -> fits.Header:
    header = fits.PrimaryHDU().header
    if hdu.index != 0:
        # Observation metadata an extension inherits lives in the primary header.
        _copy_cards(index.hdus[0].header, header)
        for key in _SCALING:
            header.remove(key, ignore_missing=True)
    _set(header, "SC_ID", source_id, "skycut source identifier")
    _set(header, "SC_STENC", circle.to_soda(), "skycut stencil (ICRS, deg)")
    _set(header, "SC_HDU", hdu.name, "source HDU cut")
    _set(header, "SC_HDUNO", hdu.index, "source HDU number, 0 = primary")
    _set(header, "SC_VERS", skycut.__version__, "skycut version")
    _set(header, "DATE", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "UTC file creation")
    header.add_history(f"skycut {skycut.__version__}: {circle.to_soda()} of {source_id}")
    return header


def _set(header: fits.Header, key: str, value: str | int, comment: str) -> None:
    # A comment that does not fit would be truncated with a warning; long IDs
    # (CONTINUE cards) and long stencils simply go without one.
    used = len(fits.Card(key, value).image.rstrip())
    header[key] = (value, comment) if used + 3 + len(comment) <= 80 else value


def _image_header(hdu: HduInfo, box: PixelBox) -> fits.Header:
    ny, nx = box.shape
    header = fits.Header(
        [
            ("XTENSION", "IMAGE", "image extension"),
            ("BITPIX", hdu.header["BITPIX"], "array data type"),
            ("NAXIS", 2, "number of array dimensions"),
            ("NAXIS1", nx),
            ("NAXIS2", ny),
            ("PCOUNT", 0, "number of parameters"),
            ("GCOUNT", 1, "number of groups"),
        ]
    )
    _copy_cards(hdu.header, header)
    # Shifting every reference pixel (SIP and other distortions are relative
    # to CRPIX) keeps each WCS exact on the cutout.
    shifts = {"1": box.x0, "2": box.y0}
    for key in list(header.keys()):
        if (match := _CRPIX.fullmatch(key)) is not None:
            header[key] = float(header[key]) - shifts[match.group(1)]
    # IRAF's image = LTM * physical + LTV, with LTM = 1 unless given.
    for axis, shift in shifts.items():
        ltv = float(header.get(f"LTV{axis}", 0.0))
        header[f"LTV{axis}"] = (ltv - shift, "IRAF: image = LTM * physical + LTV")
    where = f"[{box.y0}:{box.y1}, {box.x0}:{box.x1}]"
    header["COMMENT"] = f"Cut from numpy slice {where} of HDU {hdu.name}"
    return header
