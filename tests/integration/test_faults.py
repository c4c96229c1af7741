"""Faults: workers killed mid-cutout lose no job (Pub/Sub redelivers, results are idempotent)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from skycut.config import get_settings
from tests.integration.uws_client import create_job, phase_of, valid_xml, wait_until

pytestmark = pytest.mark.integration


def worker_children(stack) -> list[int]:
    """The gunicorn worker processes of cutout_worker (the master respawns them)."""
    master = stack.process("cutout_worker").pid
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                children.append(int(entry.name))
    return children


def test_jobs_complete_although_workers_are_killed_mid_cutout(base_url, http, stack):
    source = f"gs://{stack.config.sources_bucket}/sample/deepcoadd-i-0001.fits"
    jobs = [
        create_job(
            http, base_url, {"ID": source, "CIRCLE": f"150.1 {2.2 + i / 1e4} 0.02", "PHASE": "RUN"}
        )
        for i in range(100)
    ]
    kills = 0
    stop = threading.Event()

    def killer():
        nonlocal kills
        rng = random.Random(7)
        while not stop.wait(0.7):
            children = worker_children(stack)
            if children:
                os.kill(rng.choice(children), signal.SIGKILL)
                kills += 1

    thread = threading.Thread(target=killer)
    thread.start()
    time.sleep(12)
    stop.set()
    thread.join()
    assert kills >= 10
    phases = {
        job_url: phase_of(wait_until(http, job_url, {"COMPLETED", "ERROR", "ABORTED"}, seconds=240))
        for job_url in jobs
    }
    assert set(phases.values()) == {"COMPLETED"}, phases
    for job_url in jobs:
        results = http.get(f"{job_url}/results", timeout=30)
        assert results.text.count("<uws:result ") == 1, "one result each, however often run"


def test_a_job_whose_message_is_lost_completes_after_its_lease(base_url, http, stack):
    """A message published while the job subscription is gone is lost; the sweep recovers it."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    cfg = stack.config
    subscriber = pubsub_v1.SubscriberClient()
    subscriber.delete_subscription(
        subscription=subscriber.subscription_path(cfg.project_id, f"{cfg.job_topic}-push")
    )
    try:
        source = f"gs://{cfg.sources_bucket}/sample/deepcoadd-i-0001.fits"
        job_url = create_job(
            http, base_url, {"ID": source, "CIRCLE": "150.1 2.21 0.01", "PHASE": "RUN"}
        )
    finally:
        stack.create_messaging()
        subscriber.close()
    created = time.monotonic()
    time.sleep(2)
    assert phase_of(valid_xml(http.get(job_url, timeout=30))) == "QUEUED", "the message was lost"
    phase = phase_of(wait_until(http, job_url, {"COMPLETED", "ERROR"}, seconds=88))
    assert phase == "COMPLETED"
    # not before the lease ran out (less the time between creating the job and `created`)
    assert time.monotonic() - created >= get_settings().job_lease_seconds - 2
    assert http.get(f"{job_url}/results", timeout=30).text.count("<uws:result ") == 1
