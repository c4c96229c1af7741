"""The HDU layout of a FITS file, read through a :class:`RangeReader`.

The index reads headers only: one first chunk, which for most files holds the
primary header and the first extensions' headers, then one block-aligned read
per header that chunk did not reach. Data are never read here; the index
records where each HDU's data start and how long they are (FITS 4.0 §4.4.1,
§7), so the engine can read the few rows it needs in one request.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from astropy.io import fits

from skycut.cutout.reader import RangeReader, known_size
from skycut.errors import SkycutError, UnsupportedSourceError

__all__ = [
    "BLOCK_SIZE",
    "FitsIndex",
    "HduInfo",
    "named_image",
    "scan_fits",
    "scan_on",
    "select_image_hdu",
]

BLOCK_SIZE = 2880
"""The FITS logical record length; headers and data are padded to it."""

_END_CARD = b"END" + b" " * 77
_BITPIX = frozenset({8, 16, 32, 64, -32, -64})


@dataclass(frozen=True)
class HduInfo:
    """Where one HDU lies in the file, and its header.

    Attributes
    ----------
    index
        Position of the HDU in the file, 0 for the primary.
    header
        The parsed header; shared, so copy it before changing it.
    header_offset
        Byte offset of the header's first card.
    data_offset
        Byte offset of the first data byte.
    data_size
        Length of the data, padded to whole 2880-byte blocks.
    extname
        ``EXTNAME`` without trailing blanks, or `None`.
    is_compressed
        Whether this is a tile-compressed image (a ``BINTABLE`` with ``ZIMAGE = T``).

    """

    index: int
    header: fits.Header
    header_offset: int
    data_offset: int
    data_size: int
    extname: str | None
    is_compressed: bool

    @property
    def name(self) -> str:
        """``EXTNAME`` if set, else ``PRIMARY`` or ``HDU<index>``."""
        if self.extname:
            return self.extname
        return "PRIMARY" if self.index == 0 else f"HDU{self.index}"


@dataclass(frozen=True)
class FitsIndex:
    """The HDUs of one FITS file, in file order.

    Attributes
    ----------
    source
        The reader's name.
    hdus
        The HDUs scanned.
    complete
        `False` if scanning stopped early, so later HDUs may exist.
    size
        The file's length in bytes, if the scan learned it at no cost (a
        Cloud Storage read tells it); a scan on from an index stopped early
        then needs no request to know where the file ends. None otherwise.
        True of the one version of the file scanned, as the whole index is.

    """

    source: str
    hdus: tuple[HduInfo, ...]
    complete: bool
    size: int | None = field(default=None, compare=False)


class _Blocks:
    """Serves 2880-byte blocks from the chunks read, reading a new one on a miss."""

    def __init__(self, reader: RangeReader, chunk_size: int, eof: int | None = None) -> None:
        self._reader = reader
        self._chunk = max(1, math.ceil(chunk_size / BLOCK_SIZE)) * BLOCK_SIZE
        self._start = 0
        self._data = b""
        # windows read ahead on a guess, whole blocks each (see `scan_on`)
        self._guessed: list[tuple[int, bytes]] = []
        self.eof = eof

    def file_size(self) -> int:
        """Return the file's size: known already, else asked of the reader."""
        if self.eof is None:
            self.eof = self._reader.size()
        return self.eof

    def known_size(self) -> int | None:
        """Return the file's size if known without a request."""
        return self.eof if self.eof is not None else known_size(self._reader)

    @property
    def chunk(self) -> int:
        return self._chunk

    def add(self, start: int, data: bytes) -> None:
        """Keep bytes read ahead at ``start`` (a block boundary) to serve blocks from."""
        self._guessed.append((start, data[: len(data) - len(data) % BLOCK_SIZE]))

    def _find(self, offset: int) -> tuple[int, bytes] | None:
        if self._start <= offset < self._start + len(self._data):
            return self._start, self._data
        for start, data in self._guessed:
            if start <= offset and offset + BLOCK_SIZE <= start + len(data):
                return start, data
        return None

    def holds(self, offset: int) -> bool:
        return self._find(offset) is not None

    def block(self, offset: int) -> bytes:
        held = self._find(offset)
        if held is None:
            self._data = self._reader.read_range(offset, offset + self._chunk)
            self._start = offset
            if len(self._data) < self._chunk:
                self.eof = offset + len(self._data)
            held = (offset, self._data)
        start, data = held
        pos = offset - start
        return data[pos : pos + BLOCK_SIZE]

    def at_eof(self, offset: int) -> bool:
        if self.holds(offset):
            return False
        # Only asked when the next header lies beyond the chunk in hand.
        return offset >= self.file_size()


