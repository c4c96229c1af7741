"""Provenance of a cutout: what was cut from what, when, and by which skycut.

FITS cutouts carry it as ``SC_*`` cards and a ``HISTORY`` line in the
primary header (which also keeps the source's primary cards, the
observation metadata extensions inherit); previews carry the same facts as
text chunks.

=========  ==========================================================
``SC_ID``  source identifier
``SC_GEN``  version of the source object cut (its Cloud Storage generation), if known
``SC_STENC``  stencil (``POS`` text, ICRS degrees); absent if none
``SC_BAND``  BAND (m); ``SC_TIME`` TIME (MJD); ``SC_POL`` POL values
``SC_DETL``  DETAIL; ``SC_MASK`` whether outside pixels were blanked
``SC_HDU``  name of the image HDU cut; ``SC_HDUNO`` its number
``SC_NHDU``  number of HDUs cut (extensions of this file)
``SC_VERS``  skycut version; ``DATE`` creation time, UTC
=========  ==========================================================
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime

from astropy.io import fits

import skycut
from skycut.cutout.fitsindex import BLOCK_SIZE, FitsIndex, HduInfo
from skycut.cutout.output import STRUCTURAL
from skycut.cutout.selection import Detail, Selection

__all__ = ["primary_header", "provenance_items"]

_SCALING = ("BSCALE", "BZERO", "BLANK")
_COMMENTARY = frozenset({"COMMENT", "HISTORY", ""})


def provenance_items(
    selection: Selection,
    *,
    source_id: str,
    detail: Detail,
    mask_outside: bool,
    source_generation: int | None = None,
) -> list[tuple[str, str | int | bool, str]]:
    """Return the provenance as ``(card, value, comment)`` triples.

    Parameters
    ----------
    selection
        The filters applied.
    source_id
        The source's public identifier.
    detail
        Which HDUs were asked for.
    mask_outside
        Whether pixels outside the stencil were blanked.
    source_generation
        The version of the source object every byte was read from.

    Returns
    -------
    list of tuple
        The cards, in the order they are written.

    """
    items: list[tuple[str, str | int | bool, str]] = [
        ("SC_ID", source_id, "skycut source identifier")
    ]
    if source_generation is not None:
        items.append(("SC_GEN", source_generation, "source object generation cut"))
    if selection.stencil is not None:
        items.append(("SC_STENC", selection.stencil.to_soda(), "skycut stencil (ICRS, deg)"))
    if selection.band is not None:
        items.append(("SC_BAND", selection.band.to_soda(), "skycut BAND (wavelength, m)"))
    if selection.time is not None:
        items.append(("SC_TIME", selection.time.to_soda(), "skycut TIME (MJD, UTC)"))
    if selection.pol:
        items.append(("SC_POL", " ".join(selection.pol), "skycut POL states"))
    items += [
        ("SC_DETL", detail, "skycut DETAIL: HDUs cut"),
        ("SC_MASK", mask_outside, "skycut MASKOUTSIDE: outside pixels blanked"),
        ("SC_VERS", skycut.__version__, "skycut version"),
        ("DATE", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "UTC file creation"),
    ]
    return items


def primary_header(
    index: FitsIndex,
    image: HduInfo,
    cut: Sequence[HduInfo],
    selection: Selection,
    *,
    source_id: str,
    detail: Detail,
    mask_outside: bool,
    source_generation: int | None = None,
) -> bytes:
    """Render the primary header of a cutout file.

    Parameters
    ----------
    index
        The source file's index (its primary header is copied).
    image
        The image HDU cut.
    cut
        Every HDU cut, in output order.
    selection, source_id, detail, mask_outside, source_generation
        What was asked for and what was read, as in `provenance_items`.

    Returns
    -------
    bytes
        A data-less primary header with the provenance cards, whole
        2880-byte blocks: what ``fits.Header.tostring()`` gives for the
        same cards.

    """
    # Rendered from card images, as the extensions are: the source's cards keep
    # the images they were parsed from, and building a Header card by card
    # costs more than a small stamp's whole cut.
    cards = [("SIMPLE", _image("SIMPLE", True, "conforms to FITS standard"))]
    cards += [("BITPIX", _image("BITPIX", 8, "array data type"))]
    cards += [("NAXIS", _image("NAXIS", 0, "number of array dimensions"))]
    cards.append(("EXTEND", _image("EXTEND", True)))
    if image.index != 0:
        # Observation metadata an extension inherits lives in the primary header.
        cards += [
            (card.keyword, card.image)
            for card in index.hdus[0].header.cards
            if not STRUCTURAL.fullmatch(card.keyword) and card.keyword not in _SCALING
        ]
        while cards[-1][0] == "":  # trailing blank cards make room for new ones, as in astropy
            cards.pop()
    items = provenance_items(
        selection,
        source_id=source_id,
        detail=detail,
        mask_outside=mask_outside,
        source_generation=source_generation,
    )
    items[-2:-2] = [
        ("SC_HDU", image.name, "source HDU cut"),
        ("SC_HDUNO", image.index, "source HDU number, 0 = primary"),
        ("SC_NHDU", len(cut), "HDUs cut, in the extensions that follow"),
    ]
    # Placed as astropy's Header places them: a keyword already there is
    # replaced where it stands, a new one goes after the last card that is not
    # commentary, a HISTORY line after the last HISTORY line.
    keys = [key for key, _ in cards]
    after = 1 + max(i for i, key in enumerate(keys) if key not in _COMMENTARY)
    for key, value, comment in items:
        rendered = _card(key, value, comment)
        if key in keys:
            cards[keys.index(key)] = (key, rendered)
        else:
            cards.insert(after, (key, rendered))
            keys.insert(after, key)
            after += 1
    names = ", ".join(f"{h.name} (HDU {h.index})" for h in cut)
    for line in (f"skycut {skycut.__version__}: {selection.describe()} of {source_id}",
                 f"HDUs cut: {names}"):  # fmt: skip
        at = 1 + max((i for i, key in enumerate(keys) if key == "HISTORY"), default=len(keys) - 1)
        cards.insert(at, ("HISTORY", _image("HISTORY", line)))
        keys.insert(at, "HISTORY")
    images = [rendered for _, rendered in cards]
    text = "".join(images) + "END".ljust(80)
    return (text + " " * (-len(text) % BLOCK_SIZE)).encode("ascii")


@functools.lru_cache(maxsize=1024, typed=True)  # most cards repeat from cut to cut
def _image(key: str, value: str | int | bool, comment: str = "") -> str:
    return str(fits.Card(key, value, comment).image)


def _card(key: str, value: str | int | bool, comment: str) -> str:
    # A comment that does not fit would be truncated with a warning; long IDs
    # (CONTINUE cards) and long stencils simply go without one.
    bare = _image(key, value)
    return _image(key, value, comment) if len(bare.rstrip()) + 3 + len(comment) <= 80 else bare
