"""Load test: concurrent SODA sync clients against a local stack, bounded in time and count.

Starts its own stack on free ports (loopback only), runs ``--clients`` threads
that each send sync cutout requests (different positions on the sample
images) for ``--seconds``, and prints requests, errors and latency
percentiles. Numbers are recorded in RELIABILITY.md.

    .venv/bin/python -m bench.load [--clients 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from emulators.stack import REPO, Stack, StackConfig

_MAX_REQUESTS = 20_000  # a hard bound whatever the duration


def main() -> None:
    """Run the load test and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        config = StackConfig.on_free_ports(Path(state), sample_dir=REPO / ".skycut" / "sample")
        stack = Stack(config)
        stack.start()
        try:
            run(stack, args.clients, args.seconds)
        finally:
            stack.stop()


def run(stack: Stack, clients: int, seconds: float) -> None:
    """Drive the stack and report."""
    assert stack.sample is not None
    sample = stack.sample
    images = [i for i in sample.manifest.images if not i.compressed]
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    sent = [0]

    def client(number: int) -> None:
        with requests.Session() as http:
            k = 0
            while time.monotonic() < deadline:
                with lock:
                    if sent[0] >= _MAX_REQUESTS:
                        return
                    sent[0] += 1
                image = images[(number + k) % len(images)]
                ra, dec = image.crval
                k += 1
                t0 = time.perf_counter()
                try:
                    response = http.get(
                        f"{stack.config.base_url}/sync",
                        params={
                            "ID": sample.ids[image.name],
                            "CIRCLE": f"{ra + 0.0003 * (k % 20)} {dec} 0.002",
                        },
                        allow_redirects=False,
                        timeout=120,
                    )
                    outcome = str(response.status_code)
                except requests.RequestException as e:
                    outcome = type(e).__name__
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    outcomes[outcome] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    total = sum(outcomes.values())
    errors = total - outcomes.get("303", 0)
    print(
        f"{clients} clients for {seconds:g} s: {total} sync requests in {wall:.1f} s "
        f"({total / wall:.1f}/s), outcomes {dict(outcomes)}, errors {errors}"
    )
    print(
        f"latency to the 303: p50 {pct(0.5):.0f} ms, p90 {pct(0.9):.0f} ms, "
        f"p99 {pct(0.99):.0f} ms, max {1000 * latencies[-1]:.0f} ms, "
        f"mean {1000 * statistics.mean(latencies):.0f} ms"
    )


if __name__ == "__main__":
    main()
