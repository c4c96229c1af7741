"""Packaging a bulk job's cutouts on request: zip or tar archives, or multi-extension FITS."""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Literal

from astropy.io import fits

from skycut.jobs.records import StoredResult

__all__ = ["PackageKind", "archive", "fits_packages"]

PackageKind = Literal["zip", "tar"]
_SPOOL_BYTES = 64 * 1024 * 1024  # archives larger than this are spooled to disk


def _member_name(result: StoredResult) -> str:
    return result.object_name.rsplit("/", 1)[-1]


def archive(
    kind: PackageKind,
    results: Sequence[StoredResult],
    read: Callable[[StoredResult], bytes],
) -> IO[bytes]:
    """Write every result file into one archive; return it, positioned at its start."""
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    if kind == "zip":
        # cutouts are already compact (FITS data compress poorly); store them
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zipped:
            for result in results:
                zipped.writestr(_member_name(result), read(result))
    else:
        with tarfile.open(fileobj=out, mode="w") as tarred:
            for result in results:
                data = read(result)
                info = tarfile.TarInfo(_member_name(result))
                info.size = len(data)
                tarred.addfile(info, io.BytesIO(data))
    out.seek(0)
    return out


def fits_packages(
    results: Sequence[StoredResult],
    read: Callable[[StoredResult], bytes],
    *,
    per_file: int,
) -> Iterator[bytes]:
    """Yield multi-extension FITS files of up to ``per_file`` cutouts each.

    Each cutout's image HDU becomes one extension named ``CUT<result index>``,
    keeping its header (WCS included) and the provenance of its primary
    header as ``SC_*`` cards.
    """
    fits_results = [r for r in results if r.status == "ok" and r.mime_type == "application/fits"]
    for start in range(0, len(fits_results), per_file):
        hdus: list[fits.PrimaryHDU | fits.ImageHDU] = [fits.PrimaryHDU()]
        hdus[0].header["SC_COUNT"] = (0, "cutouts in this file")
        for result in fits_results[start : start + per_file]:
            with fits.open(io.BytesIO(read(result))) as cut:
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
