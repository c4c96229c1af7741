"""Benchmark: are the index's answers exact? Against a brute-force test of every image's WCS.

Indexes the first 3,000 images of :mod:`bench.survey_layout` (TAN coadds
projected about their tract's centre, rotated TAN-SIP exposures, fields
across RA = 0 and within 2° of both poles) in a ``MemoryImageIndex``,
through the indexer's code path (header-only FITS -> ``index_image``).

Points: ``skycut.index.search.containing`` at positions uniform on the
sphere, within 1° of each pole, within 1° of RA = 0, at random pixels of
random images, and just inside and just outside their edges and corners
(0.01 to 5 pixels). The truth is every image's own WCS: astropy's
``all_world2pix`` (``quiet=True``), a pixel in ``[-0.5, n - 0.5]`` on both
axes, and ``all_pix2world`` of that pixel landing back on the position
(within 0.001 pixel), which rejects false convergence and the far side of
the projection. Any disagreement is listed with its pixel and how far
outside the image it lies.

Circles: ``overlapping`` with CIRCLEs of 1" to 1° radius near image edges,
near the poles, at RA = 0 and anywhere, against the distance from the
centre to each image's border (the border in pixels mapped with the image's
WCS, sampled every 64 pixels and refined to 0.001 pixel where it matters),
or the centre falling on the image.

    uv run --frozen python -m bench.index_exactness [--images 3000] [--points 400]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from astropy.wcs import WCS

from bench.survey_layout import CACHE, LayoutImage, image_records, image_wcs, survey_layout
from skycut.cutout.stencil import Circle
from skycut.index.footprint import DEFAULT_MARGIN
from skycut.index.memory_index import MemoryImageIndex
from skycut.index.search import containing, overlapping

Floats = npt.NDArray[np.float64]
_SCALE = 0.2 / 3600.0  # degrees per pixel of every layout image
_ROUND_TRIP = 1e-3  # pixels: all_pix2world(all_world2pix(p)) must land this close to p
_OFFSETS = (0.01, 0.05, 0.25, 1.0, 5.0)  # pixels inside and outside an edge
_BUCKET = "bench"


def _vectors(ra: Floats, dec: Floats) -> Floats:
    a, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], axis=-1)


def _angle(a: Floats, b: Floats) -> Floats:
    """Angles in degrees between unit vectors (broadcast)."""
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.asarray(np.degrees(np.arctan2(cross, np.sum(a * b, axis=-1))), dtype=np.float64)


@dataclass(frozen=True)
class Pixels:
    """Where positions fall on one image, by its own WCS."""

    x: Floats
    y: Floats
    on: npt.NDArray[np.bool_]
    outside: Floats  # pixels beyond the nearest border, <= 0 inside


def on_image(wcs: WCS, naxis: tuple[int, int], ra: Floats, dec: Floats) -> Pixels:
    """Tell which positions land on a pixel of the image: the brute-force test."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        x, y = wcs.all_world2pix(ra, dec, 0, quiet=True, tolerance=1e-7, maxiter=50)
        back_ra, back_dec = wcs.all_pix2world(x, y, 0)
    miss = _angle(_vectors(back_ra, back_dec), _vectors(ra, dec)) / _SCALE
    converged = np.isfinite(x) & np.isfinite(y) & (miss <= _ROUND_TRIP)
    nx, ny = naxis
    outside = np.maximum.reduce([-0.5 - x, x - (nx - 0.5), -0.5 - y, y - (ny - 0.5)])
    outside = np.where(converged, outside, np.inf)
    return Pixels(x=x, y=y, on=outside <= 0.0, outside=outside)


EDGES = "edges and corners of images (±0.01 to 5 px)"


