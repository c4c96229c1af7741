"""Benchmark: cutouts against the network's physical limit and a tuned astropy + fsspec.

Issue #16. Seeded 4096² images of four kinds (uncompressed; RICE_1 in row
tiles; RICE_1 in 256² tiles; a Rubin-like MEF of IMAGE, MASK and VARIANCE)
are served by fake-gcs-server behind `bench.netsim` (a round trip per request
and per new connection, a bandwidth per response), and cut three ways:

- **skycut**: the worker's own path (`skycut.worker.cutter.Cutter` over
  `GcsRangeReader`, its `SourceCache`, the FITS file written), without the
  result upload;
- **tuned fsspec**: a gcsfs file opened with the block size and cache type a
  sweep finds best for that case, handed to astropy ``fits.open`` and cut
  with ``.section`` (what a careful user does by hand);
- **astrocut default**: ``FITSCutout`` on the ``gs://`` object (51² only).

States: *warm* is a later cutout of an image already cut (skycut's header
cache, fsspec's open file); *first touch* is the first cutout of an image in
a process that has already cut others (connections and clients warm);
*cold* is the first cutout in a fresh process (client built, nothing else;
imports not counted); *after image* (MEF only) is a ``DETAIL`` cut of an image
cut before without ``DETAIL``, whose cached headers stop at ``IMAGE`` (its
limit: one round trip, for the other planes' headers and every plane's
pixels, and the bytes of a first touch). Medians; every cutout is checked after the clock stops
against astropy ``Cutout2D`` on the local file (pixels and WCS).

The *limit* of a case is its round trips times the round trip plus the bytes it
needs over the bandwidth: 1 round trip warm (the header known), 2 on first
touch (header, then pixels), 3 cold (the connection, header, pixels). The
*rig limit* is the same with a bare 1-byte GET through the rig (the round
trip, the proxy's and fake-gcs-server's own work; see `bench.engine_floor`)
in place of each round trip: what no client can beat on this rig.

    uv run --frozen python -m bench.engine_limit [--networks 25:100 5:400] [--repeats 5]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS, FITSFixedWarning

from bench.netsim import RequestRecord, round_trips
from skycut.cutout.selection import Detail
from skycut.cutout.stencil import Circle

__all__ = ["main"]

BUCKET = "bench-limit"
SIDE = 4096
SCALE = 0.2 / 3600  # degrees per pixel
KINDS = ("uncompressed", "rice-rows", "rice-256", "mef")
DETAIL: dict[str, Detail] = {"mef": "image,mask,variance"}
SWEEP_BLOCKS = (64 * 1024, 512 * 1024, 4 * 1024 * 1024)
SWEEP_CACHES = ("readahead", "blockcache", "bytes", "first")


# --- the images ----------------------------------------------------------------------------


@functools.cache
def image_wcs() -> WCS:
    """Return a TAN WCS centred on the image, north up, 0.2 arcsec pixels."""
    return WCS(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CUNIT1": "deg",
            "CUNIT2": "deg",
            "CRPIX1": SIDE / 2 + 0.5,
            "CRPIX2": SIDE / 2 + 0.5,
            "CRVAL1": 150.0,
            "CRVAL2": 2.0,
            "CDELT1": -SCALE,
            "CDELT2": SCALE,
        }
    )


def image_header() -> fits.Header:
    """Return the images' WCS cards."""
    return image_wcs().to_header()


