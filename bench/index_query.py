"""Benchmark: SIA 2.0 point queries through the API while the image index grows to 20,000.

Describes the images of :mod:`bench.survey_layout` as the indexer does
(header-only FITS files through ``index_image``, in two processes, cached in
``.skycut/bench/``), starts a stack on free ports without the sample, and
grows its Firestore index with ``FirestoreImageIndex.put`` (16 threads; the
storage path is bypassed, as the issue allows) to each size in turn. The
query positions are fixed: 85% a random pixel of a random image of the full
layout, 15% uniform on the sphere. At each size it prints:

- **through the API**: ``POS=CIRCLE ra dec 1e-6`` to ``<base>/sia/query``,
  one at a time over one keep-alive HTTP session, every position twice
  (``--passes``): the first pass finds entries the API process has not
  decoded yet (its cache holds those of earlier sizes), the second finds
  them decoded; latency percentiles and rows returned; and ``MAXREC=0``
  queries, which read no candidate (HTTP, Flask, parsing, an empty VOTable);
- **in process, step by step**: the same positions with the API's functions
  over a new ``FirestoreImageIndex`` on the emulator (cold, then warm),
  timing the cell ids, the lookup (postings and entries read by id, or from
  the cache), the exact selection, the ObsCore rows and the VOTable; the
  candidates are checked against a dict of cell id -> documents built from
  the records stored (the postings written by 16 concurrent writers miss
  nothing), and the rows against what the API returned;
- at the end, one batch get of the most-covered cell's entries read whole
  and as their packed field only (what a point lookup reads), and what
  decoding one document costs with its vertices as an array of doubles and
  as one bytes value (as stored).

    uv run --frozen python -m bench.index_query [--sizes 2000,5000,10000,20000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench.survey_layout import CACHE, image_records, query_positions, survey_layout
from emulators.resources import client_environment
from emulators.stack import Stack, StackConfig
from skycut.index.cells import MAX_IDS, query_cells
from skycut.index.footprint import Footprint
from skycut.index.record import ImageRecord, document_id, entry_from_document
from skycut.index.region import region_polygon
from skycut.sia.obscore import obscore_row
from skycut.sia.params import SiaQuery, parse_sia_query
from skycut.sia.select import select_images
from skycut.sia.votable import sia_votable
from skycut.soda.params import group_params

_STATUS = re.compile(rb'name="QUERY_STATUS" value="(\w+)">(\d+) images')
STEPS = ("cells", "lookup", "select", "rows", "votable")
Postings = dict[int, list[str]]


@dataclass
class Profile:
    """In-process timings (seconds) of each step of the queries, and their sizes."""

    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    candidates: list[int] = field(default_factory=list)
    matches: list[int] = field(default_factory=list)


def _ms(values: Sequence[float] | np.ndarray, q: float) -> float:
    return 1000.0 * float(np.percentile(values, q))


def _percentiles(values: Sequence[float] | np.ndarray) -> str:
    return (
        f"p50 {_ms(values, 50):.1f} ms, p95 {_ms(values, 95):.1f} ms, "
        f"p99 {_ms(values, 99):.1f} ms, max {_ms(values, 100):.1f} ms"
    )


def _query(ra: float, dec: float) -> SiaQuery:
    return parse_sia_query(
        group_params([("POS", f"CIRCLE {ra!r} {dec!r} 1e-6")]),
        default_maxrec=1000,
        max_maxrec=10000,
    )


def _ids(query: SiaQuery) -> list[int]:
    return [i for region in query.pos for i in query_cells(region, max_ids=MAX_IDS).query_ids()]


def put_all(put: Callable[[ImageRecord], bool], records: Sequence[ImageRecord]) -> float:
    """Store records with 16 threads; return the seconds taken."""
    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        stored = sum(pool.map(put, records))
    if stored != len(records):
        raise SystemExit(f"only {stored} of {len(records)} records stored")
    return time.perf_counter() - start


def http_queries(
    session: requests.Session,
    url: str,
    positions: Sequence[tuple[float, float]],
    *,
    budget: float = float("inf"),
    minimum: int = 0,
    extra: dict[str, str] | None = None,
) -> tuple[list[float], list[int]]:
    """Send one SIA point query per position, in order; return latencies and rows returned.

    Stops once ``budget`` seconds have passed, after at least ``minimum`` queries.
    """
    latencies: list[float] = []
    rows: list[int] = []
    deadline = time.perf_counter() + budget
    for ra, dec in positions:
        if len(latencies) >= minimum and time.perf_counter() > deadline:
            break
        start = time.perf_counter()
        params = {"POS": f"CIRCLE {ra!r} {dec!r} 1e-6", **(extra or {})}
        response = session.get(url, params=params, timeout=600)
        latencies.append(time.perf_counter() - start)
        status = _STATUS.search(response.content)
        if response.status_code != 200 or status is None:
            raise SystemExit(f"query at {ra} {dec}: {response.status_code} {response.text[:500]}")
        rows.append(int(status.group(2)))
    return latencies, rows


def lookup(postings: Postings, ids: Sequence[int]) -> list[str]:
    """Document ids filed under any of ``ids``, each once (Firestore's ``array_contains_any``)."""
    return sorted({doc for i in ids for doc in postings.get(i, ())})


def profile_queries(
    index: Any,
    postings: Postings,
    base_url: str,
    positions: Sequence[tuple[float, float]],
) -> Profile:
    """Make the API's query in this process, timing each step; check the candidates."""
    from skycut.index.search import candidates

    profile = Profile()
    for ra, dec in positions:
        t = [time.perf_counter()]
        query = _query(ra, dec)
        ids = _ids(query)
        t.append(time.perf_counter())
        records = [r for region in query.pos for r in candidates(index, region)]
        t.append(time.perf_counter())
        selection = select_images(query, records)
        t.append(time.perf_counter())
        rows = [obscore_row(r, base_url=base_url) for r in selection.records]
        t.append(time.perf_counter())
        sia_votable(rows, overflow=selection.overflow, base_url=base_url)
        t.append(time.perf_counter())
        for name, start, stop in zip(STEPS, t[:-1], t[1:], strict=True):
            profile.steps[name].append(stop - start)
        profile.candidates.append(len(records))
        profile.matches.append(len(selection.records))
        if {document_id(r.source) for r in records} != set(lookup(postings, ids)):
            raise SystemExit(f"at {ra} {dec} the postings name other images than were stored")
    return profile


def _by_rows(latencies: np.ndarray, rows: np.ndarray) -> str:
    parts = []
    for lo, hi in ((0, 0), (1, 10), (11, 50), (51, 200), (201, 10**9)):
        mask = (rows >= lo) & (rows <= hi)
        if mask.any():
            label = f"{lo}" if lo == hi else (f"{lo}-{hi}" if hi < 10**9 else f">{lo - 1}")
            parts.append(f"{label} rows: n={int(mask.sum())} p50 {_ms(latencies[mask], 50):.0f} ms")
    return "; ".join(parts)


def report_http(latencies: list[float], rows: list[int], on: np.ndarray, label: str) -> None:
    """Print the figures of the queries through the API."""
    got = np.array(rows)
    print(f"  through the API, {label}, {len(latencies)} queries: {_percentiles(latencies)}")
    print(
        f"    rows: mean {got.mean():.1f}, median {np.median(got):.0f}, max {got.max()}; "
        f"by rows returned: {_by_rows(np.array(latencies), got)}"
    )
    print(f"    positions drawn on an image with no row: {int(((got == 0) & on).sum())}")


def report_profile(profile: Profile, fixed: float, label: str) -> None:
    """Print the API's own work, step by step."""
    steps = {s: np.array(profile.steps[s]) for s in STEPS}
    total = np.sum(list(steps.values()), axis=0) + fixed
    matches, candidates = np.array(profile.matches), np.array(profile.candidates)
    print(
        f"  in process, {label}, {len(total)} queries (MAXREC=0 HTTP time "
        f"{1000 * fixed:.1f} ms + steps): {_percentiles(total)}"
    )
    print(
        f"    candidates mean {candidates.mean():.1f} (max {candidates.max()}), matches mean "
        f"{matches.mean():.1f} (median {np.median(matches):.0f}, p99 "
        f"{np.percentile(matches, 99):.0f}, max {matches.max()}); matches/candidates "
        f"{matches.sum() / max(1, candidates.sum()):.2f}"
    )
    print(f"    by rows returned: {_by_rows(total, matches)}")
    grand = float(total.sum())
    print(
        "    step p50 / p99 ms (share of all time): "
        + "; ".join(
            f"{s} {_ms(v, 50):.1f} / {_ms(v, 99):.1f} ({100 * float(v.sum()) / grand:.0f}%)"
            for s, v in steps.items()
        )
    )
    fits = []
    for name in STEPS[1:]:
        per_row = name in ("rows", "votable")
        x = (matches if per_row else candidates).astype(float)
        if np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, steps[name] * 1000, 1)
            fits.append(f"{name} {intercept:.2f} + {slope:.3f}/{'row' if per_row else 'cand.'}")
    print("    least squares, ms: " + "; ".join(fits))


