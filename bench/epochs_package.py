"""Benchmark: every epoch of one object (DMS-REQ-0375), from submission to COMPLETED.

Starts its own stack on free ports (no sample), writes ``--epochs`` (200)
calexp-like exposures of one field into the sources bucket (primary header
with ``MJD-OBS``/``FILTER``/``EXPTIME``, ``IMAGE``/``MASK``/``VARIANCE``
planes of 512², TAN-SIP, each pointing dithered by up to 20" and rotated by up
to 2°, so every one covers the target) and waits until the index function
has indexed them all through the real event path. A warm-up job on two other
images starts the functions' processes, as a deployment's instances would
be running. Then it POSTs a bulk file of one row without ``id`` (a 51x51
stamp at the target, ``package=epochs``) to ``{async}`` and long-polls the
job until COMPLETED: the clock runs from the POST to the phase change, so it
includes finding the images in the index, fanning out the cutouts, cutting,
recording and writing the epochs MEF and filmstrip. It checks the package
(one HDU per epoch, in time order) and prints the range requests each stamp
made (from the worker's own counts). The first job touches every image for
the first time; a second job on the same images follows.

    uv run --frozen python -m bench.epochs_package [--epochs 200]
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
from astropy.io import fits
from lxml import etree

from bench.bulk_stamps import _group_cpu_seconds
from bench.exposures import calexp_mef, tan_sip_header
from emulators.resources import client_environment
from emulators.sample import wait_until_indexed
from emulators.stack import REPO, Stack, StackConfig

_SIZE = 512
_SCALE = 0.2 / 3600  # degrees per pixel
_TARGET = (30.0, -10.0)
_ELSEWHERE = (60.0, 20.0)
_STAMP_RADIUS = 25.5 * _SCALE  # a 51x51 box
_BANDS = "griz"
_UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"


def _exposure(number: int, centre: tuple[float, float], mjd: float) -> bytes:
    rng = np.random.default_rng(number)
    dither = rng.uniform(-20, 20, 2) / 3600
    angle = math.radians(rng.uniform(-2, 2))
    ra = centre[0] + dither[0] / math.cos(math.radians(centre[1]))
    dec = centre[1] + dither[1]
    c, s = math.cos(angle), math.sin(angle)
    header = tan_sip_header(
        (ra, dec),
        (_SIZE / 2 + 0.5, _SIZE / 2 + 0.5),
        [[-_SCALE * c, _SCALE * s], [_SCALE * s, _SCALE * c]],
    )
    cards = {"FILTER": _BANDS[number % len(_BANDS)], "MJD-OBS": mjd, "EXPTIME": 30.0}
    data = rng.normal(100.0, 5.0, (_SIZE, _SIZE)).astype(np.float32)
    return calexp_mef(header, data, primary_cards=cards)


def _upload(stack: Stack, files: dict[str, bytes]) -> list[str]:
    from google.cloud import storage  # type: ignore[attr-defined]

    cfg = stack.config
    bucket = storage.Client(project=cfg.project_id).bucket(cfg.sources_bucket)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: bucket.blob(item[0]).upload_from_string(item[1]), files.items()))
    ids = [f"gs://{cfg.sources_bucket}/{name}" for name in files]
    wait_until_indexed(
        stack.config.client_env(), ids, collection=cfg.images_collection, timeout=900
    )
    return ids


def _submit_and_wait(base_url: str, ra: float, dec: float, label: str) -> tuple[str, float]:
    """POST one id-less row with package=epochs; return the job URL and seconds to COMPLETED."""
    http = requests.Session()
    rows = f"ra,dec,radius,label\n{ra},{dec},{_STAMP_RADIUS},{label}\n"
    t0 = time.perf_counter()
    created = http.post(
        f"{base_url}/async",
        files={"BULK": (f"{label}.csv", rows.encode(), "text/csv")},
        data={"package": "epochs"},
        allow_redirects=False,
        timeout=60,
    )
    if created.status_code != 303:
        raise SystemExit(f"submission refused: {created.status_code} {created.text}")
    job_url = created.headers["Location"]
    posted = time.perf_counter() - t0
    phase = ""
    while phase not in ("COMPLETED", "ERROR", "ABORTED"):
        params = {"WAIT": "30", "PHASE": phase} if phase else {}
        doc = http.get(job_url, params=params, timeout=60)
        phase = etree.fromstring(doc.content).findtext(f"{_UWS}phase") or ""
    seconds = time.perf_counter() - t0
    if phase != "COMPLETED":
        raise SystemExit(f"job {job_url} ended {phase}")
    root = etree.fromstring(doc.content)
    times = {k: root.findtext(f"{_UWS}{k}") for k in ("creationTime", "startTime", "endTime")}
    print(f"  {label}: POST answered in {posted:.2f} s; job times {times}")
    return job_url, seconds


def _check_package(job_url: str, epochs: int) -> None:
    results = requests.get(f"{job_url}/results/epochs-000002", timeout=60)
    with fits.open(io.BytesIO(results.content)) as hdul:
        mjds = [h.header["MJD-OBS"] for h in hdul[1:]]
        shapes = {h.data.shape for h in hdul[1:]}
    if len(mjds) != epochs or mjds != sorted(mjds):
        raise SystemExit(f"the package has {len(mjds)} stamps, not {epochs} in time order")
    print(f"  package: {len(mjds)} HDUs in time order, stamp shapes {sorted(shapes)}")


def _reads(stack: Stack, job_url: str) -> list[tuple[int, int]]:
    from google.cloud import firestore

    db = firestore.Client(project=stack.config.project_id)
    job_id = job_url.rsplit("/", 1)[-1]
    return [
        (int(d.get("requests")), int(d.get("bytes_read")))
        for d in db.collection("skycut-jobs").document(job_id).collection("results").stream()
        if d.get("index") >= 0
    ]


def run(stack: Stack, epochs: int) -> None:
    """Upload the exposures, warm up, time two jobs, report."""
    print(f"writing and indexing {epochs} exposures of 512² (MEF, TAN-SIP)...")
    files = {
        f"bench/calexp-{_BANDS[k % 4]}-e{k:03d}.fits": _exposure(k, _TARGET, 61000.0 + 1.7 * k)
        for k in range(epochs)
    }
    files |= {
        f"bench/warm-{k}.fits": _exposure(1000 + k, _ELSEWHERE, 60000.0 + k) for k in range(2)
    }
    t0 = time.perf_counter()
    _upload(stack, files)
    print(f"  uploaded and indexed in {time.perf_counter() - t0:.1f} s")
    base_url = stack.config.base_url
    _submit_and_wait(base_url, *_ELSEWHERE, "warm-up")
    for run_name in ("first touch of every image", "same images again"):
        cpu_before = {p.name: _group_cpu_seconds(p.pid) for p in stack.processes if p.pid}
        job_url, seconds = _submit_and_wait(base_url, *_TARGET, run_name.replace(" ", "-"))
        cpu = {
            name: _group_cpu_seconds(p.pid) - cpu_before[name]
            for p in stack.processes
            if p.pid and (name := p.name) in cpu_before
        }
        reads = _reads(stack, job_url)
        requests_per = [r for r, _ in reads]
        bytes_per = [b for _, b in reads]
        print(f"{run_name}: {len(reads)} stamps, submission to COMPLETED {seconds:.2f} s")
        print(
            f"  range requests per stamp: max {max(requests_per)}, mean "
            f"{statistics.mean(requests_per):.2f}; bytes per stamp: median "
            f"{statistics.median(bytes_per) / 1024:.1f} KiB"
        )
        print("  CPU seconds used meanwhile: " + ", ".join(f"{n} {c:.1f}" for n, c in cpu.items()))
        _check_package(job_url, epochs)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="keep the stack's state (its logs) here")
    parser.add_argument(
        "--cutout-concurrency", type=int, help="override SKYCUT_CUTOUT_CONCURRENCY for this run"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        state = args.keep or Path(scratch)
        extra = (
            {"SKYCUT_CUTOUT_CONCURRENCY": str(args.cutout_concurrency)}
            if args.cutout_concurrency
            else {}
        )
        config = StackConfig.on_free_ports(
            state, load_sample=False, sample_dir=REPO / ".skycut" / "sample", extra_env=extra
        )
        stack = Stack(config)
        stack.start()
        try:
            with client_environment(config.client_env()):
                run(stack, args.epochs)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