def positions(
    images: Sequence[LayoutImage], wcs: Sequence[WCS], count: int, rng: np.random.Generator
) -> tuple[dict[str, tuple[Floats, Floats]], list[tuple[int, float]]]:
    """Draw the test positions, by kind; and for each of :data:`EDGES`, its image and offset.

    The offset is in pixels from the image's border, positive outside.
    """
    kinds: dict[str, tuple[Floats, Floats]] = {}
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, count)))
    kinds["uniform on the sphere"] = (rng.uniform(0, 360, count), dec)
    for name, sign in (("within 1° of the north pole", 1.0), ("within 1° of the south pole", -1.0)):
        kinds[name] = (
            rng.uniform(0, 360, count),
            sign * (90.0 - np.sqrt(rng.uniform(0, 1, count))),
        )
    kinds["within 1° of RA = 0 (Dec -5° to 5°)"] = (
        rng.uniform(-1.0, 1.0, count) % 360.0,
        rng.uniform(-5.0, 5.0, count),
    )
    picks = rng.integers(len(images), size=count)
    pix = [
        (
            k,
            rng.uniform(-0.5, images[k].naxis[0] - 0.5),
            rng.uniform(-0.5, images[k].naxis[1] - 0.5),
        )
        for k in picks.tolist()
    ]
    kinds["random pixels of images"] = _to_world(wcs, pix)
    edge = []
    built: list[tuple[int, float]] = []
    for k in rng.integers(len(images), size=count).tolist():
        nx, ny = images[k].naxis
        delta = float(rng.choice(_OFFSETS)) * float(rng.choice([-1.0, 1.0]))  # + is outside
        side = int(rng.integers(6))
        if side < 4:
            t = rng.uniform(-0.5, (nx if side < 2 else ny) - 0.5)
            x, y = {
                0: (t, -0.5 - delta),
                1: (t, ny - 0.5 + delta),
                2: (-0.5 - delta, t),
                3: (nx - 0.5 + delta, t),
            }[side]
        else:  # a corner, just inside or outside along both axes
            cx, cy = (-0.5, nx - 0.5)[int(rng.integers(2))], (-0.5, ny - 0.5)[int(rng.integers(2))]
            x = cx + (delta if cx > 0 else -delta)
            y = cy + (delta if cy > 0 else -delta)
        edge.append((k, x, y))
        built.append((k, delta))
    kinds[EDGES] = _to_world(wcs, edge)
    return kinds, built


def _to_world(wcs: Sequence[WCS], pixels: list[tuple[int, float, float]]) -> tuple[Floats, Floats]:
    ra, dec = np.empty(len(pixels)), np.empty(len(pixels))
    for n, (k, x, y) in enumerate(pixels):
        world = wcs[k].all_pix2world([[x, y]], 0)[0]
        ra[n], dec[n] = float(world[0]) % 360.0, float(world[1])
    return ra, dec


def point_check(
    index: MemoryImageIndex,
    images: Sequence[LayoutImage],
    wcs: Sequence[WCS],
    kinds: dict[str, tuple[Floats, Floats]],
    built: list[tuple[int, float]],
) -> int:
    """Compare ``containing`` with the brute force at every position; return disagreements."""
    ra = np.concatenate([v[0] for v in kinds.values()])
    dec = np.concatenate([v[1] for v in kinds.values()])
    labels = [name for name, v in kinds.items() for _ in range(len(v[0]))]
    start = time.perf_counter()
    truth = [on_image(w, i.naxis, ra, dec) for w, i in zip(wcs, images, strict=True)]
    brute = time.perf_counter() - start
    start = time.perf_counter()
    found = [{r.source.name for r in containing(index, a, d)} for a, d in zip(ra, dec, strict=True)]
    lookup = time.perf_counter() - start
    number = {image.name: k for k, image in enumerate(images)}
    print(
        f"\npoints: {len(ra)} positions x {len(images)} images; brute force {brute:.0f} s, "
        f"containing() {1e3 * lookup / len(ra):.2f} ms per position (MemoryImageIndex)"
    )
    first = labels.index(EDGES)
    error = max(abs(truth[k].outside[first + n] - delta) for n, (k, delta) in enumerate(built))
    print(
        f"  the brute force itself: edge and corner points placed 0.01 to 5 px from their image's "
        f"border are found at that offset within {error:.1e} px"
    )
    disagreements = 0
    for name, (kra, _) in kinds.items():
        rows = [j for j, label in enumerate(labels) if label == name]
        expected = sum(int(t.on[j]) for t in truth for j in rows)
        fn = fp = margin = 0
        covered = 0
        for j in rows:
            want = {images[k].name for k, t in enumerate(truth) if t.on[j]}
            covered += bool(want)
            for image_name in want - found[j]:
                fn += 1
                _describe("false negative", image_name, j, ra, dec, truth[number[image_name]])
            for image_name in found[j] - want:
                pixel = truth[number[image_name]]
                if pixel.outside[j] <= DEFAULT_MARGIN:
                    margin += 1
                else:
                    fp += 1
                _describe("false positive", image_name, j, ra, dec, pixel)
        disagreements += fn + fp + margin
        print(
            f"  {name}: {len(kra)} positions, {covered} on at least one image, {expected} "
            f"(position, image) pairs; false negatives {fn}, false positives {fp}"
            + (f", within the outline's {DEFAULT_MARGIN} px margin {margin}" if margin else "")
        )
    return disagreements


def _describe(kind: str, name: str, j: int, ra: Floats, dec: Floats, pixel: Pixels) -> None:
    print(
        f"    {kind}: ({ra[j]:.9f}, {dec[j]:.9f}) {name} pixel ({pixel.x[j]:.4f}, "
        f"{pixel.y[j]:.4f}), {pixel.outside[j]:.4f} px outside"
    )


