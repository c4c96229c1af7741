"""Benchmark: a sync-sized mosaic (1024² from 4 inputs) made in one process by make_mosaic.

Four 2048² TAN exposures (0.2"/pixel) overlap at the mosaic's centre; the
mosaic is made ``--repeat`` times with ``make_mosaic`` (plan, box reads from
local FITS files through ``section``, reprojection, coadd), with and without
background matching, after one warm-up run (imports, first WCS set-ups).
The issue's target for the whole sync request is 2 s warm.

    .venv/bin/python -m bench.mosaic_sync [--size 1024] [--repeat 5] [--method bilinear]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.wcs import WCS

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.grid import grid_from_parameters
from skycut.mosaic.inprocess import make_mosaic
from skycut.mosaic.plan import InputImage

_SCALE = 0.2 / 3600
_INPUT = 2048
_CENTRE = (150.1, 2.2)


def _inputs(folder: Path) -> list[InputImage]:
    rng = np.random.default_rng(0)
    images = []
    half = 0.45 * _INPUT * _SCALE
    for k, (east, north) in enumerate([(-half, -half), (half, -half), (-half, half), (half, half)]):
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [_CENTRE[0] + east / math.cos(math.radians(_CENTRE[1])), _CENTRE[1] + north]
        wcs.wcs.crpix = [_INPUT / 2 + 0.5, _INPUT / 2 + 0.5]
        wcs.wcs.cdelt = [-_SCALE, _SCALE]
        t = math.radians(rng.uniform(-2, 2))
        wcs.wcs.pc = [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]
        data = rng.normal(100.0 + k, 3.0, size=(_INPUT, _INPUT)).astype(np.float32)
        path = folder / f"input-{k}.fits"
        fits.PrimaryHDU(data, header=wcs.to_header()).writeto(path)
        images.append(InputImage(str(path), wcs, (_INPUT, _INPUT)))
    return images


def _read(image: InputImage, box: PixelBox) -> npt.NDArray[np.float32]:
    with fits.open(image.id, memmap=False, lazy_load_hdus=True) as hdul:
        return np.asarray(hdul[0].section[box.slices])


def main() -> None:
    """Run the benchmark and print its timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--method", default="bilinear", choices=["bilinear", "bicubic", "exact"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        images = _inputs(Path(tmp))
        grid = grid_from_parameters(
            center=_CENTRE, width=args.size, height=args.size, pixscale=_SCALE
        )
        for match in (False, True):
            make_mosaic(grid, images, _read, method=args.method, match_background=match)
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                mosaic = make_mosaic(
                    grid, images, _read, method=args.method, match_background=match
                )
                times.append(time.perf_counter() - start)
            print(f"{args.size}² from {len(images)} inputs, {args.method}, background "
                  f"{'match' if match else 'none'}: median {statistics.median(times):.2f} s, "
                  f"min {min(times):.2f} s; {mosaic.pixels_read / 1e6:.2f} M pixels read, "
                  f"count {int(mosaic.count.max())} at most")  # fmt: skip


if __name__ == "__main__":
    main()
