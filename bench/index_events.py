"""Benchmark: indexing through the real event path, and what the indexer reads per file.

Starts a stack on free ports without the sample, adds a pull subscription to
the storage events topic (to replay the very events the function received),
and uploads ``--files`` small FITS files to the sources bucket with
google-cloud-storage (8 threads): MEFs like the sample's (primary,
``IMAGE``/``MASK``/``VARIANCE`` planes of 256², TAN-SIP), single-HDU images,
RICE_1 tile-compressed MEFs, and MEFs whose primary header is ~90 KiB (1,100
``HISTORY`` cards, more than the indexer's 64 KiB first read). Each file is
uploaded as the fake-gcs-server event path delivers it in production:
object finalize -> Pub/Sub -> push to ``image_index``. It polls
``FirestoreImageIndex.stored`` until every file is indexed and prints images/s
and each file's upload-to-indexed delay.

Then it feeds the same finalize events to an in-process ``Indexer`` whose
readers are ``CountingReader(GcsRangeReader(..., size from the event))``
over the same objects, and prints range requests, bytes and metadata
requests per file, against the target of at most 2 requests and 64 KiB plus
one 2880-byte header block per HDU read.

    uv run --frozen python -m bench.index_events [--files 200]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from bench.survey_layout import BytesReader
from emulators.resources import client_environment
from emulators.stack import Stack, StackConfig
from skycut.cutout.fitsindex import BLOCK_SIZE, named_image, scan_fits, select_image_hdu
from skycut.cutout.reader import CountingReader, RangeReader, ReadStats
from skycut.cutout.tilelayout import compressed_image_header
from skycut.index.cells import footprint_cells
from skycut.index.firestore_index import FirestoreImageIndex
from skycut.index.footprint import image_footprint
from skycut.index.indexer import Indexer, metadata_config
from skycut.index.memory_index import MemoryImageIndex
from skycut.index.metadata import image_metadata
from skycut.index.record import ImageRecord, IndexEntry
from skycut.index.store import ImageIndex, Stored
from skycut.sample.exposures import Exposure
from skycut.sample.fits_files import rice_compressed
from skycut.sample.headers import PLANES, extension_header, primary_header
from skycut.sample.tan_sip import tan_sip_header
from skycut.soda.ids import SourceRef
from skycut.storage.events import ObjectEvent, object_event

_SIZE = 256
_PIXSCALE = 0.2  # arcsec
_CHUNK = 65536  # the indexer's first read (settings.index_chunk_bytes)
KINDS = ("mef", "single", "compressed", "long-header")


@dataclass(frozen=True)
class BenchFile:
    """One uploaded file."""

    name: str
    kind: str
    data: bytes
    hdus_read: int  # headers the indexer must read to find its image
    header_bytes: int  # bytes from the start of the file to the end of the image's header


def _planes(rng: np.random.Generator) -> dict[str, np.ndarray]:
    image = rng.normal(100.0, 5.0, (_SIZE, _SIZE)).astype(np.float32)
    return {
        "IMAGE": image,
        "MASK": (rng.uniform(size=(_SIZE, _SIZE)) < 0.01).astype(np.int32),
        "VARIANCE": np.full((_SIZE, _SIZE), 25.0, np.float32),
    }


def make_file(number: int, kind: str) -> BenchFile:
    """Build one FITS file of ``kind`` (see the module) in memory."""
    rng = np.random.default_rng(number)
    exposure = Exposure(
        name=f"bench-{number:04d}.fits",
        crval=(53.1 + rng.uniform(-1, 1), -27.8 + rng.uniform(-1, 1)),
        rotation=float(rng.uniform(-5, 5)),
        band=str(rng.choice(list("griz"))),
        mjd=61000.0 + float(rng.uniform(0, 365)),
        sky=500.0,
        seeing=0.8,
        size=2048,
    )
    wcs = tan_sip_header(exposure, size=_SIZE, pixscale=_PIXSCALE, rng=rng)
    primary = primary_header(exposure, seed=number, pixscale=_PIXSCALE)
    planes = _planes(rng)
    hdus: list[Any]
    if kind == "single":
        header = primary.copy()
        header.extend(wcs)
        hdus = [fits.PrimaryHDU(planes["IMAGE"], header=header)]
    elif kind == "compressed":
        hdus = [fits.PrimaryHDU(header=primary)] + [
            rice_compressed(planes[p], extension_header(wcs, p), p, dither_seed=1 + number % 10000)
            for p in PLANES
        ]
    else:
        if kind == "long-header":
            for k in range(1100):
                primary.add_history(
                    f"processing step {k:04d}: a provenance record as pipelines write"
                )
        hdus = [fits.PrimaryHDU(header=primary)] + [
            fits.ImageHDU(planes[p], header=extension_header(wcs, p), name=p) for p in PLANES
        ]
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    data = buffer.getvalue()
    index = scan_fits(BytesReader(exposure.name, data), stop_after=named_image, chunk_size=1 << 30)
    return BenchFile(
        name=f"bench/{kind}/{exposure.name}",
        kind=kind,
        data=data,
        hdus_read=len(index.hdus),
        header_bytes=select_image_hdu(index).data_offset,
    )


def make_files(count: int) -> list[BenchFile]:
    """Make ``count`` files: 45% MEF, 25% single-HDU, 25% compressed, 5% long-header."""
    shares = {"mef": 0.45, "single": 0.25, "compressed": 0.25}
    kinds = [k for k, share in shares.items() for _ in range(round(share * count))]
    kinds += ["long-header"] * (count - len(kinds))
    rng = np.random.default_rng(0)
    return [make_file(n, kind) for n, kind in enumerate(rng.permutation(kinds).tolist())]


def upload_and_wait(
    stack: Stack, files: list[BenchFile], *, timeout: float = 600.0
) -> dict[str, tuple[float, float]]:
    """Upload every file (8 threads) and poll the index until all are there.

    Returns
    -------
    dict
        File name -> (seconds from the first upload to its upload's end, to it indexed).

    """
    from google.cloud import firestore, storage  # type: ignore[attr-defined]

    config = stack.config
    bucket = storage.Client(project=config.project_id).bucket(config.sources_bucket)
    index = FirestoreImageIndex(
        client=firestore.Client(project=config.project_id), collection=config.images_collection
    )
    uploaded: dict[str, float] = {}
    indexed: dict[str, float] = {}
    t0 = time.perf_counter()

    def upload(file: BenchFile) -> None:
        bucket.blob(file.name).upload_from_string(file.data, content_type="application/fits")
        uploaded[file.name] = time.perf_counter() - t0

    with ThreadPoolExecutor(8) as uploads, ThreadPoolExecutor(8) as polls:
        pending = [uploads.submit(upload, f) for f in files]
        sources = {f.name: SourceRef(config.sources_bucket, f.name) for f in files}
        while len(indexed) < len(files):
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"only {len(indexed)} of {len(files)} indexed after {timeout} s")
            missing = [n for n in uploaded if n not in indexed]
            for name, stored in zip(
                missing, polls.map(index.stored, [sources[n] for n in missing]), strict=True
            ):
                if stored is not None:
                    indexed[name] = time.perf_counter() - t0
            time.sleep(0.05)
        for future in pending:
            future.result()
    for f in files:
        entry = index.get(sources[f.name])
        if not isinstance(entry, ImageRecord):
            raise SystemExit(f"{f.name} was not indexed as an image: {entry}")
    return {n: (uploaded[n], indexed[n]) for n in uploaded}


def pull_events(stack: Stack, subscription: str, expected: int) -> list[ObjectEvent]:
    """Pull the storage events as the function received them (a push body each)."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    subscriber = pubsub_v1.SubscriberClient()
    events: list[ObjectEvent] = []
    deadline = time.monotonic() + 60
    while len(events) < expected and time.monotonic() < deadline:
        response = subscriber.pull(
            request={"subscription": subscription, "max_messages": 500}, timeout=10
        )
        if not response.received_messages:
            continue
        for received in response.received_messages:
            message = received.message
            push_body = {
                "message": {
                    "attributes": dict(message.attributes),
                    "data": base64.b64encode(message.data).decode("ascii"),
                }
            }
            event = object_event("google.cloud.pubsub.topic.v1.messagePublished", push_body)
            if event is not None and event.kind == "finalize":
                events.append(event)
        subscriber.acknowledge(
            request={
                "subscription": subscription,
                "ack_ids": [r.ack_id for r in response.received_messages],
            }
        )
    subscriber.close()
    return events


class MetadataCountingReader(CountingReader):
    """Counts range requests and bytes, and ``size()`` calls that ask the storage."""

    def __init__(self, inner: RangeReader, *, size_known: bool) -> None:
        super().__init__(inner, ReadStats())
        self.size_known = size_known
        self.metadata_requests = 0

    def size(self) -> int:
        """Return the object's size; without one from the event this is a request."""
        if not self.size_known:
            self.metadata_requests += 1
        return super().size()


def replay(
    stack: Stack, events: list[ObjectEvent], index: ImageIndex, *, threads: int = 1
) -> dict[str, tuple[int, int, int]]:
    """Index the events' objects in process, counting reads: name -> (requests, bytes, metadata)."""
    from google.cloud import storage  # type: ignore[attr-defined]

    from skycut.storage.gcs import GcsRangeReader

    client = storage.Client(project=stack.config.project_id)
    readers: dict[str, MetadataCountingReader] = {}

    def open_reader(source: SourceRef, generation: int, size: int | None) -> RangeReader:
        inner = GcsRangeReader(client=client, source=source, generation=generation, size=size)
        reader = MetadataCountingReader(inner, size_known=size is not None)
        readers[source.name] = reader
        return reader

    indexer = Indexer(
        index=index,
        open_reader=open_reader,
        buckets={stack.config.sources_bucket},
        config=metadata_config({}, []),
        chunk_size=_CHUNK,
    )
    with ThreadPoolExecutor(threads) as pool:
        for event, outcome in zip(events, pool.map(indexer.handle, events), strict=True):
            if outcome != "indexed":
                raise SystemExit(f"{event.name}: {outcome}")
    return {
        name: (r.stats.requests, r.stats.bytes, r.metadata_requests) for name, r in readers.items()
    }


def local_steps(files: list[BenchFile]) -> None:
    """Print the median time of each step of describing a file, from bytes in memory."""
    times: dict[str, list[float]] = {k: [] for k in ("headers", "footprint", "metadata", "cells")}
    for f in files:
        t = [time.perf_counter()]
        scanned = scan_fits(BytesReader(f.name, f.data), stop_after=named_image, chunk_size=_CHUNK)
        hdu = select_image_hdu(scanned)
        header = compressed_image_header(hdu) if hdu.is_compressed else hdu.header
        inherited = [scanned.hdus[0].header] if hdu.index > 0 else []
        t.append(time.perf_counter())
        footprint = image_footprint(header, source=f.name)
        t.append(time.perf_counter())
        image_metadata(header, uri=f.name, inherited=inherited)
        t.append(time.perf_counter())
        footprint_cells(footprint).index_ids()
        t.append(time.perf_counter())
        for name, start, stop in zip(times, t[:-1], t[1:], strict=True):
            times[name].append(stop - start)
    print(
        "  describing a file from memory, median ms: "
        + "; ".join(f"{k} {1000 * statistics.median(v):.1f}" for k, v in times.items())
    )


class TimedIndex(FirestoreImageIndex):
    """A Firestore index that times its version reads and its transactional writes."""

    def __init__(self, *, client: Any, collection: str) -> None:
        super().__init__(client=client, collection=collection)
        self.times: dict[str, list[float]] = {"stored": [], "put": []}

    def stored(self, source: SourceRef) -> Stored | None:
        """Return the version held for an object, timed."""
        start = time.perf_counter()
        try:
            return super().stored(source)
        finally:
            self.times["stored"].append(time.perf_counter() - start)

    def put(self, entry: IndexEntry) -> bool:
        """Store an entry (one transaction), timed."""
        start = time.perf_counter()
        try:
            return super().put(entry)
        finally:
            self.times["put"].append(time.perf_counter() - start)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    # a stopped run stops its stack (finally blocks run on SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    print(f"load average before: {os.getloadavg()}")
    files = make_files(args.files)
    sizes = {k: [len(f.data) for f in files if f.kind == k] for k in KINDS}
    print(
        f"{len(files)} files, {sum(len(f.data) for f in files) / 2**20:.0f} MiB: "
        + ", ".join(
            f"{len(v)} {k} (~{statistics.median(v) / 1024:.0f} KiB)" for k, v in sizes.items() if v
        )
    )
    with tempfile.TemporaryDirectory() as state:
        config = StackConfig.on_free_ports(Path(state), load_sample=False)
        stack = Stack(config)
        stack.start()
        try:
            with client_environment(config.client_env()):
                run(stack, files)
        finally:
            stack.stop()
    print(f"load average after: {os.getloadavg()}")


def run(stack: Stack, files: list[BenchFile]) -> None:
    """Upload, wait, report; then replay the events in process and count the reads."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    config = stack.config
    subscriber = pubsub_v1.SubscriberClient()
    subscription = subscriber.subscription_path(config.project_id, "bench-replay")
    subscriber.create_subscription(
        request={
            "name": subscription,
            "topic": f"projects/{config.project_id}/topics/{config.storage_topic}",
            "ack_deadline_seconds": 60,
        }
    )
    subscriber.close()
    times = upload_and_wait(stack, files)
    last_upload = max(u for u, _ in times.values())
    last_indexed = max(i for _, i in times.values())
    delays = sorted(i - u for u, i in times.values())
    print(
        f"\nthrough the event path: {len(files)} files uploaded in {last_upload:.1f} s, all "
        f"indexed {last_indexed:.1f} s after the first upload began: "
        f"{len(files) / last_indexed:.1f} images/s"
    )
    print(
        f"  upload end -> indexed (polled every ~0.05 s): p50 {statistics.median(delays):.2f} s, "
        f"p95 {delays[int(0.95 * (len(delays) - 1))]:.2f} s, max {delays[-1]:.2f} s"
    )
    outcomes: dict[str, int] = {}
    applied = []
    for line in (config.state_dir / "logs" / "image_index.log").read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("message") == "object event applied":
                outcomes[entry["outcome"]] = outcomes.get(entry["outcome"], 0) + 1
                applied.append(datetime.fromisoformat(entry["time"]).timestamp())
    applied.sort()
    print(
        f"  image_index's log, events applied by outcome: {outcomes}; from the first to the "
        f"last: {(len(applied) - 1) / (applied[-1] - applied[0]):.1f} images/s"
    )

    events = pull_events(stack, subscription, len(files))
    with_size = sum(e.size is not None for e in events)
    print(f"\nreplayed in process: {len(events)} finalize events, {with_size} carrying the size")
    start = time.perf_counter()
    reads = replay(stack, events, MemoryImageIndex())
    elapsed = time.perf_counter() - start
    print(
        f"  Indexer.handle in process, one at a time, MemoryImageIndex: "
        f"{1000 * elapsed / len(events):.1f} ms per file"
    )
    from google.cloud import firestore

    client = firestore.Client(project=config.project_id)
    for threads in (1, 2, 8):
        store = TimedIndex(client=client, collection=f"bench-replay-{threads}")
        store_start = time.perf_counter()
        replay(stack, events, store, threads=threads)
        seconds = time.perf_counter() - store_start
        print(
            f"  ... with a FirestoreImageIndex on the emulator, {threads} at once: "
            f"{len(events) / seconds:.1f} images/s; median ms: version read (wants) "
            f"{1000 * statistics.median(store.times['stored']):.1f}, transactional put "
            f"{1000 * statistics.median(store.times['put']):.1f}"
        )
    local_steps(files)
    by_name = {f.name: f for f in files}
    failing = 0
    for kind in KINDS:
        rows = [(by_name[n], r) for n, r in reads.items() if by_name[n].kind == kind]
        if not rows:
            continue
        requests = [r[0] for _, r in rows]
        nbytes = [r[1] for _, r in rows]
        meta = sum(r[2] for _, r in rows)
        budgets = [_CHUNK + BLOCK_SIZE * f.hdus_read for f, _ in rows]
        over = sum(r[0] > 2 or r[1] > b for (_, r), b in zip(rows, budgets, strict=True))
        failing += over
        needed = max(f.header_bytes for f, _ in rows)
        print(
            f"  {kind}: {len(rows)} files, headers read to the image: {rows[0][0].hdus_read} "
            f"({needed / 1024:.1f} KiB to the end of the image's header); "
            f"range requests {min(requests)}-{max(requests)}, bytes "
            f"{min(nbytes) / 1024:.1f}-{max(nbytes) / 1024:.1f} KiB (budget "
            f"{max(budgets) / 1024:.1f} KiB), metadata requests {meta}; over the target: {over}"
        )
    print(f"  files over the target (> 2 requests or > 64 KiB + 2880 B per HDU read): {failing}")


if __name__ == "__main__":
    main()
