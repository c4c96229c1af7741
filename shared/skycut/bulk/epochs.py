"""The epochs package of one position: every covering image's stamp, in time order.

Two files per position (bulk row):

- a multi-extension FITS: an empty primary HDU saying where and how many,
  then one image HDU per stamp, oldest first, each with its exact WCS,
  ``MJD-OBS``, ``FILTER``, ``SC_SRC`` (the image's ``ID``) and its
  position in the sequence (``EXTNAME = EPOCH001``...);
- a PNG filmstrip: the stamps side by side in the same order, each with
  its sky level removed and all on **one** stretch, so a source that
  brightens looks brighter (a stretch per stamp would make every epoch
  look alike), with the band and date under each.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from PIL import Image, ImageDraw

from skycut.bulk.package import Contents
from skycut.cutout.fitsindex import BLOCK_SIZE, HduInfo, scan_fits
from skycut.cutout.hdus import select_image
from skycut.cutout.pixels import image_shape, stored_dtype
from skycut.cutout.preview import Stretch, binned, physical_values
from skycut.cutout.stencil import Circle, Polygon, Range, Stencil, parse_stencil
from skycut.errors import UsageError
from skycut.jobs.records import StoredResult

__all__ = [
    "EpochPackage",
    "EpochStamp",
    "epoch_members",
    "epoch_packages",
    "epochs_fits",
    "filmstrip_png",
    "in_time_order",
]

_FILM_COLUMNS = 10
_LABEL_HEIGHT = 12
_GAP = 2
_MAX_TILE = 128  # filmstrip pixels per stamp side; larger stamps are binned
_MIN_TILE = 96  # smaller stamps are enlarged (whole pixels repeated) to about this
# PIL loads its file formats' writers on first use: load them with this module (the
# worker's start), not while a job's first package is being written (0.3 s here).
Image.preinit()


@dataclass(frozen=True)
class EpochStamp:
    """One covering image's stamp of a position, as its cutout holds it.

    Attributes
    ----------
    image_id
        The source image's ``ID``.
    cards
        The stamp's image extension header as written: its 80-column card
        images (``XTENSION`` first, no ``END``), the exact WCS among them.
    stored
        Its data as stored (big-endian, unpadded), copied into the package
        byte for byte.
    data
        Its pixels as physical values (``BSCALE``/``BZERO`` applied), for the
        filmstrip.
    mjd
        The exposure's start (MJD), if known.
    band
        The filter's name, if known.

    """

    image_id: str
    cards: tuple[str, ...]
    stored: bytes
    data: npt.NDArray[np.floating]
    mjd: float | None
    band: str | None

    @classmethod
    def of(
        cls,
        image_id: str,
        header: fits.Header,
        data: npt.NDArray[np.floating],
        mjd: float | None,
        band: str | None,
    ) -> EpochStamp:
        """Make a stamp of an image header and its pixels (written as astropy writes them)."""
        out = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header=header)]).writeto(out)
        image = scan_fits(_Bytes(out.getvalue(), image_id)).hdus[1]
        return cls._from_hdu(image_id, out.getvalue(), image, mjd, band)

    @classmethod
    def _from_hdu(
        cls, image_id: str, content: bytes, hdu: HduInfo, mjd: float | None, band: str | None
    ) -> EpochStamp:
        text = content[hdu.header_offset : hdu.data_offset].decode("ascii")
        cards = [text[i : i + 80] for i in range(0, len(text), 80)]
        end = next(i for i, card in enumerate(cards) if card.rstrip() == "END")
        shape = image_shape(hdu)
        dtype = stored_dtype(int(hdu.header["BITPIX"]))
        stored = content[hdu.data_offset : hdu.data_offset + dtype.itemsize * math.prod(shape)]
        values = np.frombuffer(stored, dtype=dtype).reshape(shape)
        return cls(
            image_id=image_id,
            cards=_as_extension(cards[:end]),
            stored=stored,
            data=physical_values(values, hdu.header),
            mjd=mjd,
            band=band,
        )

    @property
    def header(self) -> fits.Header:
        """The stamp's header, parsed."""
        return fits.Header.fromstring("".join(self.cards))


class _Bytes:
    """A cutout held in memory, read as the engine reads files."""

    def __init__(self, content: bytes, name: str) -> None:
        self._content = content
        self.name = name

    def size(self) -> int:
        return len(self._content)

    def read_range(self, start: int, stop: int) -> bytes:
        return self._content[start:stop]


def _keyword(card: str) -> str:
    return card[:8].rstrip()


