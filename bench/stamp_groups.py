"""Benchmark: 10 stamps on one image, each cut on its own vs their reads prefetched together.

Starts fake-gcs-server and the latency-injecting proxy of `bench.netsim` in
front of it (as `bench.engine_reads` does: 25 ms per request, 100 MB/s per
response by default), uploads the sample survey's 2048² ``calexp-r-0002``
(primary + IMAGE, MASK, VARIANCE) and its RICE_1 copy, and cuts ``--stamps``
circles of ``--size``² pixels at random positions of one image four ways,
the header index and tile tables cached as a warm worker has them:

- separately, one after the other: `cut` per stamp, each through its own
  ``RememberingReader(CountingReader(GcsRangeReader))`` as the worker does;
- separately, ``--concurrency`` at once (the worker's ``cutout_concurrency``);
- prefetched: `prefetch` plans the stamps' segments as one set and fetches
  them, then each stamp is cut from memory (``cost=MEMORY_COST``), one after
  the other or ``--concurrency`` at once.

Requests, round trips and bytes are counted at the proxy; times are medians
of ``--repeats`` runs; the prefetched cutouts are checked byte for byte
(but for ``DATE``) against the separate ones after the clock stops.

    .venv/bin/python -m bench.stamp_groups [--stamps 10] [--size 51] [--repeats 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from bench.engine_reads import BUCKET, Servers
from bench.netsim import round_trips
from emulators.resources import client_environment
from emulators.stack import REPO
from skycut.config import Settings
from skycut.cutout.engine import Cutout, cut
from skycut.cutout.fitsindex import FitsIndex, HduInfo, scan_fits, select_image_hdu
from skycut.cutout.pixels import output_image_header
from skycut.cutout.prefetch import MEMORY_COST, CutRequest, prefetch
from skycut.cutout.reader import CountingReader, LocalFileReader, RememberingReader
from skycut.cutout.readplan import ReadCost
from skycut.cutout.selection import Detail, Selection
from skycut.cutout.stencil import Circle
from skycut.cutout.tiles import TileTable, read_tile_table
from skycut.sample.survey import generate_survey
from skycut.soda.ids import SourceRef
from skycut.storage.gcs import GcsRangeReader

SOURCES = ("calexp-r-0002.fits", "calexp-r-0002-rice.fits")
DETAILS: tuple[Detail, ...] = ("image", "image,mask,variance")


@dataclass(frozen=True)
class Source:
    """One uploaded image, with what a warm worker has cached about it."""

    ref: SourceRef
    index: FitsIndex
    tables: dict[int, TileTable]
    label: str

    def tile_table(self, hdu: HduInfo) -> TileTable:
        """Return the cached table of a compressed HDU."""
        return self.tables[hdu.index]


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.025, help="seconds per request")
    parser.add_argument("--bandwidth", type=float, default=100e6, help="bytes/s per response")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each case")
    parser.add_argument("--stamps", type=int, default=10, help="stamps on the image")
    parser.add_argument("--size", type=int, default=51, help="stamp width in pixels")
    parser.add_argument("--concurrency", type=int, default=4, help="separate cuts at once")
    parser.add_argument("--seed", type=int, default=1, help="of the stamps' positions")
    args = parser.parse_args()
    manifest = generate_survey(REPO / ".skycut" / "sample")
    paths = [next(i.path for i in manifest.images if i.name == name) for name in SOURCES]
    print(
        f"proxy: {1000 * args.delay:.0f} ms per request, {args.bandwidth / 1e6:.0f} MB/s per "
        f"response; {args.stamps} stamps of {args.size}²; medians of {args.repeats} runs\n"
    )
    print("| source | DETAIL | method | time | requests | round trips | read |")
    print("|---|---|---|---:|---:|---:|---:|")
    with (
        tempfile.TemporaryDirectory() as tmp,
        Servers(Path(tmp), delay=args.delay, bandwidth=args.bandwidth) as servers,
    ):
        servers.upload(paths)
        with client_environment(servers.env(proxied=True)):
            from google.cloud import storage  # type: ignore[attr-defined]

            client = storage.Client(project="bench")
            for path in paths:
                source = _source(path)
                selections = stamps(source, args.stamps, args.size, args.seed)
                _cut_alone(client, source, selections[0], "image")  # the bucket look-up
                for detail in DETAILS:
                    _compare(servers, client, source, selections, detail, args)


def _source(path: Path) -> Source:
    """Index a local copy and read its tile tables, as a warm worker has them cached.

    The index goes to the end of the file: the worker caches the index a
    ``DETAIL`` cutout scanned further, so only its first such cutout scans.
    """
    local = LocalFileReader(path)
    index = scan_fits(local)
    compressed = [h for h in index.hdus if h.is_compressed]
    tables = {h.index: read_tile_table(local, h) for h in compressed}
    label = "tiled" if compressed else "uncompressed"
    return Source(SourceRef(BUCKET, path.name), index, tables, label)


def stamps(source: Source, count: int, size: int, seed: int) -> list[Selection]:
    """Circles ``size`` pixels across at random positions of the image, away from its edges."""
    header = output_image_header(select_image_hdu(source.index))
    wcs = WCS(header)
    scale = float(np.mean(proj_plane_pixel_scales(wcs.celestial)))
    shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    rng = np.random.default_rng(seed)
    y = rng.uniform(size, shape[0] - size, count)
    x = rng.uniform(size, shape[1] - size, count)
    ra, dec = wcs.celestial.pixel_to_world_values(x, y)
    circles = (Circle(float(a), float(d), size / 2 * scale) for a, d in zip(ra, dec, strict=True))
    return [Selection(stencil=c) for c in circles]


def _compare(
    servers: Servers,
    client: Any,
    source: Source,
    selections: list[Selection],
    detail: Detail,
    args: argparse.Namespace,
) -> None:
    """Measure the methods on one source and detail level; print their rows."""
    one = partial(_cut_alone, client, source, detail=detail)
    methods: dict[str, Callable[[], list[Cutout]]] = {
        "separate, one after another": lambda: [one(s) for s in selections],
        f"separate, {args.concurrency} at once": partial(
            _concurrently, one, selections, args.concurrency
        ),
        "prefetched, cut one after another": partial(
            _together, client, source, selections, detail, 1
        ),
        f"prefetched, cut {args.concurrency} at once": partial(
            _together, client, source, selections, detail, args.concurrency
        ),
    }
    expected = [_strip(c.content) for c in methods["separate, one after another"]()]
    check = partial(_same, expected)
    for method, action in methods.items():
        runs = [servers.measure(action, check=check) for _ in range(args.repeats)]
        seconds = statistics.median(s for s, _ in runs)
        records = runs[-1][1]
        nbytes = sum(r.nbytes for r in records)
        print(
            f"| {source.label} | {detail} | {method} | {1000 * seconds:.0f} ms | {len(records)} "
            f"| {round_trips(records)} | {nbytes / 1024:.0f} KiB |"
        )


def _reader(client: Any, source: Source) -> RememberingReader:
    return RememberingReader(CountingReader(GcsRangeReader(client=client, source=source.ref)))


# the worker's cost model (its settings' defaults), total bandwidth included
COST = ReadCost(total_bandwidth=Settings.model_construct().read_total_bandwidth_bytes)


def _cut_alone(client: Any, source: Source, selection: Selection, detail: Detail) -> Cutout:
    """Cut one stamp on its own, as the worker does outside a group."""
    reader = _reader(client, source)
    return cut(
        reader,
        selection,
        source_id=source.ref.uri,
        index=source.index,
        detail=detail,
        tile_tables=source.tile_table,
        cost=COST,
    )


def _concurrently(
    one: Callable[[Selection], Cutout], selections: list[Selection], workers: int
) -> list[Cutout]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, selections))


def _together(
    client: Any, source: Source, selections: list[Selection], detail: Detail, workers: int
) -> list[Cutout]:
    """Prefetch every stamp's pixels, then cut each from memory, ``workers`` at once."""
    uri = source.ref.uri
    ahead = prefetch(
        _reader(client, source),
        [CutRequest(s, detail=detail) for s in selections],
        source_id=uri,
        index=source.index,
        tile_tables=source.tile_table,
        cost=COST,
    )
    one = partial(
        cut,
        ahead,
        source_id=uri,
        index=ahead.index,
        detail=detail,
        cost=MEMORY_COST,
        tile_tables=source.tile_table,
    )
    return _concurrently(one, selections, workers)


def _strip(content: bytes) -> bytes:
    return re.sub(rb"DATE    = '[^']*'", b"", content)


def _same(expected: list[bytes], got: list[Cutout]) -> None:
    """Stop the benchmark if a cutout differs from the one cut alone."""
    if [_strip(c.content) for c in got] != expected:
        raise SystemExit("the prefetched cutouts differ from those cut alone")


if __name__ == "__main__":
    main()
