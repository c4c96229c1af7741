"""Choosing the HDUs to cut, and indexing further into a file when needed.

The worker caches indexes scanned up to the HDU named ``IMAGE``; a cutout
that also wants ``MASK``, ``VARIANCE`` or every HDU continues that scan
from where it stopped, reading only the headers it had not reached.
"""

from __future__ import annotations

from collections.abc import Callable

# The scan's own block reader and header parser, so that scanning on reads
# and parses exactly as `scan_fits` does; fitsindex has no public way to resume.
from skycut.cutout.fitsindex import BLOCK_SIZE, FitsIndex, HduInfo, _Blocks, _read_hdu, named_image
from skycut.cutout.reader import RangeReader
from skycut.errors import UnsupportedSourceError

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


def scan_on(
    reader: RangeReader,
    index: FitsIndex,
    *,
    stop_after: Callable[[HduInfo], bool] | None = None,
    chunk_size: int = 65536,
) -> FitsIndex:
    """Index further HDUs of a file, scanning on from the last HDU of ``index``.

    Parameters
    ----------
    reader
        The file's bytes.
    index
        An index, complete or stopped early.
    stop_after
        Called with each new HDU; scanning stops when it returns `True`.
    chunk_size
        Bytes per header read.

    Returns
    -------
    FitsIndex
        ``index`` itself if it was complete, else one with the HDUs found
        after it, complete unless ``stop_after`` stopped it.

    Raises
    ------
    skycut.errors.UnsupportedSourceError
        If a header beyond the indexed ones is malformed.

    """
    if index.complete:
        return index
    if not index.hdus:
        raise UnsupportedSourceError(f"{index.source}: empty index")
    blocks = _Blocks(reader, chunk_size)
    hdus = list(index.hdus)
    offset = hdus[-1].data_offset + hdus[-1].data_size
    while True:
        first = blocks.block(offset)
        if len(first) < BLOCK_SIZE or not first.startswith(b"XTENSION="):
            break  # the end of the file, or trailing bytes astropy ignores too
        hdu = _read_hdu(blocks, offset, len(hdus), reader.name)
        if hdu is None:
            break  # truncated extension header; keep what came before
        hdus.append(hdu)
        offset = hdu.data_offset + hdu.data_size
        if stop_after is not None and stop_after(hdu):
            return FitsIndex(index.source, tuple(hdus), complete=False)
    return FitsIndex(index.source, tuple(hdus), complete=True)