def _as_extension(cards: Sequence[str]) -> tuple[str, ...]:
    """Return a header's cards as an image extension's (a primary HDU's converted)."""
    if not cards or _keyword(cards[0]) != "SIMPLE":
        return tuple(cards)
    body = [c for c in cards[1:] if _keyword(c) not in ("EXTEND", "GROUPS", "PCOUNT", "GCOUNT")]
    axes = next(i for i, c in enumerate(body) if _keyword(c) == "NAXIS")
    while axes + 1 < len(body) and re.fullmatch(r"NAXIS\d+", _keyword(body[axes + 1])):
        axes += 1
    return (
        _card("XTENSION", "IMAGE", "image extension"),
        *body[: axes + 1],
        _card("PCOUNT", 0, "number of parameters"),
        _card("GCOUNT", 1, "number of groups"),
        *body[axes + 1 :],
    )


def _card(keyword: str, value: Any, comment: str = "") -> str:
    return str(fits.Card(keyword, value, comment).image)


def _without(cards: Sequence[str], keywords: set[str]) -> list[str]:
    """Return the cards but those of ``keywords`` (and the CONTINUE cards of their values)."""
    kept: list[str] = []
    dropping = False
    for card in cards:
        keyword = _keyword(card)
        if keyword == "CONTINUE" and dropping:
            continue
        dropping = keyword in keywords
        if not dropping:
            kept.append(card)
    return kept


def _padded(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % BLOCK_SIZE)


def in_time_order(stamps: Sequence[EpochStamp]) -> list[EpochStamp]:
    """Sort stamps oldest first; stamps of unknown time last, by image id."""
    return sorted(stamps, key=lambda s: (s.mjd is None, s.mjd or 0.0, s.image_id))


_MJD_EPOCH = datetime(1858, 11, 17)


def _iso(mjd: float) -> str:
    """Return a UTC MJD as ISO 8601 (a day of a leap second is off by it at most)."""
    return (_MJD_EPOCH + timedelta(days=mjd)).isoformat(timespec="milliseconds")


def epochs_fits(
    stamps: Sequence[EpochStamp], *, label: str, ra: float | None, dec: float | None
) -> bytes:
    """Write the stamps of one position as one multi-extension FITS file.

    Parameters
    ----------
    stamps
        The stamps, in any order (they are written oldest first).
    label
        The row's label, for the primary header.
    ra, dec
        The position (ICRS degrees), if known.

    """
    ordered = in_time_order(stamps)
    primary = fits.Header()
    primary["SIMPLE"] = (True, "conforms to FITS standard")
    primary["BITPIX"] = (8, "array data type")
    primary["NAXIS"] = (0, "number of array dimensions")
    primary["EXTEND"] = True
    primary["OBJECT"] = (label[:68], "the position's label")
    if ra is not None and dec is not None:
        primary["RA"] = (ra, "[deg] position (ICRS)")
        primary["DEC"] = (dec, "[deg] position (ICRS)")
    primary["NEPOCHS"] = (len(ordered), "stamps in this file, oldest first")
    parts = [primary.tostring().encode("ascii")]
    for k, stamp in enumerate(ordered, start=1):
        # The stamp's own card images and stored bytes, as cut: no card is
        # parsed and re-rendered, no pixel converted.
        added = [_card("EXTNAME", f"EPOCH{k:03d}")]
        if stamp.mjd is not None:
            added.append(_card("MJD-OBS", stamp.mjd, "[d] start of the exposure (MJD)"))
            if not any(_keyword(card) == "DATE-OBS" for card in stamp.cards):
                added.append(_card("DATE-OBS", _iso(stamp.mjd), "start of the exposure (UTC)"))
        if stamp.band is not None:
            added.append(_card("FILTER", stamp.band))
        added.append(_card("SC_SRC", stamp.image_id, "image the stamp was cut from"))
        replaced = {_keyword(card) for card in added}
        header = "".join(_without(stamp.cards, replaced | {"EXTVER"}) + added) + "END"
        parts.append(_padded(header.encode("ascii"), b" "))
        parts.append(_padded(stamp.stored, b"\0"))
    return b"".join(parts)