def document_costs(records: Sequence[ImageRecord], client: Any) -> None:
    """Print what a document costs to decode and to turn into a row, and the alternatives.

    The Firestore client turns every array element into a Python value one by one
    (a footprint's vertices are ~290 doubles); packed as bytes they are one value.
    ``s_region`` (``region_polygon``) is computed once, when the image is indexed.
    """
    from google.cloud.firestore_v1 import _helpers

    documents = [r.to_document() for r in records[:300]]
    packed = [_helpers.encode_dict(d) for d in documents]
    encoded = []
    for r, d in zip(records, documents, strict=False):
        flat = [c for v in r.footprint.vertices for c in v]  # the form stored before
        encoded.append(
            _helpers.encode_dict({**d, "footprint": {**d["footprint"], "vertices": flat}})
        )

    def per_doc(fn: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return 1000.0 * best / len(documents)

    def unpack(fields: Any) -> np.ndarray:
        decoded: Any = _helpers.decode_dict(fields, client)
        return np.frombuffer(decoded["footprint"]["vertices"], dtype="<f8")

    as_list = per_doc(lambda: [_helpers.decode_dict(e, client) for e in encoded])
    as_bytes = per_doc(lambda: [unpack(e) for e in packed])
    rebuild = per_doc(lambda: [entry_from_document(d) for d in documents])
    footprints = [d["footprint"] for d in documents]
    outline = per_doc(lambda: [Footprint.from_dict(f) for f in footprints])
    sample = records[: len(documents)]
    row = per_doc(lambda: [obscore_row(r, base_url="http://x") for r in sample])
    region = per_doc(lambda: [region_polygon(r.footprint) for r in sample])
    values = statistics.median(2 * len(r.footprint.vertices) for r in records[:300])
    print(
        f"\nper document ({len(documents)} documents, median {values:.0f} vertex values): "
        f"protobuf -> dict {as_list:.3f} ms with the vertices an array of doubles, "
        f"{as_bytes:.3f} ms as one bytes value; entry_from_document {rebuild:.3f} ms, of which "
        f"Footprint.from_dict {outline:.3f} ms; obscore_row {row:.3f} ms; "
        f"region_polygon (s_region, at indexing) {region:.3f} ms"
    )


def run(
    stack: Stack,
    records: Sequence[ImageRecord],
    sizes: Sequence[int],
    positions: tuple[np.ndarray, np.ndarray, np.ndarray],
    args: argparse.Namespace,
) -> None:
    """Grow the index to each size and measure there."""
    from google.cloud import firestore

    from skycut.index.firestore_index import FirestoreImageIndex

    ra, dec, on = positions
    where = list(zip(ra.tolist(), dec.tolist(), strict=True))
    config = stack.config
    client = firestore.Client(project=config.project_id)
    index = FirestoreImageIndex(client=client, collection=config.images_collection)
    url = f"{config.base_url}/sia/query"
    postings: defaultdict[int, list[str]] = defaultdict(list)
    held = 0
    with requests.Session() as session:
        http_queries(session, url, where[:20])  # the API builds its clients
        for size in sizes:
            seconds = put_all(index.put, records[held:size])
            for record in records[held:size]:
                for cell in record.cells:
                    postings[cell].append(document_id(record.source))
            print(
                f"\n{size} images: {size - held} stored in {seconds:.1f} s "
                f"({(size - held) / seconds:.0f}/s); load average {os.getloadavg()[0]:.2f}"
            )
            held = size
            fixed, _ = http_queries(session, url, where[:50], extra={"MAXREC": "0"})
            print(f"  MAXREC=0 through the API (no index read): p50 {_ms(fixed, 50):.1f} ms")
            served: list[int] = []
            for n in range(args.passes):
                label = "first pass" if n == 0 else f"pass {n + 1} (entries decoded)"
                latencies, rows = http_queries(
                    session, url, where, budget=args.budget, minimum=args.minimum
                )
                report_http(latencies, rows, on[: len(rows)], label)
                served = served or rows
            fresh = FirestoreImageIndex(client=client, collection=config.images_collection)
            for label in ("cold: a new index object, nothing decoded", "warm"):
                profile = profile_queries(fresh, postings, config.base_url, where)
                if profile.matches[: len(served)] != served:
                    raise SystemExit("the in-process queries found other images than the API")
                report_profile(profile, statistics.median(fixed), label)
            print(f"  load average {os.getloadavg()}")
        batch_read_costs(client, config.images_collection, postings)
    document_costs(records, client)


def batch_read_costs(client: Any, collection: str, postings: Postings) -> None:
    """Print what one batch get of the most-covered cell's entries costs: whole, and packed.

    The cold lookup of a deep-drilling position reads every entry its
    postings name; a point lookup asks for the ``packed`` field only (the
    whole record as one value). Both ways, alternating, decoding included.
    """
    from skycut.index.record import PACKED, entry_from_document, unpack_record

    ids = max(postings.values(), key=len)
    refs = [client.collection(collection).document(i) for i in dict.fromkeys(ids)]
    whole: list[float] = []
    packed: list[float] = []
    for _ in range(11):
        start = time.perf_counter()
        records = [entry_from_document(s.to_dict() or {}) for s in client.get_all(refs)]
        whole.append(time.perf_counter() - start)
        start = time.perf_counter()
        same = [unpack_record(s.get(PACKED)) for s in client.get_all(refs, field_paths=[PACKED])]
        packed.append(time.perf_counter() - start)
        if {r.source for r in same} != {r.source for r in records if r is not None}:
            raise SystemExit("the packed entries are not the whole ones")
    print(
        f"\none batch get of the {len(refs)} entries of the most-covered cell, decoded "
        f"(median of 11, load {os.getloadavg()[0]:.1f}): whole documents "
        f"{1000 * statistics.median(whole):.1f} ms, packed field only "
        f"{1000 * statistics.median(packed):.1f} ms"
    )


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,5000,10000,20000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument(
        "--budget", type=float, default=240.0, help="seconds of API queries per pass"
    )
    parser.add_argument("--minimum", type=int, default=30, help="API queries per pass at least")
    parser.add_argument("--passes", type=int, default=2, help="passes over the positions")
    parser.add_argument("--jobs", type=int, default=2, help="processes describing images")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--costs-only", action="store_true", help="only the per-document costs (no stack)"
    )
    args = parser.parse_args()
    # a stopped run stops its stack (finally blocks run on SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as state:
        config = StackConfig.on_free_ports(Path(state), load_sample=False)
        images = survey_layout(sizes[-1], seed=args.seed)
        start = time.perf_counter()
        records = image_records(images, bucket=config.sources_bucket, jobs=args.jobs, cache=CACHE)
        print(
            f"{len(records)} images described in {time.perf_counter() - start:.0f} s "
            f"(cached in {CACHE} after once); cells per image: median "
            f"{statistics.median(len(r.cells) for r in records):.0f}, vertices per footprint: "
            f"median {statistics.median(len(r.footprint.vertices) for r in records):.0f}"
        )
        if args.costs_only:
            from google.cloud import firestore

            with client_environment(config.client_env()):  # no request is made
                document_costs(records, firestore.Client(project=config.project_id))
            return
        positions = query_positions(images, args.queries, off_fraction=0.15, seed=args.seed + 1)
        stack = Stack(config)
        stack.start()
        try:
            with client_environment(config.client_env()):
                run(stack, records, sizes, positions, args)
        finally:
            stack.stop()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