def scan_fits(
    reader: RangeReader,
    *,
    stop_after: Callable[[HduInfo], bool] | None = None,
    chunk_size: int = 65536,
) -> FitsIndex:
    """Index the HDUs of a FITS file, reading only their headers.

    Parameters
    ----------
    reader
        Where the file's bytes come from.
    stop_after
        Called with each HDU as it is indexed; scanning stops when it returns
        `True` (e.g. `named_image`).
    chunk_size
        Bytes per read, rounded up to whole 2880-byte blocks. The first read
        starts at byte 0; later ones start at a header that read did not reach.

    Returns
    -------
    FitsIndex
        The HDUs found.

    Raises
    ------
    skycut.errors.UnsupportedSourceError
        If the file is not FITS or its primary header is malformed or truncated.

    """
    blocks = _Blocks(reader, chunk_size)
    if not blocks.block(0).startswith(b"SIMPLE  ="):
        raise UnsupportedSourceError(f"{reader.name} is not a FITS file")
    index = _scan_extensions(blocks, [], 0, source=reader.name, stop_after=stop_after)
    return replace(index, size=blocks.known_size())


def _scan_extensions(
    blocks: _Blocks,
    hdus: list[HduInfo],
    offset: int,
    *,
    source: str,
    stop_after: Callable[[HduInfo], bool] | None,
) -> FitsIndex:
    """Index HDUs from ``offset`` on, after the ``hdus`` already indexed.

    The one scanning loop: `scan_fits` starts it at the primary header,
    `scan_on` after the last HDU of a cached index.
    """
    while not blocks.at_eof(offset):
        first = blocks.block(offset)
        if hdus and not first.startswith(b"XTENSION="):
            break  # trailing bytes after the last HDU, ignored as astropy does
        hdu = _read_hdu(blocks, offset, len(hdus), source)
        if hdu is None:
            break  # truncated extension header; keep what came before
        hdus.append(hdu)
        offset = hdu.data_offset + hdu.data_size
        if stop_after is not None and stop_after(hdu):
            return FitsIndex(source, tuple(hdus), complete=False)
    return FitsIndex(source, tuple(hdus), complete=True)


def scan_on(
    reader: RangeReader,
    index: FitsIndex,
    *,
    stop_after: Callable[[HduInfo], bool] | None = None,
    chunk_size: int = 65536,
    guesses: int = 0,
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
    guesses
        Headers beyond the next one to read at the same time, at offsets
        guessed from the last HDU's size (e.g. 1 to find ``VARIANCE`` with
        ``MASK`` after ``IMAGE``): one round trip instead of one per header
        when the HDUs are the planes of one exposure.

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
    last = index.hdus[-1]
    start = last.data_offset + last.data_size
    blocks = _Blocks(reader, chunk_size, eof=index.size)
    if guesses > 0:
        _read_ahead(blocks, reader, start, start - last.header_offset, guesses)
    scanned = _scan_extensions(
        blocks, list(index.hdus), start, source=index.source, stop_after=stop_after
    )
    return replace(scanned, size=blocks.known_size())


_SLACK_BEFORE = 8 * BLOCK_SIZE
_SLACK_AFTER = 16 * BLOCK_SIZE


