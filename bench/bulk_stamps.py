"""Benchmark: 1,000 51x51 stamps over 100 source images, from drop to completion event.

Starts its own stack on free ports, writes 100 small survey images (1024x1024
float32, TAN-SIP WCS, primary + IMAGE/MASK/VARIANCE) into the sources bucket,
drops one CSV of 1,000 positions (10 per image), and times from the upload to
the job's completion event on the job-events topic. Prints wall time, stamps/s,
and requests and bytes read per stamp (from the worker's own counts).

    .venv/bin/python -m bench.bulk_stamps [--images 100] [--per-image 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.exposures import calexp_mef, tan_sip_header
from emulators.resources import client_environment
from emulators.stack import REPO, Stack, StackConfig

_SIZE = 1024
_SCALE = 0.2 / 3600  # degrees per pixel
_STAMP_RADIUS = 25.5 * _SCALE  # a 51x51 box


def _image(number: int) -> tuple[bytes, float, float]:
    ra, dec = 30.0 + 0.1 * (number % 10), -10.0 + 0.1 * (number // 10)
    header = tan_sip_header((ra, dec), (_SIZE / 2, _SIZE / 2), [[-_SCALE, 0.0], [0.0, _SCALE]])
    rng = np.random.default_rng(number)
    data = rng.normal(100.0, 5.0, (_SIZE, _SIZE)).astype(np.float32)
    return calexp_mef(header, data), ra, dec


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--per-image", type=int, default=10)
    parser.add_argument(
        "--cutout-concurrency",
        type=int,
        default=None,
        help="override SKYCUT_CUTOUT_CONCURRENCY for this run",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="time the very first job (process start-up and imports included)",
    )
    parser.add_argument(
        "--tasks-per-message",
        type=int,
        default=None,
        help="override SKYCUT_TASKS_PER_MESSAGE for this run",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        extra = (
            {"SKYCUT_CUTOUT_CONCURRENCY": str(args.cutout_concurrency)}
            if args.cutout_concurrency
            else {}
        )
        extra |= (
            {"SKYCUT_TASKS_PER_MESSAGE": str(args.tasks_per_message)}
            if args.tasks_per_message
            else {}
        )
        config = StackConfig.on_free_ports(
            Path(state), load_sample=False, sample_dir=REPO / ".skycut" / "sample", extra_env=extra
        )
        stack = Stack(config)
        stack.start()
        try:
            with client_environment(config.client_env()):
                run(stack, args.images, args.per_image, warm=not args.cold)
            cpu_report(stack)
        finally:
            stack.stop()


def _group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system) used so far by every process in a process group."""
    import os

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat, after the command: the process group
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def cpu_report(stack: Stack) -> None:
    """Print the CPU time each part of the stack used (the machine has 2 cores)."""
    parts = [f"{p.name} {_group_cpu_seconds(p.pid):.1f} s" for p in stack.processes if p.pid]
    print("  CPU used, whole run including start-up: " + ", ".join(parts))


def _wait_event(subscriber: object, subscription: str, *, deadline: float) -> dict[str, Any] | None:
    start = time.perf_counter()
    while time.perf_counter() - start < deadline:
        response = subscriber.pull(  # type: ignore[attr-defined]
            subscription=subscription, max_messages=10, timeout=30
        )
        for message in response.received_messages:
            subscriber.acknowledge(  # type: ignore[attr-defined]
                subscription=subscription, ack_ids=[message.ack_id]
            )
            return dict(json.loads(message.message.data))
    return None


