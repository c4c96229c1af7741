"""Background matching: one plane per input, fitted to the overlaps, solved globally.

Montage's sequence (mOverlaps, mDiff, mFitplane, mBgModel), reshaped so
that no step needs more than one tile:

1. On each tile, for each pair of inputs that both cover some of its
   pixels, the difference image ``D = I_i - I_j`` (both reprojected) is
   reduced to the sums a least-squares plane fit needs (:func:`overlap_sums`);
   pixels that stand out from the tile's own plane fit by more than
   ``3 sigma`` (sources whose seeing or variability differs) are left out.
   The sums of one pair from every tile add up (`OverlapSums.__add__`) to
   those of the whole overlap, so tiles can be done anywhere, in any order.
2. One global solve (:func:`solve_backgrounds`) finds the planes ``B_k``
   whose differences best match every pair's difference over every overlap
   pixel: minimise ``sum over pairs and pixels ((B_i - B_j)(x, y) - D(x, y))^2``.
   That is one linear system of 3 unknowns per input (Montage's mBgModel
   reaches the same kind of answer by iterating over pair fits).
   Planes are fixed only up to one plane added to every input: either the
   corrections average to zero (over each group of inputs linked by
   overlaps) or one reference input is left unchanged.
3. Each input's plane is subtracted from its reprojected planes
   (:func:`correct`) before coaddition.

Planes are ``a x + b y + c`` in the output grid's 0-based pixels; sums are
kept in coordinates centred on the grid and scaled by its size, so the
normal equations stay well conditioned for grids of any size.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.reproject_tile import TilePlane

__all__ = [
    "BackgroundModel",
    "OverlapSums",
    "Plane",
    "add_sums",
    "correct",
    "overlap_sums",
    "solve_backgrounds",
    "tile_overlaps",
]

BackgroundModel = Literal["plane", "level"]

_Float = npt.NDArray[np.float64]

_CLIP_SIGMAS = 3.0
_CLIP_ROUNDS = 2
_MAD_TO_SIGMA = 1.4826
# The clipping threshold's noise is measured on at most this many of a pair's
# pixels (evenly strided): its error (~0.3%) moves the 3-sigma cut by far less
# than the noise, and two medians of a million pixels per round cost ~20 ms.
_SIGMA_SAMPLE = 100_000
_FULL = 0.999  # only pixels both inputs cover wholly: partly covered edges mix in the outside


@dataclass(frozen=True)
class Plane:
    """A background plane ``a x + b y + c`` over the output grid's 0-based pixels."""

    a: float = 0.0
    b: float = 0.0
    c: float = 0.0

    def on_box(self, box: PixelBox) -> _Float:
        """Return the plane's values on the grid pixels of ``box``, in numpy order."""
        y, x = np.mgrid[box.y0 : box.y1, box.x0 : box.x1]
        return np.asarray(self.a * x + self.b * y + self.c, dtype=np.float64)


@dataclass(frozen=True)
class _Frame:
    """Grid coordinates ``u = (x - cx) / s``, ``v = (y - cy) / s``, where sums are kept."""

    cx: float
    cy: float
    s: float

    @classmethod
    def for_grid(cls, shape: tuple[int, int]) -> _Frame:
        ny, nx = shape
        return cls(cx=(nx - 1) / 2.0, cy=(ny - 1) / 2.0, s=max(nx, ny, 2) / 2.0)

    def design(self, box: PixelBox) -> tuple[_Float, _Float]:
        y, x = np.mgrid[box.y0 : box.y1, box.x0 : box.x1]
        return (x - self.cx) / self.s, (y - self.cy) / self.s

    def to_plane(self, q: _Float) -> Plane:
        alpha, beta, gamma = (float(v) for v in q)
        return Plane(
            a=alpha / self.s,
            b=beta / self.s,
            c=gamma - alpha * self.cx / self.s - beta * self.cy / self.s,
        )


@dataclass(frozen=True)
class OverlapSums:
    """Least-squares sums of one pair's difference image over (part of) its overlap.

    Attributes
    ----------
    moments
        ``sum(w w^T)`` for ``w = (u, v, 1)``, row by row (9 numbers).
    rhs
        ``sum(w D)``.
    pixels
        How many pixels the sums are over.
    grid_shape
        The output grid's ``(ny, nx)``, which fixes the coordinates ``u, v``.

    """

    moments: tuple[float, ...]
    rhs: tuple[float, ...]
    pixels: int
    grid_shape: tuple[int, int]

    def __add__(self, other: OverlapSums) -> OverlapSums:
        if other.grid_shape != self.grid_shape:
            raise ValueError("sums over different grids do not add")
        return OverlapSums(
            moments=tuple(a + b for a, b in zip(self.moments, other.moments, strict=True)),
            rhs=tuple(a + b for a, b in zip(self.rhs, other.rhs, strict=True)),
            pixels=self.pixels + other.pixels,
            grid_shape=self.grid_shape,
        )

    def matrix(self) -> tuple[_Float, _Float]:
        """Return ``(M, r)``: the normal matrix (3x3) and right-hand side."""
        return np.array(self.moments).reshape(3, 3), np.array(self.rhs)

    def fit(self) -> Plane:
        """Return the plane fitted to this pair's difference (Montage's mFitplane)."""
        m, r = self.matrix()
        q = np.asarray(np.linalg.lstsq(m, r, rcond=1e-12)[0], dtype=np.float64)
        return _Frame.for_grid(self.grid_shape).to_plane(q)


