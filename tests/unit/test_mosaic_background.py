"""Background matching: seams vanish, planes are recovered, the solve is pinned as asked."""

from __future__ import annotations

import numpy as np
import pytest

from skycut.cutout.geometry import PixelBox
from skycut.mosaic.background import (
    OverlapSums,
    Plane,
    add_sums,
    overlap_sums,
    solve_backgrounds,
    tile_overlaps,
)
from skycut.mosaic.grid import OutputGrid, grid_from_parameters
from skycut.mosaic.reproject_tile import TilePlane, reproject_to_tile
from skycut.mosaic.tiles import Tiling
from tests.unit.test_mosaic_sky import SkyImage, make_wcs, offset, render, run_mosaic, star_field

NOISE = 1.0
CENTRE = (150.1, 2.2)


def grid() -> OutputGrid:
    return grid_from_parameters(center=CENTRE, width=160, height=100, pixscale=3e-4)


def exposures(skies: list[Plane], *, step: float = 0.018) -> list[SkyImage]:
    """Exposures side by side along RA, each overlapping the next by about a third,
    rotated a little against each other, each on its own sky."""
    stars = star_field(*CENTRE, half_width=0.03, count=30, separation=0.002, seed=7)
    images = []
    for k, sky in enumerate(skies):
        east = (k - (len(skies) - 1) / 2) * step
        wcs = make_wcs(
            *offset(*CENTRE, east, 0.0), shape=(90, 90), pixscale=3e-4, rotation=2.0 * k - 1.0
        )
        data = render(wcs, (90, 90), stars, background=sky, noise=NOISE, seed=10 + k)
        images.append(SkyImage(f"exp{k}", data, wcs))
    return images


def seam_residuals(images: list[SkyImage], planes: dict[str, Plane]) -> np.ndarray:
    """Differences of the corrected first two exposures over their shared pixels."""
    g = grid()
    tile = Tiling(g, max(g.shape)).tile(0, 0)
    first, second = (reproject_to_tile(i.data, i.wcs, tile, method="bilinear") for i in images[:2])
    both = first.covered & second.covered
    difference = (first.data - planes[images[0].name].on_box(tile.box)) - (
        second.data - planes[images[1].name].on_box(tile.box)
    )
    return difference[both]


def test_matching_removes_the_seam_between_two_skies() -> None:
    images = exposures([Plane(c=100.0), Plane(a=0.02, b=-0.01, c=112.0)])
    matched = run_mosaic(images, grid(), tile_size=40, match_background=True)
    residual = seam_residuals(images, matched.backgrounds)
    assert residual.size > 1000
    # Without matching the seam is 12 sigma (and more at the far corner) ...
    assert abs(np.median(seam_residuals(images, {i.name: Plane() for i in images}))) > 10 * NOISE
    # ... with it, the overlap's residual is far below the noise of one pixel.
    assert abs(np.median(residual)) < 0.05 * NOISE
    assert abs(np.mean(residual)) < 0.1 * NOISE
    # and the mosaic's values across the overlap match those of each side
    assert np.nanstd(matched.data[matched.count == 2]) < 3 * NOISE


def plane_on_grid(values: np.ndarray) -> Plane:
    """The plane through a grid image that is one (where it is finite)."""
    y, x = np.mgrid[0 : values.shape[0], 0 : values.shape[1]]
    on = np.isfinite(values)
    design = np.column_stack([x[on], y[on], np.ones(on.sum())])
    a, b, c = np.linalg.lstsq(design, values[on], rcond=None)[0]
    return Plane(a=float(a), b=float(b), c=float(c))


def test_a_chain_of_exposures_recovers_each_sky_relative_to_the_reference() -> None:
    # exp0 and exp2 do not overlap: their relation is found through exp1
    skies = [Plane(c=100.0), Plane(a=0.01, c=95.0), Plane(b=-0.015, c=108.0)]
    images = exposures(skies)
    g = grid()
    found = run_mosaic(images, g, tile_size=48, match_background=True, reference="exp0")
    assert found.backgrounds["exp0"] == Plane()
    # Each sky is a plane in its input's pixels, so a plane on the grid too:
    # find it by reprojecting the noise-free sky.
    tile = Tiling(g, max(g.shape)).tile(0, 0)
    box = tile.box
    truth = [
        plane_on_grid(
            reproject_to_tile(render(i.wcs, (90, 90), [], background=sky), i.wcs, tile).data
        ).on_box(box)
        for i, sky in zip(images, skies, strict=True)
    ]
    for k in (1, 2):
        own = reproject_to_tile(images[k].data, images[k].wcs, tile).covered
        error = found.backgrounds[f"exp{k}"].on_box(box) - (truth[k] - truth[0])
        assert np.abs(error[own]).max() < 0.5 * NOISE  # slopes extrapolated to far corners
        assert abs(np.median(error[own])) < 0.05 * NOISE


