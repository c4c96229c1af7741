"""Benchmark: filing 20,000 footprints under HEALPix cells and looking up positions.

Everything stays in memory: footprints of 4k x 4k TAN images of 0.2"/pixel
(as calexps) spread over a 20° x 20° field around RA = 0, their cells
(``footprint_cells``), an inverted index id → images standing in for
Firestore's ``array-contains-any``, then point lookups (``point_ids``,
the index, the exact ``contains``). A few hundred footprints are also
computed from SIP headers, the indexer's own per-image cost.

    .venv/bin/python -m bench.index_cells [--images 20000] [--points 10000]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import defaultdict

import numpy as np
from astropy.io import fits

from skycut.index.cells import footprint_cells, point_ids
from skycut.index.footprint import Footprint, image_footprint

_SIZE = 4096
_SCALE = 0.2 / 3600


def _header(ra: float, dec: float, rotation: float) -> fits.Header:
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    header = fits.Header()
    header.update(
        NAXIS=2, NAXIS1=_SIZE, NAXIS2=_SIZE, CTYPE1="RA---TAN-SIP", CTYPE2="DEC--TAN-SIP",
        CRVAL1=ra, CRVAL2=dec, CRPIX1=_SIZE / 2 + 0.5, CRPIX2=_SIZE / 2 + 0.5,
        CD1_1=-_SCALE * c, CD1_2=_SCALE * s, CD2_1=_SCALE * s, CD2_2=_SCALE * c,
        A_ORDER=2, B_ORDER=2, A_2_0=1e-7, A_0_2=-1e-7, B_1_1=1e-7,
    )  # fmt: skip
    return header


def _quick_footprint(ra: float, dec: float, rotation: float) -> Footprint:
    """Build a TAN footprint from its corners (exact for TAN), without a WCS."""
    half = _SIZE / 2 * _SCALE
    angles = np.radians(rotation + np.array([45.0, 135.0, 225.0, 315.0]))
    xi, eta = (
        np.radians(half * math.sqrt(2) * np.cos(angles)),
        np.radians(half * math.sqrt(2) * np.sin(angles)),
    )
    d0, a0 = math.radians(dec), math.radians(ra)
    den = math.cos(d0) - eta * math.sin(d0)
    lon = np.degrees(a0 + np.arctan2(xi, den)) % 360.0
    lat = np.degrees(np.arctan2(math.sin(d0) + eta * math.cos(d0), np.hypot(xi, den)))
    return Footprint(
        vertices=np.column_stack([lon, lat]),
        inner=(ra % 360.0, dec),
        centre=(ra % 360.0, dec),
        radius=half * math.sqrt(2) * 1.001,
        pixel_scale=_SCALE,
        naxis1=_SIZE,
        naxis2=_SIZE,
    )


def main() -> None:
    """Run the benchmark and print its timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--headers", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    ra = rng.uniform(-10, 10, args.images) % 360.0
    dec = rng.uniform(-10, 10, args.images)
    rotation = rng.uniform(0, 360, args.images)

    start = time.perf_counter()
    for k in range(args.headers):
        image_footprint(_header(ra[k], dec[k], rotation[k]))
    per_header = (time.perf_counter() - start) / args.headers
    print(f"image_footprint (4k x 4k TAN-SIP header): {per_header * 1e3:.1f} ms each")

    footprints = [_quick_footprint(*row) for row in zip(ra, dec, rotation, strict=True)]
    start = time.perf_counter()
    index: defaultdict[int, list[int]] = defaultdict(list)
    sizes = []
    for number, footprint in enumerate(footprints):
        ids = footprint_cells(footprint).index_ids()
        sizes.append(len(ids))
        for cell in ids:
            index[cell].append(number)
    filing = time.perf_counter() - start
    print(
        f"footprint_cells: {filing / len(footprints) * 1e6:.0f} us per image; "
        f"ids per image median {statistics.median(sizes):.0f}, max {max(sizes)}"
    )

    qra = rng.uniform(-10, 10, args.points) % 360.0
    qdec = rng.uniform(-10, 10, args.points)
    start = time.perf_counter()
    lookups = point_ids(qra, qdec)
    hashed = time.perf_counter() - start
    candidates = hits = 0
    start = time.perf_counter()
    for k, row in enumerate(lookups):
        found = {n for cell in row.tolist() for n in index.get(cell, ())}
        candidates += len(found)
        hits += sum(bool(footprints[n].contains(qra[k], qdec[k])) for n in found)
    matched = time.perf_counter() - start
    print(
        f"point_ids: {hashed / args.points * 1e6:.2f} us per position; lookup + exact test: "
        f"{matched / args.points * 1e6:.0f} us per position; "
        f"{candidates / args.points:.1f} candidates and {hits / args.points:.1f} images "
        "per position"
    )


if __name__ == "__main__":
    main()