def _normal(u: _Float, v: _Float, d: _Float) -> tuple[_Float, _Float]:
    """Return the normal equations ``(sum(w w^T), sum(w d))`` of ``w = (u, v, 1)``."""
    su, sv, n = u.sum(), v.sum(), float(u.size)
    suu, suv, svv = (u * u).sum(), (u * v).sum(), (v * v).sum()
    m = np.array([[suu, suv, su], [suv, svv, sv], [su, sv, n]], dtype=np.float64)
    return m, np.array([(u * d).sum(), (v * d).sum(), d.sum()], dtype=np.float64)


def _fit_clipped(u: _Float, v: _Float, d: _Float) -> npt.NDArray[np.bool_]:
    """Pixels kept after rejecting outliers from a plane fit, ``_CLIP_ROUNDS`` times."""
    keep = np.ones(d.size, dtype=bool)
    for _ in range(_CLIP_ROUNDS):
        if keep.sum() < 3:
            break
        m, r = _normal(u[keep], v[keep], d[keep])
        a, b, c = np.linalg.lstsq(m, r, rcond=1e-12)[0]
        residual = d - (a * u + b * v + c)
        kept = residual[keep]
        kept = kept[:: max(1, kept.size // _SIGMA_SAMPLE)]
        sigma = _MAD_TO_SIGMA * float(np.median(np.abs(kept - np.median(kept))))
        if sigma <= 1e-9 * max(float(np.abs(d[keep]).max()), 1.0):
            break  # an exact plane, up to rounding: nothing stands out
        keep = np.abs(residual) <= _CLIP_SIGMAS * sigma
    return keep


@dataclass(frozen=True)
class _Whole:
    """The pixels of a plane its input covers wholly, and their bounding box (tile pixels)."""

    mask: npt.NDArray[np.bool_]
    extent: PixelBox | None

    @classmethod
    def of(cls, plane: TilePlane) -> _Whole:
        mask = plane.covered & (plane.footprint >= _FULL)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            return cls(mask, None)
        extent = PixelBox(int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1)
        return cls(mask, extent)


def _pair_sums(
    first: TilePlane,
    second: TilePlane,
    whole: tuple[_Whole, _Whole],
    *,
    box: PixelBox,
    grid_shape: tuple[int, int],
) -> OverlapSums | None:
    a, b = whole[0].extent, whole[1].extent
    if a is None or b is None:
        return None
    # Work on the two extents' intersection only: most pairs share a strip.
    x0, x1, y0, y1 = max(a.x0, b.x0), min(a.x1, b.x1), max(a.y0, b.y0), min(a.y1, b.y1)
    if x0 >= x1 or y0 >= y1:
        return None
    part = (slice(y0, y1), slice(x0, x1))
    both = whole[0].mask[part] & whole[1].mask[part]
    if not both.any():
        return None
    frame = _Frame.for_grid(grid_shape)
    u, v = frame.design(PixelBox(box.x0 + x0, box.x0 + x1, box.y0 + y0, box.y0 + y1))
    u, v = u[both], v[both]
    d = first.data[part][both] - second.data[part][both]
    keep = _fit_clipped(u, v, d)
    m, r = _normal(u[keep], v[keep], d[keep])
    return OverlapSums(
        moments=tuple(float(x) for x in m.ravel()),
        rhs=tuple(float(x) for x in r),
        pixels=int(keep.sum()),
        grid_shape=grid_shape,
    )


def overlap_sums(
    first: TilePlane, second: TilePlane, *, box: PixelBox, grid_shape: tuple[int, int]
) -> OverlapSums | None:
    """Reduce the difference ``first - second`` on one tile to plane-fit sums.

    Parameters
    ----------
    first, second
        Two inputs' planes on the same tile.
    box
        The tile's pixels in the grid (``Tile.box``).
    grid_shape
        The output grid's ``(ny, nx)``.

    Returns
    -------
    OverlapSums or None
        The sums over the pixels both cover wholly, outliers removed; None
        if they share none.

    """
    whole = (_Whole.of(first), _Whole.of(second))
    return _pair_sums(first, second, whole, box=box, grid_shape=grid_shape)


def tile_overlaps(
    planes: Mapping[str, TilePlane], *, box: PixelBox, grid_shape: tuple[int, int]
) -> dict[tuple[str, str], OverlapSums]:
    """Return the sums of every overlapping pair of inputs on one tile, keyed ``(i, j)``, i < j."""
    whole = {name: _Whole.of(plane) for name, plane in planes.items()}
    out: dict[tuple[str, str], OverlapSums] = {}
    for i, j in itertools.combinations(sorted(planes), 2):
        sums = _pair_sums(
            planes[i], planes[j], (whole[i], whole[j]), box=box, grid_shape=grid_shape
        )
        if sums is not None:
            out[(i, j)] = sums
    return out


def add_sums(
    parts: Iterable[Mapping[tuple[str, str], OverlapSums]],
) -> dict[tuple[str, str], OverlapSums]:
    """Add up per-tile sums (from `tile_overlaps`) pair by pair."""
    total: dict[tuple[str, str], OverlapSums] = {}
    for part in parts:
        for pair, sums in part.items():
            total[pair] = total[pair] + sums if pair in total else sums
    return total


def solve_backgrounds(
    overlaps: Mapping[tuple[str, str], OverlapSums],
    inputs: Sequence[str],
    *,
    reference: str | None = None,
    model: BackgroundModel = "plane",
) -> dict[str, Plane]:
    """Find each input's background plane from all the pairs' differences at once.

    Parameters
    ----------
    overlaps
        Sums per pair ``(i, j)`` of the difference ``I_i - I_j``.
    inputs
        Every input's id (inputs in no pair get the zero plane).
    reference
        The input left unchanged; None to make the corrections average to
        zero over each group of inputs that overlaps link together.
    model
        ``plane`` (a x + b y + c) or ``level`` (c alone, for overlaps too
        narrow to fix a slope).

    Returns
    -------
    dict
        The plane to subtract from each input, by id.

    Raises
    ------
    ValueError
        If a pair or the reference names an input not in ``inputs``.

    """
    index = {name: k for k, name in enumerate(inputs)}
    unknown = {n for pair in overlaps for n in pair if n not in index}
    if reference is not None and reference not in index:
        unknown.add(reference)
    if unknown:
        raise ValueError(f"overlaps name inputs that are not listed: {sorted(unknown)}")
    n = len(inputs)
    grid_shapes = {s.grid_shape for s in overlaps.values()}
    if not overlaps:
        return {name: Plane() for name in inputs}
    if len(grid_shapes) > 1:
        raise ValueError("sums over different grids")
    terms = [0, 1, 2] if model == "plane" else [2]
    k = len(terms)
    a = np.zeros((n * k, n * k))
    b = np.zeros(n * k)
    for (first, second), sums in overlaps.items():
        m, r = sums.matrix()
        m, r = m[np.ix_(terms, terms)], r[terms]
        i, j = index[first] * k, index[second] * k
        a[i : i + k, i : i + k] += m
        a[j : j + k, j : j + k] += m
        a[i : i + k, j : j + k] -= m
        a[j : j + k, i : i + k] -= m
        b[i : i + k] += r
        b[j : j + k] -= r
    # The least-norm solution has zero mean over each linked group: planes
    # added to a whole group change nothing the overlaps can see.
    scale = max(float(np.abs(a).max()), 1.0)
    q = np.linalg.lstsq(a / scale, b / scale, rcond=1e-10)[0].reshape(n, k)
    if reference is not None:
        group = _linked(index[reference], overlaps, index)
        q[sorted(group)] -= q[index[reference]]
    frame = _Frame.for_grid(next(iter(grid_shapes)))
    full = np.zeros((n, 3))
    full[:, terms] = q
    return {name: frame.to_plane(full[index[name]]) for name in inputs}


def _linked(
    start: int, overlaps: Mapping[tuple[str, str], OverlapSums], index: Mapping[str, int]
) -> set[int]:
    """Return the inputs linked to ``start`` through overlaps."""
    neighbours: dict[int, set[int]] = {}
    for first, second in overlaps:
        neighbours.setdefault(index[first], set()).add(index[second])
        neighbours.setdefault(index[second], set()).add(index[first])
    seen, todo = {start}, [start]
    while todo:
        for other in neighbours.get(todo.pop(), set()) - seen:
            seen.add(other)
            todo.append(other)
    return seen


def correct(plane: TilePlane, background: Plane, *, box: PixelBox) -> TilePlane:
    """Return ``plane`` with its input's background subtracted (``box`` is the tile's)."""
    if background == Plane():
        return plane
    return TilePlane(data=plane.data - background.on_box(box), footprint=plane.footprint)
