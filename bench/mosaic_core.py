"""Benchmark: the mosaic core's tiled pipeline against reproject_and_coadd, in one machine.

A synthetic field of overlapping 2048² TAN exposures (0.2"/pixel, a little
rotated, each on its own sky) is written to FITS files; a TAN mosaic of
``--size``² pixels at the same scale is made twice:

- ``reproject_and_coadd`` (bilinear, mean) in one process, reading whole files;
- skycut's stages as the fan-out would run them, by ``--workers`` processes:
  plan (tiles touched, input boxes), one task per (input, tile) reading only
  its box (``section``) and storing its plane as ``.npz``, background
  matching (pair sums per tile, one solve), one coadd task per tile, and the
  assembly of the FITS file tile by tile.

It prints each stage's wall time, the tasks' CPU seconds (the work N
workers share), bytes read per input against the input pixels that land on
the mosaic, and the largest difference between the two mosaics (without
background matching). Throughput is in square degrees per minute.

    .venv/bin/python -m bench.mosaic_core [--size 4096] [--workers 2] [--tile 2048]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.wcs import WCS

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.assemble import InputRecord, MosaicWriter
from skycut.mosaic.background import (
    OverlapSums,
    Plane,
    add_sums,
    correct,
    solve_backgrounds,
    tile_overlaps,
)
from skycut.mosaic.coadd import coadd_tile
from skycut.mosaic.grid import OutputGrid, grid_from_parameters, grid_from_template
from skycut.mosaic.intermediate import decode_tile_plane, encode_tile_plane
from skycut.mosaic.reproject_tile import input_box, reproject_to_tile
from skycut.mosaic.sampling import transfer
from skycut.mosaic.tiles import Tiling

_SCALE = 0.2 / 3600
_INPUT = 2048
_CENTRE = (150.1, 2.2)


@dataclass(frozen=True)
class Task:
    """One (input, tile) reprojection."""

    path: str
    tile_row: int
    tile_col: int
    box: tuple[int, int, int, int]
    out: str


def _wcs(ra: float, dec: float, rotation: float) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [_INPUT / 2 + 0.5, _INPUT / 2 + 0.5]
    wcs.wcs.cdelt = [-_SCALE, _SCALE]
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    wcs.wcs.pc = [[c, -s], [s, c]]
    return wcs


def make_inputs(folder: Path, size: int) -> list[Path]:
    """Write a 3x3 (or larger) field of exposures overlapping by ~20%, covering the mosaic."""
    per_side = max(3, math.ceil(size / (0.8 * _INPUT)) + 1)
    rng = np.random.default_rng(0)
    paths = []
    span = (per_side - 1) * 0.8 * _INPUT * _SCALE
    for i in range(per_side):
        for j in range(per_side):
            dra = (-span / 2 + i * 0.8 * _INPUT * _SCALE) / math.cos(math.radians(_CENTRE[1]))
            ddec = -span / 2 + j * 0.8 * _INPUT * _SCALE
            wcs = _wcs(_CENTRE[0] + dra, _CENTRE[1] + ddec, float(rng.uniform(-2, 2)))
            data = rng.normal(100.0 + 5 * rng.standard_normal(), 3.0, size=(_INPUT, _INPUT))
            path = folder / f"input-{i}-{j}.fits"
            fits.PrimaryHDU(data.astype(np.float32), header=wcs.to_header()).writeto(path)
            paths.append(path)
    return paths


def _open(path: str) -> tuple[WCS, tuple[int, int]]:
    header = fits.getheader(path)
    return WCS(header), (int(header["NAXIS2"]), int(header["NAXIS1"]))


def plan(paths: list[Path], tiling: Tiling, folder: Path) -> list[Task]:
    """Every (input, tile) pair that overlaps, with the box each reads."""
    tasks = []
    for path in paths:
        wcs, shape = _open(str(path))
        for tile in tiling.touched_by(wcs, shape):
            box = input_box(tile, wcs, shape, method="bilinear")
            if box is not None:
                out = folder / f"{path.stem}-{tile.key}.npz"
                tasks.append(
                    Task(str(path), tile.row, tile.col, (box.x0, box.x1, box.y0, box.y1), str(out))
                )
    return tasks


def run_task(task: Task, grid_text: str, tile_size: int) -> tuple[float, int]:
    """Read the box, reproject it, store the plane; return CPU seconds and bytes read."""
    start = time.process_time()
    tiling = Tiling(grid_from_template(grid_text), tile_size)
    tile = tiling.tile(task.tile_row, task.tile_col)
    box = PixelBox(*task.box)
    with fits.open(task.path, memmap=False, lazy_load_hdus=True) as hdul:
        wcs = WCS(hdul[0].header)
        pixels = hdul[0].section[box.slices]
    plane = reproject_to_tile(pixels, wcs, tile, method="bilinear", box=box)
    Path(task.out).write_bytes(encode_tile_plane(plane))
    return time.process_time() - start, int(pixels.nbytes)


def run_overlaps(
    names_paths: list[tuple[str, str]], grid_text: str, tile_size: int, row: int, col: int
) -> dict[tuple[str, str], OverlapSums]:
    """Pair sums of one tile's planes."""
    grid = grid_from_template(grid_text)
    tile = Tiling(grid, tile_size).tile(row, col)
    planes = {name: decode_tile_plane(Path(p).read_bytes()) for name, p in names_paths}
    return dict(tile_overlaps(planes, box=tile.box, grid_shape=grid.shape))


