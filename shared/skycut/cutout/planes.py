"""Reading an exposure's MASK and VARIANCE pixels on a guess, together with their headers.

A ``DETAIL=image,mask,variance`` cut of an image seen for the first time
needs the headers after ``IMAGE`` before it knows where ``MASK``'s and
``VARIANCE``'s pixels are: read in turn, that is one round trip for the
headers and one more for the pixels. An exposure's planes are usually laid
out alike (the same shape and pixel size, headers of about the same length),
so while those headers are read, this module reads, at the same time, the
image's own pixels and the byte ranges where the other planes' pixels would
be if each lay ``k`` strides after the image's (a stride being the image
HDU's header and data), each widened by a header's slack on both sides.

Nothing is trusted from the guess: the held bytes are bytes of the file at
known offsets, and a pixel read is served from them only when one held run
covers the whole range the read planner asks for, which happens exactly
when the headers place the planes where guessed (within the slack). Any
other layout (other pixel types or shapes, headers blocks longer than the
slack, other HDUs between, compressed planes) reads its pixels in a round trip
of its own, as without the guess; held bytes no read needs are dropped.
A wrong guess thus costs its bytes, once per image and process (the index
is cached after); the guess is made only when moving those bytes keeps the
network busy no longer than the round trip a right guess saves (stamps, not
large cuts: at 100 MB/s per request and 250 MB/s in all, up to about 2.5 MB
per plane).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
from astropy.io import fits

from skycut.cutout.fetch import Chunk, join_chunks
from skycut.cutout.fitsindex import BLOCK_SIZE, FitsIndex, HduInfo, scan_on
from skycut.cutout.pixels import pixel_segments
from skycut.cutout.reader import RangeReader
from skycut.cutout.readplan import ReadCost, estimate_seconds, plan_reads
from skycut.errors import SkycutError

__all__ = ["Held", "needed_parts", "pixels_in", "scan_with_planes", "used"]

Held = tuple[Chunk, ...]
"""Bytes read ahead: ``(offset, uint8 array)`` pairs."""

SLACK_BEFORE = 8 * BLOCK_SIZE
"""How many bytes shorter than the image's a plane's header may be, for its guessed pixels."""
SLACK_AFTER = 16 * BLOCK_SIZE
"""How many bytes longer (Rubin's MASK header lists its mask planes: a block or two more)."""


def needed_parts(
    hdu: HduInfo, region: tuple[slice, ...], cost: ReadCost
) -> tuple[tuple[int, int], ...]:
    """Return the ranges `skycut.cutout.pixels.read_pixels` asks for, for an uncompressed HDU.

    Parameters
    ----------
    hdu
        An uncompressed image HDU.
    region
        The pixels read, as `read_pixels` takes them.
    cost
        The network they are planned for (the engine's share for this HDU).

    Returns
    -------
    tuple of (start, stop)
        The requests, in file order; empty for an empty region.

    """
    lo, hi = pixel_segments(hdu, region)
    return plan_reads(lo, hi, cost=cost).parts


def scan_with_planes(
    reader: RangeReader,
    index: FitsIndex,
    image: HduInfo,
    region: tuple[slice, ...],
    *,
    planes: int,
    cost: ReadCost,
    stop_after: Callable[[HduInfo], bool],
    chunk_size: int,
    reserve: Callable[[int], None] | None = None,
) -> tuple[FitsIndex, Held]:
    """Scan on past the image, reading its pixels and the guessed planes' meanwhile.

    Parameters
    ----------
    reader
        The file's bytes; read concurrently.
    index
        The file's index, stopped early at ``image`` (its last HDU).
    image
        The uncompressed image HDU cut.
    region
        Its pixels cut; the other planes are guessed to be cut alike.
    planes
        HDUs guessed to follow the image as planes of its exposure.
    cost
        The network each plane's pixels are read over (the engine's share of it).
    stop_after, chunk_size
        As `scan_on` takes them; the headers after the image are read with
        ``planes - 1`` guesses, as without pixels.
    reserve
        Called, before any pixel is read, with the most pixels the cut will
        hold if the guess is right: the bytes read here (the image's own and
        the guesses) as pixels of the image's size, and the region in each plane.

    Returns
    -------
    tuple
        The index scanned on, and the bytes read for pixels (filter them with
        `used`); none if the guessed planes are too large to be worth the risk.

    Raises
    ------
    skycut.errors.SkycutError
        What reading the headers or the image's own pixels raises; a failed
        guessed read is only forgotten.

    """
    exact = needed_parts(image, region, cost)
    stride = image.data_offset + image.data_size - image.header_offset
    size = index.size if index.size is not None else reader.size()
    guessed: list[tuple[int, int]] = []
    for k in range(1, planes + 1):
        guessed += _widened(exact, k * stride, size)
    if _transfer_seconds(guessed, cost) > cost.round_trip:
        # a wrong guess would cost more than the round trip a right one saves
        index = scan_on(
            reader, index, stop_after=stop_after, chunk_size=chunk_size, guesses=planes - 1
        )
        return index, ()
    if reserve is not None:
        reading = sum(b - a for a, b in exact) + sum(b - a for a, b in guessed)
        cut = math.prod(s.stop - s.start for s in region) * (1 + planes)
        reserve(pixels_in(reading, image.header) + cut)
    with ThreadPoolExecutor(max_workers=max(1, len(exact) + len(guessed))) as pool:
        own = [pool.submit(reader.read_range, a, b) for a, b in exact]
        ahead = [pool.submit(reader.read_range, a, b) for a, b in guessed]
        try:
            index = scan_on(
                reader, index, stop_after=stop_after, chunk_size=chunk_size, guesses=planes - 1
            )
            held = [(a, f.result()) for (a, _), f in zip(exact, own, strict=True)]
        except BaseException:
            for f in own + ahead:
                f.cancel()
            raise
        for (a, _), f in zip(guessed, ahead, strict=True):
            with contextlib.suppress(SkycutError):  # only a guess: the cut reads what it needs
                held.append((a, f.result()))
    return index, tuple((a, np.frombuffer(data, dtype=np.uint8)) for a, data in held)


def pixels_in(nbytes: int, header: fits.Header) -> int:
    """Return how many pixels of an image ``header``'s type ``nbytes`` hold (rounded up)."""
    item = max(1, abs(int(header.get("BITPIX", 8))) // 8)
    return -(-nbytes // item)


def used(held: Held, needed: Iterable[tuple[int, int]]) -> Held:
    """Return the held chunks or runs that serve a needed range whole; the others are dropped.

    A needed range one chunk holds keeps that chunk as read (no copy); one
    that only touching or overlapping chunks hold together keeps their run,
    joined, as `skycut.cutout.prefetch.PrefetchedReader` joins them to serve reads.
    """
    chunks = sorted(held, key=lambda chunk: chunk[0])
    runs: list[Chunk] | None = None
    kept: dict[tuple[int, int], Chunk] = {}
    for start, stop in needed:
        alone = [c for c in chunks if c[0] <= start and stop <= c[0] + c[1].size]
        if alone:
            kept.setdefault((alone[0][0], alone[0][1].size), alone[0])
            continue
        runs = join_chunks(chunks) if runs is None else runs
        for first, data in runs:
            if first <= start and stop <= first + data.size:
                kept.setdefault((first, data.size), (first, data))
                break
    return tuple(kept[key] for key in sorted(kept))


def _transfer_seconds(parts: Sequence[tuple[int, int]], cost: ReadCost) -> float:
    """Return how long the network is busy moving these ranges, read all at once."""
    sizes = [b - a for a, b in parts]
    if not sizes:
        return 0.0
    busy = replace(cost, round_trip=0.0, request_overhead=0.0, max_concurrency=len(sizes))
    return estimate_seconds(sizes, busy)


def _widened(parts: Sequence[tuple[int, int]], shift: int, size: int) -> list[tuple[int, int]]:
    """Shift parts, widen each run of touching ones by the slack, and keep them in the file."""
    out: list[tuple[int, int]] = []
    for i, (a, b) in enumerate(parts):
        first = i == 0 or parts[i - 1][1] != a
        last = i + 1 == len(parts) or parts[i + 1][0] != b
        start = max(0, a + shift - (SLACK_BEFORE if first else 0))
        stop = min(size, b + shift + (SLACK_AFTER if last else 0))
        if start < stop:
            out.append((start, stop))
    return out
