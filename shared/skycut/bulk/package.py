"""Packaging a bulk job's cutouts on request: zip or tar archives, or multi-extension FITS.

Packagers take the cutouts with their bytes, in the order they are written;
:func:`read_ahead` supplies them, reading a few ahead at once, since each
read is a round trip to the results bucket and a job has thousands.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import IO, Literal

from astropy.io import fits

from skycut.jobs.records import StoredResult

__all__ = ["Contents", "PackageKind", "archive", "fits_members", "fits_packages", "read_ahead"]

PackageKind = Literal["zip", "tar"]
_SPOOL_BYTES = 64 * 1024 * 1024  # archives larger than this are spooled to disk
_READ_AHEAD = 16

Contents = Iterable[tuple[StoredResult, bytes]]
"""Results with their bytes, in the order a package holds them."""


def read_ahead(
    results: Sequence[StoredResult],
    read: Callable[[StoredResult], bytes],
    *,
    window: int = _READ_AHEAD,
) -> Iterator[tuple[StoredResult, bytes]]:
    """Yield each result with its bytes, in order, with up to ``window`` reads under way.

    At most ``window`` results' bytes are held beyond the one being used,
    so a package of a million cutouts is read in constant memory.
    """
    with ThreadPoolExecutor(max_workers=window) as pool:
        pending: deque[tuple[StoredResult, Future[bytes]]] = deque()
        upcoming = iter(results)
        for result in upcoming:
            pending.append((result, pool.submit(read, result)))
            if len(pending) >= window:
                break
        while pending:
            result, future = pending.popleft()
            following = next(upcoming, None)
            if following is not None:
                pending.append((following, pool.submit(read, following)))
            yield result, future.result()


def _member_name(result: StoredResult) -> str:
    return result.object_name.rsplit("/", 1)[-1]


def archive(kind: PackageKind, contents: Contents) -> IO[bytes]:
    """Write every result file into one archive; return it, positioned at its start."""
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    if kind == "zip":
        # cutouts are already compact (FITS data compress poorly); store them
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zipped:
            for result, data in contents:
                zipped.writestr(_member_name(result), data)
    else:
        with tarfile.open(fileobj=out, mode="w") as tarred:
            for result, data in contents:
                info = tarfile.TarInfo(_member_name(result))
                info.size = len(data)
                tarred.addfile(info, io.BytesIO(data))
    out.seek(0)
    return out


def fits_members(results: Sequence[StoredResult]) -> list[StoredResult]:
    """Return the results a FITS package holds (the FITS cutouts), in order."""
    return [r for r in results if r.status == "ok" and r.mime_type == "application/fits"]


def fits_packages(contents: Contents, *, per_file: int) -> Iterator[bytes]:
    """Yield multi-extension FITS files of up to ``per_file`` cutouts each.

    ``contents`` are FITS cutouts (:func:`fits_members`). Each cutout's image
    HDU becomes one extension named ``CUT<result index>``, keeping its header
    (WCS included) and the provenance of its primary header as ``SC_*`` cards.
    """
    stream = iter(contents)
    while True:
        chunk = list(islice(stream, per_file))
        if not chunk:
            return
        hdus: list[fits.PrimaryHDU | fits.ImageHDU] = [fits.PrimaryHDU()]
        hdus[0].header["SC_COUNT"] = (0, "cutouts in this file")
        for result, data in chunk:
            with fits.open(io.BytesIO(data)) as cut:
                image = next(h for h in cut[1:] if h.is_image) if len(cut) > 1 else cut[0]
                header = image.header.copy()
                for key in ("SC_ID", "SC_STENC"):
                    if key in cut[0].header:
                        header[key] = cut[0].header[key]
                header["EXTNAME"] = f"CUT{result.index}"
                if result.label:
                    header["SC_LABEL"] = result.label[:68]
                hdus.append(fits.ImageHDU(data=image.data, header=header))
        hdus[0].header["SC_COUNT"] = len(hdus) - 1
        buffer = io.BytesIO()
        fits.HDUList(hdus).writeto(buffer)
        yield buffer.getvalue()