def _tile(data: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    plane, _ = binned(np.asarray(data, dtype=np.float64), _MAX_TILE)
    finite = np.isfinite(plane)
    if finite.any():
        plane = plane - np.median(plane[finite])  # each exposure's own sky level removed
    factor = max(1, round(_MIN_TILE / max(plane.shape)))
    return np.repeat(np.repeat(plane, factor, axis=0), factor, axis=1)


def _label(stamp: EpochStamp) -> str:
    date = "" if stamp.mjd is None else _iso(stamp.mjd)[:10]
    return f"{stamp.band or '?'} {date}".strip()


def filmstrip_png(stamps: Sequence[EpochStamp]) -> bytes:
    """Draw the stamps of one position side by side, oldest first, on one stretch.

    Returns
    -------
    bytes
        A PNG, up to ten stamps per row, the band and date under each.

    """
    ordered = in_time_order(stamps)
    tiles = [_tile(s.data) for s in ordered]
    side = max((max(t.shape) for t in tiles), default=1)
    values = np.concatenate([t[np.isfinite(t)] for t in tiles] or [np.zeros(1)])
    stretch = Stretch.for_sky(values if values.size else np.zeros(1))
    columns = min(_FILM_COLUMNS, max(1, len(tiles)))
    rows = max(1, math.ceil(len(tiles) / columns))
    labels = [_label(s) for s in ordered]
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    widest = max((measure.textlength(text) for text in labels), default=0.0)
    cell_w = max(side, math.ceil(widest) + 2) + _GAP
    cell_h = side + _LABEL_HEIGHT + _GAP
    canvas = Image.new("L", (columns * cell_w, rows * cell_h), color=0)
    draw = ImageDraw.Draw(canvas)
    for k, tile in enumerate(tiles):
        grey = np.zeros(tile.shape)
        finite = np.isfinite(tile)
        grey[finite] = stretch(tile[finite])
        pixels = np.flipud(np.rint(grey * 255.0).astype(np.uint8))  # FITS rows run upwards
        x0, y0 = (k % columns) * cell_w, (k // columns) * cell_h
        canvas.paste(Image.fromarray(pixels, mode="L"), (x0, y0))
        draw.text((x0 + 1, y0 + side + 1), labels[k], fill=255)
    out = io.BytesIO()
    canvas.save(out, format="PNG", compress_level=1)  # grey noise barely compresses
    return out.getvalue()


@dataclass(frozen=True)
class EpochPackage:
    """The epochs package of one bulk row: its multi-extension FITS and its filmstrip."""

    row: int
    stamps: int
    fits: bytes
    png: bytes


def _centre(stencil: Stencil) -> tuple[float, float]:
    if isinstance(stencil, Circle):
        return stencil.ra, stencil.dec
    if isinstance(stencil, Polygon):
        return stencil.centre
    if not isinstance(stencil, Range):
        raise TypeError(f"not a stencil: {stencil!r}")
    return (stencil.lon_start + stencil.lon_width / 2) % 360.0, (
        stencil.lat_min + stencil.lat_max
    ) / 2


def _value(headers: Sequence[fits.Header], key: str) -> Any:
    return next((h[key] for h in headers if key in h), None)


def _stamp(result: StoredResult, data: bytes) -> tuple[EpochStamp, tuple[float, float] | None]:
    """Return a FITS cutout as a stamp, and the centre of the stencil it was cut with."""
    index = scan_fits(_Bytes(data, result.object_name))
    image = select_image(index)
    if image is None:
        raise ValueError(f"{result.object_name}: the cutout holds no image")
    headers = [image.header, index.hdus[0].header]
    found = result.found  # what the index said, when the image was found by position
    mjd = found.mjd if found is not None else None
    mjd = mjd if mjd is not None else _value(headers, "MJD-OBS")
    band = (found.band if found is not None else None) or _value(headers, "FILTER")
    image_id = result.source_id or str(_value(headers, "SC_ID") or "")
    stamp = EpochStamp._from_hdu(
        image_id,
        data,
        image,
        mjd=None if mjd is None else float(mjd),
        band=None if band is None else str(band),
    )
    stencil_text = _value(headers, "SC_STENC")
    centre = None
    if isinstance(stencil_text, str):
        try:
            centre = _centre(parse_stencil(stencil_text))
        except UsageError:
            centre = None
    return stamp, centre


def epoch_members(results: Sequence[StoredResult]) -> list[StoredResult]:
    """Return the results epochs packages hold (FITS cutouts), grouped by row in file order."""
    members = [r for r in results if r.status == "ok" and r.mime_type == "application/fits"]
    return sorted(members, key=lambda r: (r.line, r.index))


def epoch_packages(contents: Contents) -> Iterator[EpochPackage]:
    """Yield, per bulk row, the epochs package of its FITS cutouts, rows in file order.

    ``contents`` are the cutouts of :func:`epoch_members` with their bytes, in
    that order. A row's cutouts are those of every image covering its
    position (a row without ``id``) or of its one image; PNG/JPEG cutouts and
    failed ones are left out, and a row with no FITS cutout gets no package.
    """
    for row, group in groupby(contents, key=lambda item: item[0].line):
        stamps: list[EpochStamp] = []
        centre: tuple[float, float] | None = None
        label: str | None = None
        for result, data in group:
            stamp, where = _stamp(result, data)
            stamps.append(stamp)
            centre = centre or where
            label = label or result.label
        ra, dec = centre if centre is not None else (None, None)
        yield EpochPackage(
            row=row,
            stamps=len(stamps),
            fits=epochs_fits(stamps, label=label or f"row {row}", ra=ra, dec=dec),
            png=filmstrip_png(stamps),
        )