def test_without_a_reference_the_corrections_average_to_zero() -> None:
    images = exposures([Plane(c=100.0), Plane(c=90.0), Plane(a=0.01, c=104.0)])
    zero_mean = run_mosaic(images, grid(), tile_size=48, match_background=True).backgrounds
    total = [sum(getattr(p, k) for p in zero_mean.values()) for k in "abc"]
    assert total == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    # the same solution, shifted by one plane for all
    pinned = run_mosaic(
        images, grid(), tile_size=48, match_background=True, reference="exp1"
    ).backgrounds
    shifts = {
        tuple(round(getattr(pinned[n], k) - getattr(zero_mean[n], k), 9) for k in "abc")
        for n in zero_mean
    }
    assert len(shifts) == 1


def flat(value: float, shape: tuple[int, int] = (20, 20)) -> TilePlane:
    return TilePlane(data=np.full(shape, value), footprint=np.ones(shape))


def test_groups_not_linked_by_overlaps_are_pinned_separately() -> None:
    box = PixelBox(0, 20, 0, 20)
    sums = {
        ("a", "b"): overlap_sums(flat(10.0), flat(4.0), box=box, grid_shape=(20, 20)),
        ("c", "d"): overlap_sums(flat(1.0), flat(3.0), box=box, grid_shape=(20, 20)),
    }
    planes = solve_backgrounds(
        {k: v for k, v in sums.items() if v is not None}, ["a", "b", "c", "d", "e"], reference="b"
    )
    assert planes["b"] == Plane()
    assert planes["a"].c == pytest.approx(6.0)
    assert planes["c"].c == pytest.approx(-1.0)  # c and d: zero mean, their difference kept
    assert planes["d"].c == pytest.approx(1.0)
    assert planes["e"] == Plane()


def test_level_model_fits_no_slope() -> None:
    _, x = np.mgrid[0:20, 0:20]
    sloped = TilePlane(data=0.5 * x + 3.0, footprint=np.ones((20, 20)))
    sums = overlap_sums(sloped, flat(0.0), box=PixelBox(0, 20, 0, 20), grid_shape=(20, 20))
    assert sums is not None
    level = solve_backgrounds({("s", "f"): sums}, ["s", "f"], reference="f", model="level")["s"]
    assert (level.a, level.b) == (0.0, 0.0)
    assert level.c == pytest.approx(0.5 * 9.5 + 3.0)
    plane = solve_backgrounds({("s", "f"): sums}, ["s", "f"], reference="f")["s"]
    assert (plane.a, plane.b, plane.c) == pytest.approx((0.5, 0.0, 3.0))


def test_sources_in_one_image_only_do_not_bias_the_fit() -> None:
    rng = np.random.default_rng(5)
    noisy = TilePlane(data=5.0 + rng.normal(0, NOISE, (40, 40)), footprint=np.ones((40, 40)))
    noisy.data[10:14, 10:14] += 500.0  # a transient or a star seen in better seeing
    sums = overlap_sums(noisy, flat(0.0, (40, 40)), box=PixelBox(0, 40, 0, 40), grid_shape=(40, 40))
    assert sums is not None
    assert sums.pixels < 40 * 40 - 16
    assert sums.fit().c == pytest.approx(5.0, abs=0.1)


def test_sums_from_tiles_add_up_to_the_sums_of_the_whole_overlap() -> None:
    y, x = np.mgrid[0:30, 0:50]
    shape = (30, 50)
    first = TilePlane(data=0.1 * x - 0.2 * y + 7.0, footprint=np.ones(shape))
    second = flat(1.0, shape)
    whole = overlap_sums(first, second, box=PixelBox(0, 50, 0, 30), grid_shape=shape)
    parts = [
        tile_overlaps(
            {"a": TilePlane(first.data[:, sl], first.footprint[:, sl]),
             "b": TilePlane(second.data[:, sl], second.footprint[:, sl])},
            box=PixelBox(sl.start, sl.stop, 0, 30),
            grid_shape=shape,
        )
        for sl in (slice(0, 20), slice(20, 50))
    ]  # fmt: skip
    total = add_sums(parts)[("a", "b")]
    assert whole is not None
    assert total.pixels == whole.pixels == 1500
    np.testing.assert_allclose(total.moments, whole.moments, rtol=1e-12, atol=1e-9)
    fitted = total.fit()
    assert (fitted.a, fitted.b, fitted.c) == pytest.approx((0.1, -0.2, 6.0))


def test_partly_covered_pixels_are_left_out() -> None:
    edge = TilePlane(data=np.full((10, 10), 50.0), footprint=np.full((10, 10), 0.4))
    assert (
        overlap_sums(edge, flat(0.0, (10, 10)), box=PixelBox(0, 10, 0, 10), grid_shape=(10, 10))
        is None
    )


def test_pairs_must_name_listed_inputs() -> None:
    sums = OverlapSums(moments=(1.0,) * 9, rhs=(0.0, 0.0, 0.0), pixels=1, grid_shape=(5, 5))
    with pytest.raises(ValueError, match="not listed"):
        solve_backgrounds({("a", "z"): sums}, ["a", "b"])
