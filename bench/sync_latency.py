"""Benchmark: stack start-up time and SODA sync latency on the local emulators.

Starts its own stack on free ports, sends sequential sync requests for small
cutouts of the sample survey (each a different position, so the worker's
header cache helps only after the first per image), and prints the figures
recorded in BENCHMARKS.md.

    .venv/bin/python -m bench.sync_latency [--requests 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests

from emulators.resources import client_environment
from emulators.stack import REPO, Stack, StackConfig


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--radius", type=float, default=0.003, help="degrees (0.003 = 55 px)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        config = StackConfig.on_free_ports(Path(state), sample_dir=REPO / ".skycut" / "sample")
        stack = Stack(config)
        t0 = time.perf_counter()
        stack.start()
        startup = time.perf_counter() - t0
        try:
            latencies, sizes = run_requests(stack, args.requests, args.radius)
            reads = read_stats(stack)
        finally:
            stack.stop()
    latencies.sort()
    print(f"stack start-up (sample cached): {startup:.1f} s")
    print(f"sync requests: {len(latencies)}, cutout radius {args.radius} deg")
    print(
        f"  latency to 303: p50 {1000 * statistics.median(latencies):.0f} ms, "
        f"p90 {1000 * latencies[int(0.9 * (len(latencies) - 1))]:.0f} ms, "
        f"max {1000 * latencies[-1]:.0f} ms"
    )
    print(f"  cutout size: median {statistics.median(sizes) / 1024:.0f} KiB")
    if reads:
        requests_per, bytes_per = zip(*reads, strict=True)
        print(
            f"  source reads per cutout: median {statistics.median(requests_per):.0f} "
            f"requests, {statistics.median(bytes_per) / 1024:.0f} KiB "
            f"(first cutout of an image: {max(requests_per)} requests)"
        )


def run_requests(stack: Stack, count: int, radius: float) -> tuple[list[float], list[int]]:
    """Send ``count`` sync requests; return latencies to the 303 and cutout sizes."""
    assert stack.sample is not None
    images = [i for i in stack.sample.manifest.images if not i.compressed]
    latencies, sizes = [], []
    with requests.Session() as http:
        for n in range(count):
            image = images[n % len(images)]
            ra, dec = image.crval
            ra += 0.0005 * (n // len(images))
            t0 = time.perf_counter()
            response = http.get(
                f"{stack.config.base_url}/sync",
                params={"ID": stack.sample.ids[image.name], "CIRCLE": f"{ra} {dec} {radius}"},
                allow_redirects=False,
                timeout=60,
            )
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 303:
                raise SystemExit(f"request {n} failed: {response.status_code} {response.text}")
            sizes.append(len(http.get(response.headers["Location"], timeout=60).content))
    return latencies, sizes


def read_stats(stack: Stack) -> list[tuple[int, int]]:
    """Return (requests, bytes) of every cutout the worker recorded."""
    from google.cloud import firestore

    with client_environment(stack.config.client_env()):
        client = firestore.Client(project=stack.config.project_id)
        docs = client.collection_group("results").stream()
        return [(int(d.get("requests")), int(d.get("bytes_read"))) for d in docs]


if __name__ == "__main__":
    main()
