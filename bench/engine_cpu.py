"""Benchmark: the CPU of one warm cutout, on a local file (no network), skycut vs astropy.

Issue #16. The images of `bench.engine_limit` are cut through the engine as
a warm worker cuts them (header index and tile tables cached, the FITS file
written with its provenance), from a `LocalFileReader`; the reference is
astropy on the same open file (``.section`` of each plane, then
``Cutout2D`` for its WCS), which writes no file. Medians (and skycut's
minimum) of ``--repeats`` cuts at different places.

    uv run --frozen python -m bench.engine_cpu [--repeats 41]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS, FITSFixedWarning

from bench.engine_limit import DETAIL, KINDS, circle_for, make_images, positions
from skycut.cutout.engine import cut
from skycut.cutout.fitsindex import scan_fits
from skycut.cutout.reader import LocalFileReader
from skycut.cutout.selection import Selection
from skycut.cutout.tiles import read_tile_table

__all__ = ["main"]


def skycut_ms(path: Path, kind: str, size: int, repeats: int) -> tuple[float, float]:
    """Median and minimum milliseconds of a warm cut, FITS bytes out."""
    reader = LocalFileReader(path)
    index = scan_fits(reader)
    tables = {h.index: read_tile_table(reader, h) for h in index.hdus if h.is_compressed}
    times = []
    for x, y in positions(size, repeats, seed=7):
        selection = Selection(stencil=circle_for(x, y, size))
        t0 = time.perf_counter()
        cut(
            reader, selection, source_id=f"gs://b/{kind}.fits", source_generation=1, index=index,
            detail=DETAIL.get(kind, "image"), tile_tables=lambda h: tables[h.index],
        )  # fmt: skip
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), 1000 * min(times)


def astropy_ms(path: Path, kind: str, size: int, repeats: int) -> float:
    """Median milliseconds of ``.section`` + ``Cutout2D`` of the same planes, file kept open."""
    names: list[str | int] = (
        ["IMAGE", "MASK", "VARIANCE"] if kind == "mef" else [0 if kind == "uncompressed" else 1]
    )
    times = []
    with fits.open(path, do_not_scale_image_data=True) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = {n: WCS(hdul[n].header) for n in names}
        for x, y in positions(size, repeats, seed=7):
            t0 = time.perf_counter()
            for n in names:
                y0, x0 = y - size // 2 - 1, x - size // 2 - 1
                section = hdul[n].section[y0 : y0 + size + 2, x0 : x0 + size + 2]
                Cutout2D(section, (size // 2 + 1, size // 2 + 1), size, wcs=wcs[n])
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--sizes", type=int, nargs="+", default=[51, 1003])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    args = parser.parse_args()
    # the minimum moves least with other processes' load on a shared machine
    print("| case | skycut warm cut | skycut minimum | astropy section + Cutout2D |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp))
        for kind in args.kinds:
            for size in args.sizes:
                mine, fastest = skycut_ms(paths[kind], kind, size, args.repeats)
                theirs = astropy_ms(paths[kind], kind, size, args.repeats)
                print(f"| {kind} {size}² | {mine:.1f} ms | {fastest:.1f} ms | {theirs:.1f} ms |")


if __name__ == "__main__":
    main()