def make_images(out: Path) -> dict[str, Path]:
    """Write the four seeded images (about 330 MiB); return their paths by kind."""
    rng = np.random.default_rng(16)
    sky = rng.normal(100.0, 5.0, (SIDE, SIDE)).astype(np.float32)
    ys, xs = rng.integers(0, SIDE, (2, 3000))
    sky[ys, xs] += rng.uniform(50, 5000, 3000).astype(np.float32)
    header = image_header()
    primary = fits.PrimaryHDU(header=fits.Header([("ORIGIN", "skycut bench")]))
    paths = {kind: out / f"{kind}.fits" for kind in KINDS}
    fits.PrimaryHDU(sky, header=header).writeto(paths["uncompressed"])
    for kind, tiles in (("rice-rows", (1, SIDE)), ("rice-256", (256, 256))):
        comp = fits.CompImageHDU(
            sky,
            header=header,
            compression_type="RICE_1",
            tile_shape=tiles,
            quantize_level=16.0,
            quantize_method=2,
            dither_seed=42,
        )
        fits.HDUList([primary.copy(), comp]).writeto(paths[kind])
    mask = (rng.random((SIDE, SIDE)) < 0.01).astype(np.int32) * 4
    variance = (sky / 4.0).astype(np.float32)
    planes = [
        fits.ImageHDU(d, header=header, name=n)
        for d, n in ((sky, "IMAGE"), (mask, "MASK"), (variance, "VARIANCE"))
    ]
    fits.HDUList([primary.copy(), *planes]).writeto(paths["mef"])
    return paths


def local_planes(path: Path, kind: str) -> list[tuple[Any, fits.Header]]:
    """Return the planes a cut of ``kind`` holds, as astropy reads them, with their headers."""
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        if kind == "mef":
            return [
                (hdul[n].data.copy(), hdul[n].header.copy()) for n in ("IMAGE", "MASK", "VARIANCE")
            ]
        hdu = hdul[0] if kind == "uncompressed" else hdul[1]
        return [(hdu.data.copy(), hdu.header.copy())]


# --- the cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One image kind and cutout size."""

    kind: str
    size: int

    @property
    def label(self) -> str:
        """E.g. ``rice-256 51²``."""
        return f"{self.kind} {self.size}²"


def positions(size: int, count: int, seed: int) -> list[tuple[int, int]]:
    """Return ``count`` (x, y) cut centres, apart so that no cut reuses another's rows.

    Large boxes cannot all be disjoint in a 4096² image; they are then only
    shifted by 400 pixels (fsspec's caches hold at most the last 4 MiB block).
    """
    rng = np.random.default_rng(seed)
    margin = size // 2 + 100
    apart = size + 300 if size < 500 else 400
    out: list[tuple[int, int]] = []
    while len(out) < count:
        x, y = (int(v) for v in rng.integers(margin, SIDE - margin, 2))
        if all(abs(y - oy) > apart or abs(x - ox) > apart for ox, oy in out):
            out.append((x, y))
    return out


def circle_for(x: int, y: int, size: int) -> Circle:
    """Return the circle skycut cuts to the ``size``² box centred on pixel (x, y)."""
    ra, dec = image_wcs().all_pix2world([[x, y]], 0)[0]
    # the box of a circle holds the pixels its extent reaches: half a pixel less than size/2
    return Circle(ra=float(ra), dec=float(dec), radius=(size / 2 - 0.5) * SCALE)


