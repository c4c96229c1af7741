"""Load test: concurrent SODA sync clients and bulk jobs against a local stack, bounded.

Starts its own stack on free ports (loopback only), runs ``--clients`` threads
that each send sync cutout requests (different positions on the sample
images) for ``--seconds``, and prints requests, errors and latency
percentiles. With ``--bulk-jobs N``, N users each drop a file of ``--rows``
stamps at the same moment (while the sync clients run, if any); every job's
time from drop to its completion event and its counts are printed. Numbers
are recorded in RELIABILITY.md.

    .venv/bin/python -m bench.load [--clients 50] [--seconds 60]
    .venv/bin/python -m bench.load --clients 0 --bulk-jobs 10 [--rows 100]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests
from google.api_core import exceptions as gexc

from emulators.resources import client_environment
from emulators.stack import REPO, Stack, StackConfig

_MAX_REQUESTS = 20_000  # a hard bound whatever the duration


def main() -> None:
    """Run the load test and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--bulk-jobs", type=int, default=0, help="users dropping a file at once")
    parser.add_argument("--rows", type=int, default=100, help="stamps per bulk file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        config = StackConfig.on_free_ports(Path(state), sample_dir=REPO / ".skycut" / "sample")
        stack = Stack(config)
        stack.start()
        try:
            with client_environment(config.client_env()):
                bulk = (
                    threading.Thread(target=run_bulk, args=(stack, args.bulk_jobs, args.rows))
                    if args.bulk_jobs
                    else None
                )
                if bulk is not None:
                    bulk.start()
                if args.clients:
                    run(stack, args.clients, args.seconds)
                if bulk is not None:
                    bulk.join()
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


def run_bulk(stack: Stack, jobs: int, rows: int) -> None:
    """Drop ``jobs`` files of ``rows`` stamps at once, one per user; report each job."""
    from google.cloud import pubsub_v1, storage  # type: ignore[attr-defined]

    from skycut.bulk.drops import DropObject, bulk_job_id

    assert stack.sample is not None
    cfg = stack.config
    subscriber = pubsub_v1.SubscriberClient()
    subscription = subscriber.subscription_path(cfg.project_id, "load-job-events")
    with contextlib.suppress(gexc.AlreadyExists):
        subscriber.create_subscription(
            name=subscription, topic=f"projects/{cfg.project_id}/topics/{cfg.job_events_topic}"
        )
    images = [i for i in stack.sample.manifest.images if not i.compressed]
    bucket = storage.Client().bucket(cfg.drop_bucket)
    dropped: dict[str, float] = {}

    def drop(user: int) -> None:
        lines = ["id,ra,dec,radius,label"]
        for k in range(rows):
            image = images[(user + k) % len(images)]
            ra, dec = image.crval
            lines.append(
                f"{stack.sample.ids[image.name]},{ra + 0.0004 * (k % 25)},"  # type: ignore[union-attr]
                f"{dec + 0.0004 * (k // 25)},0.0007,u{user}-{k}"
            )
        blob = bucket.blob(f"incoming/user{user}/load.csv")
        started = time.perf_counter()
        blob.upload_from_string("\n".join(lines) + "\n", content_type="text/csv")
        job_id = bulk_job_id(DropObject(cfg.drop_bucket, blob.name, str(blob.generation)))
        dropped[job_id] = started

    threads = [threading.Thread(target=drop, args=(u,)) for u in range(jobs)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events: dict[str, tuple[float, dict[str, object]]] = {}
    deadline = time.monotonic() + 600
    while len(events) < jobs and time.monotonic() < deadline:
        response = subscriber.pull(subscription=subscription, max_messages=50, timeout=10)
        now = time.perf_counter()
        for received in response.received_messages:
            event = json.loads(received.message.data)
            if event["job_id"] in dropped:
                events.setdefault(event["job_id"], (now, event))
        if response.received_messages:
            subscriber.acknowledge(
                subscription=subscription,
                ack_ids=[m.ack_id for m in response.received_messages],
            )
    subscriber.close()
    wall = time.perf_counter() - began
    times = sorted(at - dropped[job] for job, (at, _) in events.items())
    counts = Counter(
        (str(e.get("phase")), str(e.get("done")), str(e.get("failed"))) for _, e in events.values()
    )
    print(
        f"{jobs} bulk jobs of {rows} stamps dropped at once: {len(events)} completion events "
        f"in {wall:.1f} s ({jobs * rows / wall:.0f} stamps/s); (phase, done, failed): "
        f"{dict(counts)}; missing: {jobs - len(events)}"
    )
    if times:
        print(
            f"drop to completion event per job: min {times[0]:.1f} s, "
            f"median {statistics.median(times):.1f} s, max {times[-1]:.1f} s"
        )


if __name__ == "__main__":
    main()
