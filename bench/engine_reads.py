"""Benchmark: a cutout's source reads over a slow network, skycut vs astrocut vs download.

Starts fake-gcs-server and, in front of it, the latency-injecting proxy of
`bench.netsim` (25 ms per request, 100 MB/s per response by default); uploads
the sample survey's 4096² ``deepcoadd-i-0001.fits`` (primary + IMAGE, MASK,
VARIANCE, float32) and a RICE_1 copy in 256² tiles made here with astropy;
then cuts 51², 203² and 1003² boxes out of each IMAGE plane three ways:

- skycut: `scan_fits` + `read_pixels` through `GcsRangeReader` (header not
  cached, header cached, and for the tiled file header and tile table cached);
- astrocut's default path: ``FITSCutout`` on the ``gs://`` object (astropy's
  ``fits.open`` through fsspec/gcsfs, then ``.section``);
- downloading the whole object, then cutting it in memory.

Requests, round trips and bytes are counted at the proxy for all of them.

    .venv/bin/python -m bench.engine_reads [--delay 0.025] [--bandwidth 100e6] [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from bench.netsim import ProxyLog, RequestRecord, round_trips
from emulators.processes import ManagedProcess, free_port, wait_for_http
from emulators.resources import client_environment, create_buckets
from emulators.sample import upload_files
from emulators.stack import REPO, _fake_gcs_binary
from skycut.cutout.fitsindex import FitsIndex, HduInfo, named_image, scan_fits, select_image_hdu
from skycut.cutout.pixels import output_image_header, read_pixels
from skycut.cutout.reader import CountingReader, LocalFileReader, RememberingReader
from skycut.cutout.tilelayout import TileLayout
from skycut.cutout.tiles import TileTable, read_tile_table
from skycut.sample.survey import generate_survey
from skycut.soda.ids import SourceRef
from skycut.storage.gcs import GcsRangeReader

BUCKET = "bench-sources"
SIZES = (51, 203, 1003)
CENTRE = (2300, 1700)  # (y, x) of the cutouts' centre, away from tile and block edges


@dataclass(frozen=True)
class Row:
    """One measured way of getting one cutout."""

    source: str
    size: int
    method: str
    seconds: float
    requests: int
    rounds: int
    nbytes: int
    needed: int | None = None  # bytes of the tiles and table rows touched (tiled sources)


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.025, help="seconds per request")
    parser.add_argument("--bandwidth", type=float, default=100e6, help="bytes/s per response")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each skycut case")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--no-astrocut", action="store_true", help="skip the slow baseline")
    args = parser.parse_args()
    manifest = generate_survey(REPO / ".skycut" / "sample")
    plain = next(i.path for i in manifest.images if i.name == "deepcoadd-i-0001.fits")
    with tempfile.TemporaryDirectory() as tmp:
        tiled = make_tiled(plain, Path(tmp) / "deepcoadd-i-0001-rice.fits")
        with Servers(Path(tmp), delay=args.delay, bandwidth=args.bandwidth) as servers:
            servers.upload([plain, tiled])
            rows = []
            for path in (plain, tiled):
                rows += run_source(servers, path, args)
    print_table(rows, args)


def make_tiled(plain: Path, out: Path) -> Path:
    """Write a RICE_1 copy of ``plain`` in 256² tiles, as the sample's tiled calexp."""
    t0 = time.perf_counter()
    with fits.open(plain) as hdul:
        hdus = [fits.PrimaryHDU(header=hdul[0].header)] + [
            fits.CompImageHDU(
                hdu.data,
                header=hdu.header,
                name=hdu.name,
                compression_type="RICE_1",
                tile_shape=(256, 256),
                quantize_level=16.0,
                quantize_method=2,
                dither_seed=42,
            )
            for hdu in hdul[1:]
        ]
        fits.HDUList(hdus).writeto(out)
    print(f"tiled copy written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


class Servers:
    """fake-gcs-server and the proxy in front of it, for one run."""

    def __init__(
        self, state: Path, *, delay: float, bandwidth: float, connect_delay: bool = False
    ) -> None:
        self.gcs_port, self.proxy_port = free_port(), free_port()
        self.direct = f"http://127.0.0.1:{self.gcs_port}"
        self.proxied = f"http://127.0.0.1:{self.proxy_port}"
        self.log = ProxyLog(self.proxied)
        argv = [str(_fake_gcs_binary()), "-scheme", "http", "-host", "127.0.0.1"]
        argv += ["-port", str(self.gcs_port), "-public-host", f"127.0.0.1:{self.proxy_port}"]
        argv += ["-external-url", self.proxied, "-backend", "filesystem"]
        argv += ["-filesystem-root", str(state / "gcs"), "-log-level", "warn"]
        self.processes = [
            ManagedProcess("fake-gcs", argv, state / "fake-gcs.log"),
            ManagedProcess(
                "netsim",
                [
                    *(sys.executable, "-m", "bench.netsim"),
                    *("--upstream", f"127.0.0.1:{self.gcs_port}", "--port", str(self.proxy_port)),
                    *("--delay", str(delay), "--bandwidth", str(bandwidth)),
                    *(("--connect-delay",) if connect_delay else ()),
                ],
                state / "netsim.log",
                cwd=REPO,
            ),
        ]

    def __enter__(self) -> Servers:
        try:
            for process in self.processes:
                process.start()
            wait_for_http(f"{self.direct}/storage/v1/b", timeout=30, process=self.processes[0])
            wait_for_http(f"{self.proxied}/__netsim/log", timeout=30, process=self.processes[1])
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.stop(grace=3)

    def env(self, *, proxied: bool) -> dict[str, str]:
        """Return the environment of a storage client, through the proxy or not."""
        return {
            "STORAGE_EMULATOR_HOST": self.proxied if proxied else self.direct,
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
            "GOOGLE_CLOUD_PROJECT": "bench",
            "SKYCUT_PROJECT_ID": "bench",
        }

    def upload(self, files: list[Path], *, bucket: str = BUCKET) -> None:
        """Upload straight to the emulator (not timed, not proxied)."""
        create_buckets(self.env(proxied=False), [bucket])
        upload_files(self.env(proxied=False), files, bucket=bucket, prefix="")

    def measure(
        self, action: Callable[[], object], *, check: Callable[[Any], object] | None = None
    ) -> tuple[float, list[RequestRecord]]:
        """Run ``action``; return its time and the requests the proxy saw.

        ``check`` is called with the action's result after the clock stops.
        """
        self.log.reset()
        t0 = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - t0
        if check is not None:
            check(result)
        return seconds, self.log.records()


def run_source(servers: Servers, path: Path, args: argparse.Namespace) -> list[Row]:
    """Measure every method and size on one source file."""
    from google.cloud import storage  # type: ignore[attr-defined]

    index = scan_fits(LocalFileReader(path), stop_after=named_image)
    hdu = select_image_hdu(index)
    label = "tiled" if hdu.is_compressed else "uncompressed"
    source = SourceRef(BUCKET, path.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(output_image_header(hdu))
    table = read_tile_table(LocalFileReader(path), hdu) if hdu.is_compressed else None
    variants: dict[str, tuple[FitsIndex | None, TileTable | None]] = {
        "skycut, nothing cached": (None, None),
        "skycut, header cached": (index, None),
    }
    if table is not None:
        variants["skycut, header + tile table cached"] = (index, table)
    rows: list[Row] = []
    with client_environment(servers.env(proxied=True)):
        client = storage.Client(project="bench")
        # The client's first request looks the bucket up once per process: not a cutout's cost.
        skycut_cut(client, source, index, None, box(1))
        for size in args.sizes:
            region = box(size)
            expected = local_section(path, hdu.index, region)
            for method, (cached, tiles) in variants.items():
                cut = partial(skycut_cut, client, source, cached, tiles, region)
                check = partial(same_pixels, expected, source)
                runs = [servers.measure(cut, check=check) for _ in range(args.repeats)]
                seconds = statistics.median(s for s, _ in runs)
                rows.append(row(label, size, method, seconds, runs[-1][1]))
            if not args.no_astrocut:
                centre = wcs.pixel_to_world(CENTRE[1], CENTRE[0])
                seconds, records = servers.measure(partial(astrocut_cut, source, centre, size))
                rows.append(row(label, size, "astrocut FITSCutout (fsspec)", seconds, records))
            download = partial(download_cut, client, source, hdu.index, region)
            seconds, records = servers.measure(download)
            rows.append(row(label, size, "whole-file download", seconds, records))
            if hdu.is_compressed:
                needed = needed_bytes(path, hdu, region)
                rows = [replace(r, needed=needed) if r.size == size else r for r in rows]
            print(f"{label} {size}² done", file=sys.stderr)
    return rows


def skycut_cut(
    client: Any,
    source: SourceRef,
    index: FitsIndex | None,
    tiles: TileTable | None,
    region: tuple[slice, ...],
) -> Any:
    """Do what the worker does: the header index (unless cached), then the pixels.

    The reader remembers the header chunk for the pixel read, which for a
    tiled image usually finds the tile table in it.
    """
    reader = RememberingReader(CountingReader(GcsRangeReader(client=client, source=source)))
    if index is None:
        index = scan_fits(reader, stop_after=named_image)
    return read_pixels(reader, select_image_hdu(index), region, tiles=tiles)


def same_pixels(expected: Any, source: SourceRef, got: Any) -> None:
    """Stop the benchmark if skycut's pixels are not astropy's."""
    if not np.array_equal(got, expected, equal_nan=True):
        raise SystemExit(f"skycut read wrong pixels from {source.uri}")


def download_cut(client: Any, source: SourceRef, hdu: int, region: tuple[slice, ...]) -> None:
    """Download the whole object, then cut it in memory."""
    data = client.bucket(source.bucket).blob(source.name).download_as_bytes(checksum=None)
    with fits.open(io.BytesIO(data), do_not_scale_image_data=True) as hdul:
        np.asarray(hdul[hdu].section[region])


def box(size: int) -> tuple[slice, slice]:
    """Return the ``size``² region centred on `CENTRE`."""
    y0, x0 = CENTRE[0] - size // 2, CENTRE[1] - size // 2
    return slice(y0, y0 + size), slice(x0, x0 + size)


def local_section(path: Path, index: int, region: tuple[slice, ...]) -> Any:
    """Return astropy's pixels of ``region`` from the local file, unscaled, big-endian."""
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        data = np.asarray(hdul[index].section[region])
    return data.astype(data.dtype.newbyteorder(">"))


def astrocut_cut(source: SourceRef, centre: Any, size: int) -> None:
    """Cut with astrocut's default cloud path, fsspec's caches emptied first (a cold run)."""
    import gcsfs
    from astrocut import FITSCutout

    gcsfs.GCSFileSystem.clear_instance_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astrocut's and wcslib's notes on the headers
        cutout = FITSCutout([source.uri], coordinates=centre, cutout_size=size, extension=1)
        shapes = [c.data.shape for c in cutout.cutouts_by_file[source.uri]]
    if shapes != [(size, size)]:
        raise SystemExit(f"astrocut cut {shapes}, not {size}²")


def needed_bytes(path: Path, hdu: HduInfo, region: tuple[slice, ...]) -> int:
    """Heap bytes of the tiles ``region`` touches, plus their table rows."""
    layout = TileLayout.of(hdu)
    tile = np.array(layout.tile_shape)
    first = np.array([s.start for s in region]) // tile
    last = (np.array([s.stop for s in region]) - 1) // tile
    rows = layout.tile_rows(first, last)
    with fits.open(path) as hdul:
        sizes = hdul[hdu.index]._bintable.data["COMPRESSED_DATA"][rows, 0]
    return int(sizes.sum()) + len(rows) * layout.row_bytes


def row(source: str, size: int, method: str, seconds: float, records: list[RequestRecord]) -> Row:
    """Summarise one measurement."""
    return Row(
        source=source,
        size=size,
        method=method,
        seconds=seconds,
        requests=len(records),
        rounds=round_trips(records),
        nbytes=sum(r.nbytes for r in records),
    )


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    """Print the Markdown table BENCHMARKS.md records, with the speed-ups."""
    print(
        f"\nproxy: {1000 * args.delay:.0f} ms per request, {args.bandwidth / 1e6:.0f} MB/s "
        f"per response; skycut times are medians of {args.repeats} runs\n"
    )
    print("| source | cutout | method | time | requests | round trips | read | read ÷ tiles "
          "| vs astrocut | vs download |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        same = [o for o in rows if o.source == r.source and o.size == r.size]
        astro = next((o.seconds for o in same if o.method.startswith("astrocut")), None)
        whole = next(o.seconds for o in same if o.method.startswith("whole"))
        speed = [f"{ref / r.seconds:.0f}x" if ref and r.method.startswith("skycut") else ""
                 for ref in (astro, whole)]  # fmt: skip
        ratio = f"{r.nbytes / r.needed:.2f}" if r.needed else ""
        print(
            f"| {r.source} | {r.size}² | {r.method} | {1000 * r.seconds:.0f} ms | {r.requests} "
            f"| {r.rounds} | {fmt_bytes(r.nbytes)} | {ratio} | {speed[0]} | {speed[1]} |"
        )


def fmt_bytes(n: int) -> str:
    """Bytes in KiB or MiB."""
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


if __name__ == "__main__":
    main()
