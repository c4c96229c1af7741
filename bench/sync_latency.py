"""Benchmark: stack start-up time and SODA sync latency on the local emulators.

Starts its own stack on free ports, sends sequential sync requests for small
cutouts of the sample survey (each a different position, so the worker's
header cache helps only after the first per image), and prints the figures
recorded in BENCHMARKS.md.

    .venv/bin/python -m bench.sync_latency [--requests 200]

Then it explains the median request from the functions' own logs: the
API's steps (parse, Firestore create, publish, wait, results query), the
Pub/Sub push lag (worker received - API published), the worker's steps
(job load, start, existing results, read+cut, result write, count, abort
check, finish) and the listener wake-up (API woke - job finished).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from emulators.resources import client_environment
from emulators.stack import REPO, Stack, StackConfig


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
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
            breakdown = steps_breakdown(stack.config.state_dir / "logs")
        finally:
            stack.stop()
    latencies.sort()
    print(f"stack start-up (sample cached): {startup:.1f} s")
    print(f"sync requests: {len(latencies)}, cutout radius {args.radius} deg")
    print(
        f"  latency to 303: p50 {1000 * statistics.median(latencies):.0f} ms, "
        f"p90 {1000 * latencies[int(0.9 * (len(latencies) - 1))]:.0f} ms, "
        f"p95 {1000 * latencies[int(0.95 * (len(latencies) - 1))]:.0f} ms, "
        f"max {1000 * latencies[-1]:.0f} ms"
    )
    # the first request of a stack creates clients and listeners: it is not "warm"
    warm = sorted(latencies[1:]) if len(latencies) > 1 else latencies
    print(
        f"  warm (without the first request): p50 {1000 * statistics.median(warm):.0f} ms, "
        f"p95 {1000 * warm[int(0.95 * (len(warm) - 1))]:.0f} ms"
    )
    print("  where the time goes (median per request, ms):")
    for name, value in breakdown.items():
        print(f"    {name:<34} {value:7.1f}")
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


def _entries(path: Path, message: str) -> dict[str, dict[str, Any]]:
    entries = {}
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("message") == message and "job_id" in entry:
                entries[entry["job_id"]] = entry
    return entries


def steps_breakdown(logs: Path) -> dict[str, float]:
    """Return the median of each step of a sync request, from the functions' logs."""
    served = _entries(logs / "soda_api.log", "sync served")
    handled = _entries(logs / "cutout_worker.log", "message handled")
    cutouts = _entries(logs / "cutout_worker.log", "cutout done")
    finished = _entries(logs / "cutout_worker.log", "job finished")
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    for job_id, api in served.items():
        if job_id not in handled or job_id not in finished or job_id not in cutouts:
            continue
        worker = handled[job_id]
        for step in ("parse", "create", "publish"):
            add(f"api: {step}", api["steps_ms"].get(step, 0.0))
        add("pub/sub push lag", 1000 * (worker["received_at"] - api["published_at"]))
        for step in ("load", "start", "existing"):
            add(f"worker: {step}", worker["steps_ms"].get(step, 0.0))
        add("worker: read + cut", cutouts[job_id]["steps_ms"].get("cut", 0.0))
        add("worker: write result object", cutouts[job_id]["steps_ms"].get("write", 0.0))
        for step in ("record", "abort_check", "finish", "end"):
            add(f"worker: {step}", worker["steps_ms"].get(step, 0.0))
        ended = datetime.fromisoformat(finished[job_id]["time"]).timestamp()
        add("listener wake-up (finished → API)", 1000 * (api["woke_at"] - ended))
        add("api: results query", api["steps_ms"].get("results", 0.0))
        add("api: total (in the function)", api["steps_ms"]["total"])
        add("worker: total (message handled)", worker["steps_ms"]["total"])
    return {name: statistics.median(values) for name, values in rows.items()}


def read_stats(stack: Stack) -> list[tuple[int, int]]:
    """Return (requests, bytes) of every cutout the worker recorded."""
    from google.cloud import firestore

    with client_environment(stack.config.client_env()):
        client = firestore.Client(project=stack.config.project_id)
        docs = client.collection_group("results").stream()
        return [(int(d.get("requests")), int(d.get("bytes_read"))) for d in docs]


if __name__ == "__main__":
    main()