def check_cut(
    kind: str,
    planes: list[tuple[Any, fits.Header]],
    data: bytes | list[Any],
    x: int,
    y: int,
    size: int,
    method: str,
) -> None:
    """Stop the benchmark if a cutout is not astropy's ``Cutout2D`` of the local file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        if isinstance(data, bytes):
            from io import BytesIO

            with fits.open(BytesIO(data), do_not_scale_image_data=True) as hdul:
                got = [(h.data.copy(), h.header.copy()) for h in hdul[1:]]
        else:
            got = [(d, None) for d in data]
        if len(got) != len(planes):
            raise SystemExit(f"{method} {kind}: {len(got)} planes, not {len(planes)}")
        for (want, header), (arr, out_header) in zip(planes, got, strict=True):
            ref = Cutout2D(want, (x, y), (size, size), wcs=WCS(header), mode="strict")
            if not np.array_equal(np.asarray(arr), ref.data, equal_nan=True):
                raise SystemExit(f"{method} {kind} {size}² at ({x}, {y}): wrong pixels")
            if out_header is not None:
                crpix = [out_header["CRPIX1"], out_header["CRPIX2"]]
                if not np.allclose(crpix, ref.wcs.wcs.crpix, atol=1e-9):
                    raise SystemExit(f"{method} {kind}: CRPIX {crpix}, not {ref.wcs.wcs.crpix}")


# --- skycut --------------------------------------------------------------------------------


class _NoWatch:
    """A job that never stops (the worker's watch, without a job store)."""

    def check(self, *, force: bool = False) -> None:
        """Nothing to check."""


def skycut_cutter(client: Any) -> Any:
    """Return the worker's cutter over ``client``, as `skycut.worker.factory` builds it."""
    from skycut.config import Settings
    from skycut.storage.gcs import GcsRangeReader
    from skycut.worker.cutter import Cutter

    settings = Settings(source_buckets=[BUCKET])
    return Cutter.from_settings(
        settings,
        lambda source, generation: GcsRangeReader(
            client=client, source=source, generation=generation
        ),
    )


def skycut_task(
    kind: str, x: int, y: int, size: int, detail: Detail | None = None
) -> tuple[Any, Any]:
    """Return the request and cutout the worker receives (parsed before the clock starts)."""
    from skycut.soda.ids import SourceRef
    from skycut.soda.params import CutoutSpec, SodaRequest

    source = SourceRef(BUCKET, f"{kind}.fits")
    circle = circle_for(x, y, size)
    spec = CutoutSpec(source=source, stencil=circle)
    request = SodaRequest(
        sources=(source,), stencils=(circle,), detail=detail or DETAIL.get(kind, "image")
    )
    return request, spec


def skycut_cut(cutter: Any, task: tuple[Any, Any]) -> bytes:
    """Cut as the worker does one task; return the FITS file it would upload."""
    from skycut.cutout.reader import ReadStats

    cutout, _ = cutter.cut(*task, None, ReadStats(), _NoWatch(), None)
    content: bytes = cutout.content
    return content


# --- astropy + fsspec ----------------------------------------------------------------------


def fsspec_open(kind: str, block: int, cache: str) -> tuple[Any, Any]:
    """Open the image as a careful user does: a gcsfs file with chosen caching, read lazily.

    The file object is handed to astropy: given a ``gs://`` URL with
    ``use_fsspec=True`` instead, astropy 8 reads an uncompressed section with
    one exact range request per row, whatever the block size and cache.
    """
    import gcsfs

    fs = gcsfs.GCSFileSystem(token="anon")  # noqa: S106 - anonymous, as the emulator wants
    handle = fs.open(f"{BUCKET}/{kind}.fits", "rb", block_size=block, cache_type=cache)
    return fits.open(handle, lazy_load_hdus=True, do_not_scale_image_data=True), handle


def empty_cache(handle: Any) -> None:
    """Forget the bytes a gcsfs file holds, keeping it open (astropy keeps its headers).

    A warm cut then reads its pixels as skycut's does: the headers known,
    no pixel fetched before (fsspec's block cache can otherwise hold a whole
    compressed image after a few cuts, and answer from memory).
    """
    handle.cache = type(handle.cache)(handle.blocksize, handle._fetch_range, handle.size)


def fsspec_cut(hdul: Any, kind: str, x: int, y: int, size: int) -> list[Any]:
    """Cut the same pixels with ``.section``."""
    names: list[int | str] = (
        ["IMAGE", "MASK", "VARIANCE"] if kind == "mef" else [0 if kind == "uncompressed" else 1]
    )
    y0, x0 = y - size // 2, x - size // 2
    return [np.asarray(hdul[n].section[y0 : y0 + size, x0 : x0 + size]) for n in names]


def fsspec_first_touch(kind: str, block: int, cache: str, x: int, y: int, size: int) -> list[Any]:
    """Open the image afresh in a process that has used gcsfs before, and cut."""
    fresh_fs()
    hdul, _ = fsspec_open(kind, block, cache)
    with hdul:
        return fsspec_cut(hdul, kind, x, y, size)


def fresh_fs() -> None:
    """Forget gcsfs's instances and listings: the next open starts from nothing cached."""
    import gcsfs

    gcsfs.GCSFileSystem.clear_instance_cache()


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Result:
    """The runs of one method in one state of one case."""

    case: Case
    state: str
    method: str
    seconds: list[float] = field(default_factory=list)
    records: list[list[RequestRecord]] = field(default_factory=list)
    floor: float = 0.0  # a bare 1-byte GET through the rig (round trip and the rig's own work)
    rig_limit: float = 0.0  # the limit with the bare GET in place of each round trip

    @property
    def median(self) -> float:
        """Median seconds."""
        return statistics.median(self.seconds)

    @property
    def requests(self) -> int:
        """Median requests per run."""
        return int(statistics.median(len(r) for r in self.records))

    @property
    def rounds(self) -> int:
        """Median sequential round trips per run."""
        return int(statistics.median(round_trips(r) for r in self.records))


class Rig:
    """fake-gcs-server behind the proxy, with the clock around each cut."""

    def __init__(self, servers: Any) -> None:
        self.servers = servers

    def timed(self, action: Callable[[], Any]) -> tuple[float, Any, list[RequestRecord]]:
        """Run ``action``; return its seconds, result and the requests the proxy saw."""
        self.servers.log.reset()
        t0 = time.perf_counter()
        out = action()
        seconds = time.perf_counter() - t0
        return seconds, out, self.servers.log.records()


def measure_skycut(rig: Rig, client: Any, case: Case, planes: Any, repeats: int) -> list[Result]:
    """Warm and first-touch runs of skycut on one case."""
    warm, first = Result(case, "warm", "skycut"), Result(case, "first touch", "skycut")
    where = positions(case.size, 2 * repeats + 1, seed=case.size)
    cutter = skycut_cutter(client)
    skycut_cut(cutter, skycut_task(case.kind, *where[0], case.size))  # the image is now known
    for i in range(repeats):
        for result, at, fresh in (
            (warm, where[1 + i], False),
            (first, where[1 + repeats + i], True),
        ):
            if fresh:
                cutter = skycut_cutter(client)  # a process that has not cut this image
            x, y = at
            task = skycut_task(case.kind, x, y, case.size)
            seconds, content, records = rig.timed(partial(skycut_cut, cutter, task))
            check_cut(case.kind, planes, content, x, y, case.size, "skycut")
            result.seconds.append(seconds)
            result.records.append(records)
    if case.kind not in DETAIL:
        return [warm, first]
    # a DETAIL cut of an image cut before without: its cached headers stop at IMAGE
    after = Result(case, "after image", "skycut")
    where = positions(case.size, 2 * repeats, seed=case.size + 4)
    for i in range(repeats):
        cutter = skycut_cutter(client)
        skycut_cut(cutter, skycut_task(case.kind, *where[2 * i], case.size, detail="image"))
        x, y = where[2 * i + 1]
        task = skycut_task(case.kind, x, y, case.size)
        seconds, content, records = rig.timed(partial(skycut_cut, cutter, task))
        check_cut(case.kind, planes, content, x, y, case.size, "skycut")
        after.seconds.append(seconds)
        after.records.append(records)
    return [warm, first, after]


def measure_fsspec(
    rig: Rig,
    case: Case,
    planes: Any,
    repeats: int,
    budget: float,
    blocks: tuple[int, ...] = SWEEP_BLOCKS,
    caches: tuple[str, ...] = SWEEP_CACHES,
) -> list[Result]:
    """Warm and first-touch runs of astropy + gcsfs for every swept configuration."""
    results = []
    where = positions(case.size, 2 * repeats + 1, seed=case.size + 1)
    for block in blocks:
        for cache in caches:
            method = f"fsspec {block // 1024} KiB {cache}"
            warm, first = Result(case, "warm", method), Result(case, "first touch", method)
            fresh_fs()
            hdul, handle = fsspec_open(case.kind, block, cache)
            t0 = time.perf_counter()
            fsspec_cut(hdul, case.kind, *where[0], case.size)
            if time.perf_counter() - t0 > budget:  # hopeless setting: one run is enough
                hdul.close()
                continue
            for i in range(repeats):
                x, y = where[1 + i]
                empty_cache(handle)
                seconds, arrays, records = rig.timed(
                    partial(fsspec_cut, hdul, case.kind, x, y, case.size)
                )
                check_cut(case.kind, planes, arrays, x, y, case.size, method)
                warm.seconds.append(seconds)
                warm.records.append(records)
            hdul.close()
            for i in range(repeats):
                x, y = where[1 + repeats + i]
                touch = partial(fsspec_first_touch, case.kind, block, cache, x, y, case.size)
                seconds, arrays, records = rig.timed(touch)
                check_cut(case.kind, planes, arrays, x, y, case.size, method)
                first.seconds.append(seconds)
                first.records.append(records)
            results += [warm, first]
    return results


def measure_astrocut(rig: Rig, case: Case) -> Result:
    """One run of astrocut's default cloud path (it cuts the first extension, or the primary)."""
    from astrocut import FITSCutout

    result = Result(case, "first touch", "astrocut default")
    x, y = positions(case.size, 1, seed=case.size + 2)[0]
    centre = image_wcs().pixel_to_world(x, y)
    extensions: Any = [1, 2, 3] if case.kind == "mef" else (0 if case.kind == "uncompressed" else 1)

    def run() -> None:
        fresh_fs()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            FITSCutout(
                [f"gs://{BUCKET}/{case.kind}.fits"],
                coordinates=centre,
                cutout_size=case.size,
                extension=extensions,
            )

    seconds, _, records = rig.timed(run)
    result.seconds.append(seconds)
    result.records.append(records)
    return result


def cold_child(method: str, kind: str, size: int, x: int, y: int) -> None:
    """In a fresh process: build the client, cut once, print the seconds (imports done first)."""
    import gcsfs  # noqa: F401  - imports are not what is measured
    from google.cloud import storage  # type: ignore[attr-defined]

    import skycut.worker.cutter  # noqa: F401

    task = skycut_task(kind, x, y, size)
    t0 = time.perf_counter()
    if method == "skycut":
        content: Any = skycut_cut(skycut_cutter(storage.Client(project="bench")), task)
    else:
        _, block, cache = method.split(":")
        hdul, _ = fsspec_open(kind, int(block), cache)
        with hdul:
            content = fsspec_cut(hdul, kind, x, y, size)
    seconds = time.perf_counter() - t0
    if isinstance(content, bytes):
        sys.stdout.buffer.write(content)
    else:
        np.save(sys.stdout.buffer, np.stack(content))
    sys.stderr.write(json.dumps({"seconds": seconds}) + "\n")


def measure_cold(
    rig: Rig, env: dict[str, str], case: Case, planes: Any, method: str, label: str, repeats: int
) -> Result:
    """Fresh-process runs: the first cutout a new process makes."""
    result = Result(case, "cold", label)
    for i, (x, y) in enumerate(positions(case.size, repeats, seed=case.size + 3)):
        argv = [
            sys.executable,
            "-m",
            "bench.engine_limit",
            "--cold-child",
            method,
            case.kind,
            str(case.size),
            str(x),
            str(y),
        ]
        rig.servers.log.reset()
        done = subprocess.run(argv, capture_output=True, env={**os.environ, **env}, check=False)
        if done.returncode != 0:
            raise SystemExit(done.stderr.decode()[-2000:])
        seconds = json.loads(done.stderr.decode().strip().splitlines()[-1])["seconds"]
        records = rig.servers.log.records()
        if method == "skycut":
            check_cut(case.kind, planes, done.stdout, x, y, case.size, label)
        else:
            from io import BytesIO

            check_cut(
                case.kind, planes, list(np.load(BytesIO(done.stdout))), x, y, case.size, label
            )
        result.seconds.append(seconds)
        result.records.append(records)
        del i
    return result


# --- the limit -----------------------------------------------------------------------------


def needed_bytes(path: Path, size: int, state: str) -> int:
    """Return the bytes a cut cannot do without.

    Its pixels, or its tiles and their table rows; on first touch also the
    headers before its data, and a tile table whole (it must come with the
    header for the cut to take two round trips).
    """
    from skycut.cutout.fitsindex import scan_fits
    from skycut.cutout.reader import LocalFileReader
    from skycut.cutout.tilelayout import TileLayout

    index = scan_fits(LocalFileReader(path))
    y0 = x0 = SIDE // 2 - size // 2
    total = 0
    with fits.open(path) as hdul:
        for hdu in (h for h in index.hdus if h.data_size > 0):
            total += 0 if state == "warm" else hdu.data_offset - hdu.header_offset
            if not hdu.is_compressed:
                total += size * size * abs(int(hdu.header["BITPIX"])) // 8
                continue
            layout = TileLayout.of(hdu)
            tile = np.array(layout.tile_shape)
            first = np.array([y0, x0]) // tile
            last = (np.array([y0 + size, x0 + size]) - 1) // tile
            rows = layout.tile_rows(first, last)
            heap = hdul[hdu.index]._bintable.data["COMPRESSED_DATA"][:, 0]
            table = (
                layout.nrows * layout.row_bytes if state != "warm" else len(rows) * layout.row_bytes
            )
            total += int(heap[rows].sum()) + table
    return total


def limit_seconds(rtt: float, bandwidth: float, nbytes: int, state: str) -> float:
    """Return the physical limit: round trips plus bytes over bandwidth."""
    rounds = {"warm": 1, "after image": 1, "first touch": 2, "cold": 3}[state]
    return rounds * rtt + nbytes / bandwidth


# --- the run -------------------------------------------------------------------------------


def run_network(
    paths: dict[str, Path], rtt: float, bandwidth: float, args: argparse.Namespace, tmp: Path
) -> list[tuple[Result, float]]:
    """Every case on one network; return each result with its limit."""
    from google.cloud import storage  # type: ignore[attr-defined]

    from bench.engine_reads import Servers
    from emulators.resources import client_environment

    out: list[tuple[Result, float]] = []
    with Servers(tmp / f"{rtt}", delay=rtt, bandwidth=bandwidth, connect_delay=True) as servers:
        servers.upload(list(paths.values()), bucket=BUCKET)
        rig = Rig(servers)
        env = servers.env(proxied=True)
        with client_environment(env):
            client = storage.Client(project="bench")
            # the process's first request (credentials, connection): not any cutout's cost
            client.bucket(BUCKET).blob("uncompressed.fits").download_as_bytes(start=0, end=0)
            floor = rig_floor(client.api_endpoint)
            print(f"{1000 * rtt:.0f} ms: a bare GET costs {1000 * floor:.1f} ms", file=sys.stderr)
            for kind in args.kinds:
                planes = local_planes(paths[kind], kind)
                for size in args.sizes:
                    case = Case(kind, size)
                    results = measure_skycut(rig, client, case, planes, args.repeats)
                    if not args.no_fsspec:
                        results += measure_fsspec(
                            rig, case, planes, args.fsspec_repeats, args.budget,
                            tuple(k * 1024 for k in args.blocks), tuple(args.caches),
                        )  # fmt: skip
                    if size == min(args.sizes) and not args.no_cold:
                        results.append(
                            measure_cold(
                                rig, env, case, planes, "skycut", "skycut", args.cold_repeats
                            )
                        )
                        best = best_fsspec(results, "first touch")
                        if best is not None:
                            _, kib, _, cache = best.method.split()
                            results.append(
                                measure_cold(
                                    rig,
                                    env,
                                    case,
                                    planes,
                                    f"fsspec:{int(kib) * 1024}:{cache}",
                                    best.method,
                                    args.cold_repeats,
                                )
                            )
                    if size == min(args.sizes) and args.astrocut:
                        results.append(measure_astrocut(rig, case))
                    for r in results:
                        nbytes = needed_bytes(paths[kind], size, r.state)
                        r.floor = floor
                        r.rig_limit = limit_seconds(floor, bandwidth, nbytes, r.state)
                        out.append((r, limit_seconds(rtt, bandwidth, nbytes, r.state)))
                    print(f"{1000 * rtt:.0f} ms: {case.label} done", file=sys.stderr)
    return out


def rig_floor(endpoint: str) -> float:
    """Return the median time of a bare 1-byte range GET on a kept-alive connection.

    The round trip plus what the proxy and fake-gcs-server add to every
    request: no client can do better on this rig.
    """
    import urllib3

    pool = urllib3.PoolManager()
    url = f"{endpoint}/download/storage/v1/b/{BUCKET}/o/uncompressed.fits?alt=media"
    times = []
    for _ in range(21):
        t0 = time.perf_counter()
        assert pool.request("GET", url, headers={"Range": "bytes=0-0"}).status == 206
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def best_fsspec(results: list[Result], state: str) -> Result | None:
    """Return the swept fsspec configuration fastest in ``state``."""
    swept = [r for r in results if r.method.startswith("fsspec") and r.state == state and r.seconds]
    return min(swept, key=lambda r: r.median, default=None)


def print_table(network: str, rows: list[tuple[Result, float]]) -> None:
    """Print one network's table: skycut against the limit, tuned fsspec and astrocut."""
    floor = rows[0][0].floor if rows else 0.0
    print(f"\n{network}; a bare GET through the rig takes {1000 * floor:.1f} ms\n")
    print(
        "| state | case | limit | rig limit | skycut | req | rounds | tuned fsspec (setting) | req "
        "| astrocut default | skycut ÷ limit | skycut ÷ rig limit | fsspec ÷ skycut |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    cases = list(dict.fromkeys(r.case for r, _ in rows))
    for state in ("warm", "first touch", "after image", "cold"):
        for case in cases:
            mine = [(r, lim) for r, lim in rows if r.case == case and r.state == state]
            ours = next(((r, lim) for r, lim in mine if r.method == "skycut"), None)
            if ours is None:
                continue
            sky, limit = ours
            if state == "cold":
                tuned = next((r for r, _ in mine if r.method.startswith("fsspec")), None)
            else:
                tuned = best_fsspec([r for r, _ in mine], state)
            astro = next(
                (r for r, _ in rows if r.case == case and r.method.startswith("astro")), None
            )
            fs = (
                f"{1000 * tuned.median:.0f} ms ({tuned.method.removeprefix('fsspec ')})"
                if tuned
                else ""
            )
            ratio = f"{tuned.median / sky.median:.2f}" if tuned else ""
            print(
                f"| {state} | {case.label} | {1000 * limit:.0f} ms | {1000 * sky.rig_limit:.1f} ms "
                f"| {1000 * sky.median:.0f} ms "
                f"| {sky.requests} | {sky.rounds} | {fs} | {tuned.requests if tuned else ''} "
                f"| {f'{1000 * astro.median:,.0f} ms' if astro and state == 'first touch' else ''} "
                f"| {sky.median / limit:.1f} | {sky.median / sky.rig_limit:.2f} | {ratio} |"
            )


def main() -> None:
    """Run the benchmark and print its tables."""
    if len(sys.argv) > 1 and sys.argv[1] == "--cold-child":
        method, kind, size, x, y = sys.argv[2:7]
        cold_child(method, kind, int(size), int(x), int(y))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--networks",
        nargs="+",
        default=["25:100", "5:400"],
        help="round trip ms : bandwidth MB/s, per network",
    )
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[51, 1003])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold-repeats", type=int, default=3)
    parser.add_argument("--fsspec-repeats", type=int, default=3, help="runs per swept setting")
    parser.add_argument(
        "--blocks",
        type=int,
        nargs="+",
        default=[b // 1024 for b in SWEEP_BLOCKS],
        help="fsspec block sizes swept, KiB",
    )
    parser.add_argument("--caches", nargs="+", default=list(SWEEP_CACHES),
                        help="fsspec cache types swept")  # fmt: skip
    parser.add_argument(
        "--budget",
        type=float,
        default=1.0,
        help="seconds after which a swept fsspec setting is dropped",
    )
    parser.add_argument("--no-fsspec", action="store_true")
    parser.add_argument("--no-cold", action="store_true")
    parser.add_argument("--astrocut", action="store_true", help="add astrocut's default (slow)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        paths = make_images(tmp)
        print(f"images written in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        tables = []
        for network in args.networks:
            ms, mbs = (float(v) for v in network.split(":"))
            rows = run_network(paths, ms / 1000, mbs * 1e6, args, tmp)
            tables.append((f"{ms:.0f} ms round trip, {mbs:.0f} MB/s per response", rows))
    for name, rows in tables:
        print_table(name, rows)


if __name__ == "__main__":
    main()
