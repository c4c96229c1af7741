"""Benchmark: what one range GET costs on the engine benchmarks' rig, and whose cost it is.

Issue #16. `bench.engine_limit` measures cutouts through fake-gcs-server
behind `bench.netsim`; on its 5 ms network a bare 1-byte GET took 6.6-8.9 ms,
more than the whole limit of a warm stamp. This splits one GET's time into
the emulator's, the proxy's (its round trip and its own work) and the
client's, for a 1-byte range and a stamp's range (819 KB: 51 whole rows of a
4096² float32 image):

- *fake-gcs direct*: urllib3 on a kept-alive connection, straight to the
  emulator (the emulator's own cost and the loopback);
- *proxy, no delay*: the same through `bench.netsim` with no round trip and
  no bandwidth limit (the proxy's own work added);
- *proxy*: through the proxy as the engine benchmark sets it (its round trip
  and bandwidth): the floor no client goes below on this rig;
- *skycut*: `GcsRangeReader.read_range`, the engine's read, on the same
  proxies (the client's cost above urllib3's);
- *3 planes of 819 KB at once*: the three planes' rows of a warm
  ``DETAIL=image,mask,variance`` stamp, read concurrently as the engine reads
  them, through the proxy by urllib3 and by skycut.

Medians of ``--repeats`` GETs after a warm-up, alternating the methods so
that the machine's load falls on all alike.

    uv run --frozen python -m bench.engine_floor [--networks 5:400 25:100] [--repeats 41]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main"]

BUCKET = "bench-floor"
OBJECT = "image.bin"
SIZE = 4 * 1024 * 1024
STAMP = 51 * 4096 * 4  # bytes of a 51² stamp's whole rows in a 4096² float32 image
PLANES = 3  # IMAGE, MASK and VARIANCE


def _urllib3_get(pool: Any, url: str, nbytes: int) -> Callable[[], None]:
    def get() -> None:
        response = pool.request(
            "GET", url, headers={"Range": f"bytes=1000-{1000 + nbytes - 1}"}, preload_content=True
        )
        if response.status != 206 or len(response.data) != nbytes:
            raise SystemExit(f"urllib3: HTTP {response.status}, {len(response.data)} bytes")

    return get


def _skycut_get(client: Any, nbytes: int) -> Callable[[], None]:
    from skycut.soda.ids import SourceRef
    from skycut.storage.gcs import GcsRangeReader

    source = SourceRef(BUCKET, OBJECT)

    def get() -> None:
        reader = GcsRangeReader(client=client, source=source)  # a cut's reader: one per cut
        if len(reader.read_range(1000, 1000 + nbytes)) != nbytes:
            raise SystemExit("skycut: short read")

    return get


def _at_once(get: Callable[[], None], pool: ThreadPoolExecutor, count: int) -> Callable[[], None]:
    """Return a method making ``count`` of ``get`` at once (a MEF stamp's three planes)."""

    def gets() -> None:
        for future in [pool.submit(get) for _ in range(count)]:
            future.result()

    return gets


def _medians(methods: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in methods}
    for get in methods.values():
        for _ in range(3):
            get()  # connections opened, credentials fetched
    for _ in range(repeats):
        for name, get in methods.items():
            t0 = time.perf_counter()
            get()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def run(rtt: float, bandwidth: float, repeats: int, tmp: Path) -> dict[str, float]:
    """Return the median seconds of each method and size on one network."""
    import urllib3
    from google.cloud import storage  # type: ignore[attr-defined]

    from bench.engine_reads import Servers
    from emulators.resources import client_environment

    path = tmp / OBJECT
    path.write_bytes(np.random.default_rng(16).bytes(SIZE))
    media = f"/download/storage/v1/b/{BUCKET}/o/{OBJECT}?alt=media"
    methods: dict[str, Callable[[], None]] = {}
    with (
        Servers(tmp / "bare", delay=0.0, bandwidth=1e12) as bare,
        Servers(tmp / "net", delay=rtt, bandwidth=bandwidth, connect_delay=True) as net,
    ):
        bare.upload([path], bucket=BUCKET)
        net.upload([path], bucket=BUCKET)
        pool = urllib3.PoolManager()
        clients = {}
        for name, servers in (("proxy, no delay", bare), ("proxy", net)):
            with client_environment(servers.env(proxied=True)):
                clients[name] = storage.Client(project="bench")
        for label, nbytes in (("1 B", 1), ("819 KB", STAMP)):
            methods[f"fake-gcs direct, {label}"] = _urllib3_get(pool, net.direct + media, nbytes)
            for name, servers in (("proxy, no delay", bare), ("proxy", net)):
                methods[f"{name}, urllib3, {label}"] = _urllib3_get(
                    pool, servers.proxied + media, nbytes
                )
                methods[f"{name}, skycut, {label}"] = _skycut_get(clients[name], nbytes)
        # a warm DETAIL=image,mask,variance stamp: its three planes' rows at once
        with ThreadPoolExecutor(PLANES) as threads:
            label = f"{PLANES} planes of 819 KB at once"
            wide = urllib3.PoolManager(maxsize=PLANES)  # a kept-alive connection per plane
            methods[f"proxy, urllib3, {label}"] = _at_once(
                _urllib3_get(wide, net.proxied + media, STAMP), threads, PLANES
            )
            methods[f"proxy, skycut, {label}"] = _at_once(
                _skycut_get(clients["proxy"], STAMP), threads, PLANES
            )
            return _medians(methods, repeats)


def main() -> None:
    """Run the probe and print one table per network."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--networks", nargs="+", default=["5:400", "25:100"],
                        help="round trip ms : bandwidth MB/s")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=41)
    args = parser.parse_args()
    for network in args.networks:
        ms, mbs = (float(v) for v in network.split(":"))
        with tempfile.TemporaryDirectory() as tmp:
            medians = run(ms / 1000, mbs * 1e6, args.repeats, Path(tmp))
        print(f"\n{ms:.0f} ms, {mbs:.0f} MB/s: median of {args.repeats} GETs\n")
        print("| path | ms |")
        print("|---|---:|")
        for name, seconds in medians.items():
            print(f"| {name} | {1000 * seconds:.2f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