_Edge = tuple[tuple[float, float], tuple[float, float], float]
_COARSE = 64.0  # pixels between border samples before refining
_BOUND = _COARSE / 2 * _SCALE * 1.05  # no border point is farther from a sample (degrees)


class Borders:
    """Every image's border in pixels, mapped to the sky with its own WCS."""

    def __init__(self, images: Sequence[LayoutImage], wcs: Sequence[WCS]) -> None:
        self.wcs = wcs
        self.edges: list[list[_Edge]] = []
        vectors, owners, where = [], [], []
        for k, image in enumerate(images):
            nx, ny = image.naxis
            # each edge from corner to corner: (x0, y0) + t (dx, dy), t in [0, length]
            edges: list[_Edge] = [
                ((-0.5, -0.5), (1.0, 0.0), float(nx)),
                ((-0.5, ny - 0.5), (1.0, 0.0), float(nx)),
                ((-0.5, -0.5), (0.0, 1.0), float(ny)),
                ((nx - 0.5, -0.5), (0.0, 1.0), float(ny)),
            ]
            self.edges.append(edges)
            for e, edge in enumerate(edges):
                t, v = self._sample(k, edge, 0.0, edge[2], _COARSE)
                vectors.append(v)
                owners.append(np.full(len(t), k))
                where += [(e, float(x)) for x in t]
        self.vectors = np.concatenate(vectors)
        self.owners = np.concatenate(owners)
        self.where = where
        self.starts = np.flatnonzero(np.diff(self.owners, prepend=-1))

    def _sample(
        self, k: int, edge: _Edge, lo: float, hi: float, step: float
    ) -> tuple[Floats, Floats]:
        (x0, y0), (dx, dy), _ = edge
        t = np.append(np.arange(lo, hi, step), hi)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ra, dec = self.wcs[k].all_pix2world(x0 + t * dx, y0 + t * dy, 0)
        return t, _vectors(ra, dec)

    def coarse(self, centre: Floats) -> tuple[Floats, Floats]:
        """Angles from ``centre`` to every sample, and the smallest per image (degrees)."""
        d = _angle(self.vectors, centre)
        return d, np.minimum.reduceat(d, self.starts)

    def exact(self, k: int, centre: Floats, angles: Floats) -> float:
        """Smallest angle (degrees) from ``centre`` to image ``k``'s border, to 0.001 pixel."""
        mine = np.flatnonzero(self.owners == k)
        near = mine[angles[mine] <= angles[mine].min() + 2 * _BOUND]
        best = math.inf
        for j in near.tolist():
            e, t = self.where[j]
            edge, step = self.edges[k][e], _COARSE
            while step > 1e-3:
                ts, v = self._sample(k, edge, max(0.0, t - step), min(edge[2], t + step), step / 32)
                d = _angle(v, centre)
                t, step = float(ts[int(np.argmin(d))]), step / 32
            best = min(best, float(d.min()))
        return best