def _read_ahead(
    blocks: _Blocks, reader: RangeReader, start: int, stride: int, guesses: int
) -> None:
    """Read the header at ``start`` and, at once, where the next ``guesses`` headers may be.

    The guess is that the HDUs after the last one indexed are laid out as it
    is (``stride`` bytes each, as the planes of an exposure are): each window
    spans the guessed offset with room for headers some blocks shorter or
    longer. A wrong guess costs the window's bytes only, a right one a round
    trip per header; bytes are only ever taken from a window at the offsets
    the scan reaches by the headers' own sizes.
    """
    size = blocks.file_size()
    if start >= size:
        return
    windows = []
    for k in range(1, guesses + 1):
        guess = start + k * stride
        low = max(start + blocks.chunk, (guess - _SLACK_BEFORE) // BLOCK_SIZE * BLOCK_SIZE)
        high = min(size, guess + _SLACK_AFTER)
        if low < high:
            windows.append((low, high))
    if not windows:
        return
    with ThreadPoolExecutor(max_workers=1 + len(windows)) as pool:
        guessed = [pool.submit(reader.read_range, low, high) for low, high in windows]
        blocks.block(start)  # the header that is certainly there, meanwhile
        for (low, _), future in zip(windows, guessed, strict=True):
            # only a guess: if it fails, the scan reads what it needs itself
            with contextlib.suppress(SkycutError):
                blocks.add(low, future.result())


def _read_hdu(blocks: _Blocks, offset: int, index: int, source: str) -> HduInfo | None:
    raw: list[bytes] = []
    pos = offset
    while True:
        block = blocks.block(pos)
        if len(block) < BLOCK_SIZE:
            if index == 0:
                raise UnsupportedSourceError(f"{source}: primary header is truncated")
            return None
        raw.append(block)
        pos += BLOCK_SIZE
        if any(block[i : i + 80] == _END_CARD for i in range(0, BLOCK_SIZE, 80)):
            break
    try:
        header = fits.Header.fromstring(b"".join(raw).decode("ascii"))
        size = _data_size(header, primary=index == 0)
    except (UnicodeDecodeError, ValueError, KeyError) as e:
        raise UnsupportedSourceError(f"{source}: malformed header in HDU {index}: {e}") from e
    extname = header.get("EXTNAME")
    return HduInfo(
        index=index,
        header=header,
        header_offset=offset,
        data_offset=pos,
        data_size=math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE,
        extname=extname.rstrip() if isinstance(extname, str) else None,
        is_compressed=header.get("XTENSION") == "BINTABLE" and header.get("ZIMAGE") is True,
    )


def _int_card(header: fits.Header, key: str, default: int | None = None) -> int:
    value = header.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or (value < 0 and key != "BITPIX"):
        raise ValueError(f"{key} = {value!r} is not a valid count")
    return value


def _data_size(header: fits.Header, *, primary: bool) -> int:
    """Unpadded data length in bytes (FITS 4.0 eq. 2, random groups eq. 4)."""
    bitpix = _int_card(header, "BITPIX")
    if bitpix not in _BITPIX:
        raise ValueError(f"BITPIX = {bitpix} is not a FITS data type")
    naxis = _int_card(header, "NAXIS")
    if naxis == 0:
        return 0
    dims = [_int_card(header, f"NAXIS{i}") for i in range(1, naxis + 1)]
    if primary and header.get("GROUPS") is True and dims[0] == 0:
        dims = dims[1:]  # random groups: NAXIS1 = 0 is a marker, not a length
    gcount = _int_card(header, "GCOUNT", 1)
    pcount = _int_card(header, "PCOUNT", 0)
    return abs(bitpix) // 8 * gcount * (pcount + math.prod(dims))


def named_image(hdu: HduInfo) -> bool:
    """Whether ``hdu`` is named ``IMAGE``; pass as ``stop_after`` to stop at it.

    Parameters
    ----------
    hdu
        An indexed HDU.

    Returns
    -------
    bool
        `True` if its ``EXTNAME`` is ``IMAGE`` in any case.

    """
    return hdu.extname is not None and hdu.extname.strip().upper() == "IMAGE"


def _is_2d_image(hdu: HduInfo) -> bool:
    if hdu.is_compressed:
        return bool(hdu.header.get("ZNAXIS") == 2)
    is_image = hdu.index == 0 or hdu.header.get("XTENSION") == "IMAGE"
    return bool(is_image and hdu.header.get("NAXIS") == 2 and hdu.data_size > 0)


def select_image_hdu(index: FitsIndex) -> HduInfo:
    """Choose the HDU to cut.

    Parameters
    ----------
    index
        The file's index.

    Returns
    -------
    HduInfo
        The HDU named ``IMAGE`` (any case) if there is one, else the first
        2-D image HDU, plain or tile-compressed.

    Raises
    ------
    skycut.errors.UnsupportedSourceError
        If the file has no such HDU.

    """
    for hdu in index.hdus:
        if named_image(hdu):
            return hdu
    for hdu in index.hdus:
        if _is_2d_image(hdu):
            return hdu
    raise UnsupportedSourceError(f"{index.source} has no 2-D image HDU")