def run(stack: Stack, images: int, per_image: int, *, warm: bool) -> None:
    """Upload the images, drop the positions, wait for the completion event, report."""
    from google.cloud import firestore, pubsub_v1, storage  # type: ignore[attr-defined]

    cfg = stack.config
    gcs = storage.Client()
    sources = gcs.bucket(cfg.sources_bucket)
    rows = ["id,ra,dec,radius,label"]
    rng = np.random.default_rng(7)
    for number in range(images):
        data, ra, dec = _image(number)
        name = f"bench/image-{number:03d}.fits"
        sources.blob(name).upload_from_string(data)
        offsets = rng.uniform(-0.025, 0.025, (per_image, 2))
        rows += [
            f"gs://{cfg.sources_bucket}/{name},{ra + dx},{dec + dy},{_STAMP_RADIUS},s{number}-{k}"
            for k, (dx, dy) in enumerate(offsets)
        ]
    subscriber = pubsub_v1.SubscriberClient()
    subscription = subscriber.subscription_path(cfg.project_id, "bench-job-events")
    subscriber.create_subscription(
        name=subscription, topic=f"projects/{cfg.project_id}/topics/{cfg.job_events_topic}"
    )
    if warm:
        # A small job first, as a deployment's instances would already be running:
        # the timed run then measures work, not process start-up and imports.
        gcs.bucket(cfg.drop_bucket).blob("incoming/bench/warm-up.csv").upload_from_string(
            "\n".join(rows[: 1 + 2 * per_image]) + "\n", content_type="text/csv"
        )
        _wait_event(subscriber, subscription, deadline=120)
    t0 = time.perf_counter()
    t0_wall = time.time()
    gcs.bucket(cfg.drop_bucket).blob("incoming/bench/stamps.csv").upload_from_string(
        "\n".join(rows) + "\n", content_type="text/csv"
    )
    event = _wait_event(subscriber, subscription, deadline=600)
    wall = time.perf_counter() - t0
    if event is None:
        raise SystemExit("no completion event within 600 s")
    db = firestore.Client(project=cfg.project_id)
    reads = [
        (int(d.get("requests")), int(d.get("bytes_read")))
        for d in db.collection("skycut-jobs")
        .document(event["job_id"])
        .collection("results")
        .stream()
        if d.get("index") >= 0
    ]
    stamps = event["done"] + event["failed"]
    print(
        f"stamps: {stamps} ({event['failed']} failed) over {images} images, phase {event['phase']}"
    )
    print(f"wall time, drop to completion event: {wall:.1f} s ({stamps / wall:.0f} stamps/s)")
    requests_per, bytes_per = zip(*reads, strict=True)
    print(
        f"reads per stamp: mean {statistics.mean(requests_per):.2f} requests, "
        f"{statistics.mean(bytes_per) / 1024:.0f} KiB "
        f"(headers read once per image per worker process)"
    )
    timeline(stack, t0_wall, str(event["job_id"]))


def timeline(stack: Stack, t0_wall: float, job_id: str) -> None:
    """Print where the time went, from the functions' own logs."""
    from datetime import datetime

    def entries(name: str) -> list[dict[str, object]]:
        path = stack.config.state_dir / "logs" / f"{name}.log"
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
        return [entry for entry in lines if entry.get("job_id") == job_id]

    def at(entry: dict[str, object]) -> float:
        return datetime.fromisoformat(str(entry["time"])).timestamp() - t0_wall

    worker = entries("cutout_worker")
    cutouts = [e for e in worker if e["message"] == "cutout done"]
    submitted = [e for e in entries("bulk_submit") if e["message"] == "bulk job submitted"]
    finished = [e for e in worker if e["message"] == "job finished"]
    seconds = [float(e["steps_ms"]["total"]) / 1000 for e in cutouts]  # type: ignore[index]
    if submitted:
        print(
            f"  bulk job submitted (file read, rows checked, messages published): "
            f"{at(submitted[0]):.1f} s"
        )
    if cutouts:
        print(
            f"  cutouts from {min(map(at, cutouts)):.1f} s to {max(map(at, cutouts)):.1f} s; "
            f"one cutout (read, cut, write) {1000 * statistics.median(seconds):.0f} ms median"
        )
    if finished:
        print(f"  job finished: {at(finished[0]):.1f} s")


if __name__ == "__main__":
    main()