def circle_centres(
    images: Sequence[LayoutImage],
    wcs: Sequence[WCS],
    borders: Borders,
    count: int,
    rng: np.random.Generator,
) -> list[tuple[str, float, float, float]]:
    """Circles (kind, ra, dec, radius): random ones, and ones just reaching or missing an image.

    Random: centred near image edges (up to 300 px either side), near the poles, at RA = 0,
    anywhere, of 1" to 1°. Grazing: centred 1 to 300 px outside an image, the radius the
    exact distance to it plus or minus 0.01, 0.1 or 1 pixel.
    """

    def radius() -> float:
        return float(10 ** rng.uniform(math.log10(1 / 3600), 0.0))

    pixels = []
    for k in rng.integers(len(images), size=count).tolist():
        nx, ny = images[k].naxis
        side = float(rng.choice([-0.5 - rng.uniform(-300, 300), ny - 0.5 + rng.uniform(-300, 300)]))
        pixels.append((k, float(rng.uniform(-300, nx + 300)), side))
    near = _to_world(wcs, pixels)
    circles = [("near an image's edge", a, d, radius()) for a, d in zip(*near, strict=True)]
    for _ in range(count // 2):
        pole = float(rng.choice([-1.0, 1.0])) * (90.0 - float(rng.uniform(0, 1.5)))
        circles.append(("near a pole", float(rng.uniform(0, 360)), pole, radius()))
        ra0 = (float(rng.uniform(-0.5, 0.5) % 360), float(rng.uniform(-5, 5)))
        circles.append(("at RA = 0", *ra0, radius()))
        anywhere = float(np.degrees(np.arcsin(rng.uniform(-1, 1))))
        circles.append(("anywhere", float(rng.uniform(0, 360)), anywhere, radius()))
    for k in rng.integers(len(images), size=count).tolist():
        nx, ny = images[k].naxis
        out = float(rng.uniform(1.0, 300.0))
        x, y = float(rng.uniform(-0.5, nx - 0.5)), float(rng.choice([-0.5 - out, ny - 0.5 + out]))
        if rng.uniform() < 0.5:
            x, y = (
                float(rng.choice([-0.5 - out, nx - 0.5 + out])),
                float(rng.uniform(-0.5, ny - 0.5)),
            )
        ra, dec = _to_world(wcs, [(k, x, y)])
        centre = _vectors(ra[0], dec[0])
        gap = borders.exact(k, centre, borders.coarse(centre)[0])
        miss = float(rng.choice([-1.0, 1.0])) * float(rng.choice([0.01, 0.1, 1.0]))
        circles.append(("grazing an image (±0.01 to 1 px)", ra[0], dec[0], gap + miss * _SCALE))
    return circles


def circle_check(
    index: MemoryImageIndex,
    images: Sequence[LayoutImage],
    wcs: Sequence[WCS],
    count: int,
    rng: np.random.Generator,
) -> int:
    """Compare ``overlapping`` with the brute force for CIRCLEs; return disagreements."""
    start = time.perf_counter()
    borders = Borders(images, wcs)
    centres = circle_centres(images, wcs, borders, count, rng)
    ra = np.array([c[1] for c in centres])
    dec = np.array([c[2] for c in centres])
    inside = np.array([on_image(w, i.naxis, ra, dec).on for w, i in zip(wcs, images, strict=True)])
    tally: dict[str, list[int]] = {}
    refined = 0
    for j, (kind, a, d, radius) in enumerate(centres):
        got = {r.source.name for r in overlapping(index, Circle(ra=a, dec=d, radius=radius))}
        centre = _vectors(np.array(a), np.array(d))
        angles, nearest = borders.coarse(centre)
        counts = tally.setdefault(kind, [0, 0, 0, 0, 0])
        counts[0] += 1
        for k, image in enumerate(images):
            if inside[k, j] or nearest[k] <= radius:
                truth = True
            elif nearest[k] - _BOUND > radius:
                truth = False
            else:
                refined += 1
                truth = borders.exact(k, centre, angles) <= radius
            counts[1] += truth
            if truth == (image.name in got):
                continue
            gap = 0.0 if inside[k, j] else borders.exact(k, centre, angles)
            beyond = (gap - radius) / _SCALE  # pixels between the circle and the image
            if truth:
                counts[2] += 1
            else:
                counts[3 if beyond > DEFAULT_MARGIN else 4] += 1
            label = "false negative" if truth else "false positive"
            print(f"    {label}: CIRCLE {a} {d} {radius} {image.name}, {beyond:.4f} px away")
    elapsed = time.perf_counter() - start
    print(
        f"\ncircles: {len(centres)} CIRCLEs x {len(images)} images "
        f"({elapsed:.0f} s; {refined} (circle, image) pairs needed the border refined)"
    )
    disagreements = 0
    for kind, (n, pairs, fn, fp, margin) in tally.items():
        disagreements += fn + fp + margin
        print(
            f"  {kind}: {n} circles, {pairs} (circle, image) overlaps; false negatives {fn}, "
            f"false positives {fp}"
            + (f", within the outline's {DEFAULT_MARGIN} px margin {margin}" if margin else "")
        )
    return disagreements


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--points", type=int, default=400, help="positions of each kind")
    parser.add_argument("--circles", type=int, default=100, help="circles near image edges")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    images = survey_layout(args.images, seed=args.seed)
    records = image_records(images, bucket=_BUCKET, jobs=args.jobs, cache=CACHE)
    index = MemoryImageIndex()
    for record in records:
        index.put(record)
    regions: dict[str, int] = {}
    for image in images:
        regions[image.region] = regions.get(image.region, 0) + 1
    sip = sum(bool(i.sip) for i in images)
    print(
        f"{len(images)} images: {regions}; {sip} TAN-SIP, {len(images) - sip} TAN; rotations "
        f"{min(i.rotation for i in images):.0f}° to {max(i.rotation for i in images):.0f}°"
    )
    wcs = [image_wcs(i) for i in images]
    rng = np.random.default_rng(args.seed + 2)
    kinds, built = positions(images, wcs, args.points, rng)
    bad = point_check(index, images, wcs, kinds, built)
    bad += circle_check(index, images, wcs, args.circles, rng)
    print(f"\ndisagreements: {bad}; load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