def run_coadd(
    names_paths: list[tuple[str, str]],
    planes: dict[str, Plane],
    grid_text: str,
    tile_size: int,
    row: int,
    col: int,
    out: str,
) -> float:
    """Coadd one tile's planes, store the result; return CPU seconds."""
    start = time.process_time()
    grid = grid_from_template(grid_text)
    tile = Tiling(grid, tile_size).tile(row, col)
    corrected = [
        correct(decode_tile_plane(Path(p).read_bytes()), planes[name], box=tile.box)
        for name, p in names_paths
    ]
    result = coadd_tile(corrected, shape=tile.shape, combine="mean")
    np.savez(out, data=result.data.astype(np.float32), coverage=result.coverage.astype(np.float32))
    return time.process_time() - start


def landing_pixels(path: Path, grid: OutputGrid) -> float:
    """Input pixels whose centres land on the grid (every 4th pixel, scaled)."""
    wcs, (ny, nx) = _open(str(path))
    y, x = np.mgrid[0:ny:4, 0:nx:4].astype(float)
    gx, gy = transfer(wcs, grid.wcs, x.ravel(), y.ravel())
    with np.errstate(invalid="ignore"):
        on = (gx >= -0.5) & (gx <= grid.shape[1] - 0.5) & (gy >= -0.5) & (gy <= grid.shape[0] - 0.5)
    return float(on.sum()) * 16


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tile", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    from reproject import reproject_interp
    from reproject.mosaicking import reproject_and_coadd

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_inputs(folder, args.size)
        grid = grid_from_parameters(
            center=_CENTRE, width=args.size, height=args.size, pixscale=_SCALE
        )
        area = args.size**2 * _SCALE**2
        print(f"{len(paths)} inputs of {_INPUT}² → {args.size}² TAN mosaic, {area:.4f} deg²")

        reference = None
        if not args.skip_reference:
            start, cpu = time.perf_counter(), time.process_time()
            hdus = [fits.open(p)[0] for p in paths]
            reference, _ = reproject_and_coadd(
                hdus, grid.wcs, shape_out=grid.shape, reproject_function=reproject_interp,
                combine_function="mean",
            )  # fmt: skip
            ref_time, ref_cpu = time.perf_counter() - start, time.process_time() - cpu
            print(f"reproject_and_coadd, one process: {ref_time:.1f} s, {ref_cpu:.1f} s CPU "
                  f"({area / ref_time * 60:.3f} deg²/min)")  # fmt: skip

        grid_text = grid.header().tostring(sep="\n")
        tiling = Tiling(grid, args.tile)
        total = time.perf_counter()
        start = time.perf_counter()
        tasks = plan(paths, tiling, folder)
        t_plan = time.perf_counter() - start
        with ProcessPoolExecutor(args.workers) as pool:
            start = time.perf_counter()
            results = list(
                pool.map(run_task, tasks, [grid_text] * len(tasks), [args.tile] * len(tasks))
            )
            t_reproject = time.perf_counter() - start
            by_tile: dict[tuple[int, int], list[tuple[str, str]]] = {}
            for task in tasks:
                by_tile.setdefault((task.tile_row, task.tile_col), []).append(
                    (Path(task.path).stem, task.out)
                )
            keys = sorted(by_tile)
            start = time.perf_counter()
            sums = list(
                pool.map(
                    run_overlaps, [by_tile[k] for k in keys], [grid_text] * len(keys),
                    [args.tile] * len(keys), [k[0] for k in keys], [k[1] for k in keys],
                )
            )  # fmt: skip
            names = [p.stem for p in paths]
            planes = solve_backgrounds(add_sums(sums), names)
            t_background = time.perf_counter() - start
            start = time.perf_counter()
            outs = [str(folder / f"coadd-{r}-{c}.npz") for r, c in keys]
            coadd_cpu = list(
                pool.map(
                    run_coadd, [by_tile[k] for k in keys], [planes] * len(keys),
                    [grid_text] * len(keys), [args.tile] * len(keys), [k[0] for k in keys],
                    [k[1] for k in keys], outs,
                )
            )  # fmt: skip
            t_coadd = time.perf_counter() - start
        start = time.perf_counter()
        writer = MosaicWriter(folder / "mosaic.fits", grid, planes=("COVERAGE",))
        for (row, col), out in zip(keys, outs, strict=True):
            tile = tiling.tile(row, col)
            with np.load(out) as arrays:
                writer.write("MOSAIC", tile.box, arrays["data"])
                writer.write("COVERAGE", tile.box, arrays["coverage"])
        writer.finish([InputRecord(n, planes[n]) for n in names])
        t_assemble = time.perf_counter() - start
        wall = time.perf_counter() - total

        task_cpu = sum(r[0] for r in results)
        bare = wall - t_background
        print(f"skycut stages, {args.workers} worker processes, {args.tile}² tiles: "
              f"{wall:.1f} s; without background matching (as reproject_and_coadd ran) "
              f"{bare:.1f} s ({area / bare * 60:.3f} deg²/min)")  # fmt: skip
        print(f"  plan {t_plan:.2f} s: {len(tasks)} (input, tile) tasks over {len(tiling)} tiles")
        print(f"  reproject {t_reproject:.1f} s wall, {task_cpu:.1f} s CPU "
              f"({task_cpu / len(tasks):.2f} s per task)")  # fmt: skip
        print(f"  background {t_background:.1f} s, coadd {t_coadd:.1f} s wall "
              f"({sum(coadd_cpu):.1f} s CPU), assemble {t_assemble:.1f} s")  # fmt: skip
        read = sum(r[1] for r in results) / 4  # float32 pixels
        landing = sum(landing_pixels(p, grid) for p in paths)
        print(f"  pixels read {read / 1e6:.1f} M for {landing / 1e6:.1f} M landing on the "
              f"mosaic: {read / landing:.2f}x")  # fmt: skip
        if reference is not None:
            # reproject_and_coadd matched no background: compare the unmatched coadd
            with fits.open(folder / "mosaic.fits") as hdul:
                ours = hdul[0].data.astype(float)
            ours_unmatched = _unmatched(by_tile, keys, grid_text, args.tile, grid.shape)
            covered = np.isfinite(ours_unmatched) & (reference != 0)
            rel = np.abs(ours_unmatched[covered] - reference[covered]) / np.abs(reference[covered])
            print(f"  max relative difference from reproject_and_coadd: {rel.max():.2e} "
                  f"(matched mosaic finite: {np.isfinite(ours).mean():.3f})")  # fmt: skip


def _unmatched(
    by_tile: dict[tuple[int, int], list[tuple[str, str]]],
    keys: list[tuple[int, int]],
    grid_text: str,
    tile_size: int,
    shape: tuple[int, int],
) -> npt.NDArray[np.float64]:
    grid = grid_from_template(grid_text)
    tiling = Tiling(grid, tile_size)
    out = np.full(shape, np.nan)
    for row, col in keys:
        tile = tiling.tile(row, col)
        planes = [decode_tile_plane(Path(p).read_bytes()) for _, p in by_tile[(row, col)]]
        out[tile.box.slices] = coadd_tile(planes, shape=tile.shape, combine="mean").data
    return out


if __name__ == "__main__":
    main()
