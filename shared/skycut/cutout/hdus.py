"""Choosing the HDUs to cut, and indexing further into a file when needed.

The worker caches indexes scanned up to the HDU named ``IMAGE``; a cutout
that also wants ``MASK``, ``VARIANCE`` or every HDU continues that scan
from where it stopped, reading only the headers it had not reached.
"""

from __future__ import annotations

# scan_on lives beside scan_fits (one scanning loop); re-exported for the engine.
from skycut.cutout.fitsindex import FitsIndex, HduInfo, named_image, scan_on

__all__ = ["find_hdu", "image_hdus", "is_image", "scan_on", "select_image"]


def is_image(hdu: HduInfo) -> bool:
    """Whether an HDU is an image (plain or tile-compressed) of two or more axes with data."""
    if hdu.is_compressed:
        return int(hdu.header.get("ZNAXIS", 0)) >= 2
    is_image = hdu.index == 0 or hdu.header.get("XTENSION") == "IMAGE"
    return bool(is_image and int(hdu.header.get("NAXIS", 0)) >= 2 and hdu.data_size > 0)


def select_image(index: FitsIndex) -> HduInfo | None:
    """Return the HDU named ``IMAGE`` (any case), else the first image HDU, else `None`."""
    named = next((h for h in index.hdus if named_image(h)), None)
    return named or next((h for h in index.hdus if is_image(h)), None)


def find_hdu(index: FitsIndex, name: str) -> HduInfo | None:
    """Return the first image HDU whose ``EXTNAME`` is ``name`` (any case), or `None`."""
    wanted = name.upper()
    return next(
        (h for h in index.hdus if h.extname and h.extname.upper() == wanted and is_image(h)), None
    )


def image_hdus(index: FitsIndex) -> list[HduInfo]:
    """Return every image HDU, in file order."""
    return [h for h in index.hdus if is_image(h)]
