"""Reprojection and coaddition agree with reproject's own mosaicking, and exact keeps flux
(across tile seams, RA = 0 and the pole)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.wcs.utils import proj_plane_pixel_area
from numpy.testing import assert_allclose
from reproject import reproject_exact, reproject_interp
from reproject.mosaicking import reproject_and_coadd

from skycut.cutout.stencil import parse_stencil
from skycut.mosaic.background import Plane
from skycut.mosaic.grid import OutputGrid, grid_for_region, grid_from_parameters
from skycut.mosaic.reproject_tile import input_box, reproject_to_tile
from skycut.mosaic.tiles import Tiling
from tests.unit.test_mosaic_sky import (
    SkyImage,
    Star,
    centroid,
    make_wcs,
    offset,
    render,
    run_mosaic,
    star_field,
)

CENTRE = (359.995, 0.3)  # the inputs straddle RA = 0


def inputs() -> list[SkyImage]:
    stars = star_field(*CENTRE, half_width=0.03, count=40, separation=0.002, seed=4)
    specs = [  # (east, north) offsets in degrees, rotation, pixel scale, shape
        ((-0.012, -0.004), 0.0, 3.0e-4, (90, 100)),
        ((0.011, 0.003), 4.0, 3.1e-4, (96, 88)),
        ((0.001, 0.014), -6.0, 2.9e-4, (80, 110)),
    ]
    images = []
    for k, ((east, north), rotation, scale, shape) in enumerate(specs):
        lon, lat = offset(*CENTRE, east, north)
        wcs = make_wcs(lon, lat, shape=shape, pixscale=scale, rotation=rotation)
        sky = Plane(a=0.01 * k, b=-0.02, c=100.0 + 5 * k)
        data = render(wcs, shape, stars, background=sky, noise=1.0, seed=k)
        images.append(SkyImage(f"in{k}", data, wcs))
    return images


def output_grid(projection: str = "TAN") -> OutputGrid:
    return grid_from_parameters(
        center=CENTRE, width=150, height=130, pixscale=3.3e-4, projection=projection, rotation=8.0
    )


@pytest.mark.parametrize("order", ["bilinear", "bicubic"])
@pytest.mark.parametrize("tile_size", [48, 160])
def test_interpolated_mosaic_agrees_with_reproject_and_coadd(order: str, tile_size: int) -> None:
    # 48-pixel tiles carry every pixel's position through the WCSs; on one
    # 150x130 tile each input's part is large enough for the spline-filled positions
    images, grid = inputs(), output_grid()
    ours = run_mosaic(images, grid, tile_size=tile_size, method=order, combine="mean")
    ref, ref_footprint = reproject_and_coadd(
        [(i.data, i.wcs) for i in images],
        grid.wcs,
        shape_out=grid.shape,
        reproject_function=reproject_interp,
        combine_function="mean",
        order=order,
    )
    covered = ref_footprint > 0
    assert covered.sum() > 0.5 * covered.size
    assert_allclose(ours.coverage, ref_footprint, atol=1e-9)
    assert_allclose(ours.data[covered], ref[covered], rtol=1e-4)
    assert np.isnan(ours.data[~covered]).all()


def test_exact_mosaic_agrees_with_reproject_and_coadd() -> None:
    images, grid = inputs(), output_grid("SIN")
    ours = run_mosaic(images, grid, tile_size=48, method="exact", combine="mean")
    ref, ref_footprint = reproject_and_coadd(
        [(i.data, i.wcs) for i in images],
        grid.wcs,
        shape_out=grid.shape,
        reproject_function=reproject_exact,
        combine_function="mean",
    )
    covered = ref_footprint > 1e-6
    assert_allclose(ours.coverage, ref_footprint, atol=1e-6)
    assert_allclose(ours.data[covered], ref[covered], rtol=1e-4)


@pytest.mark.parametrize(("scale", "rotation"), [(3.0e-4, 0.0), (4.7e-4, 33.0), (1.9e-4, -12.0)])
def test_exact_reprojection_conserves_flux_across_tiles(scale: float, rotation: float) -> None:
    shape = (60, 70)
    wcs = make_wcs(*CENTRE, shape=shape, pixscale=3.0e-4)
    stars = star_field(*CENTRE, half_width=0.006, count=8, separation=0.002, seed=2)
    data = render(wcs, shape, stars, background=Plane(c=2.0))
    grid = grid_from_parameters(
        center=CENTRE,
        width=int(0.05 / scale),
        height=int(0.05 / scale),
        pixscale=scale,
        rotation=rotation,
    )
    flux_in = data.sum() * proj_plane_pixel_area(wcs)
    flux_out = 0.0
    for tile in Tiling(grid, 32).touched_by(wcs, shape):
        box = input_box(tile, wcs, shape, method="exact")
        if box is None:  # a tile the input only grazes
            continue
        plane = reproject_to_tile(data[box.slices], wcs, tile, method="exact", box=box)
        flux_out += float(np.nansum(plane.data * plane.footprint)) * proj_plane_pixel_area(grid.wcs)
    assert flux_out == pytest.approx(flux_in, rel=1e-3)


def test_interpolation_does_not_conserve_flux_when_binning() -> None:
    # The check above can fail: resampling a star to pixels 2.5x coarser by
    # interpolation samples sharp stars instead of integrating them.
    shape = (60, 70)
    wcs = make_wcs(*CENTRE, shape=shape, pixscale=3.0e-4)
    stars = star_field(*CENTRE, half_width=0.006, count=8, separation=0.002, seed=2)
    data = render(wcs, shape, stars, sigma=0.7)
    grid = grid_from_parameters(center=CENTRE, width=40, height=40, pixscale=1.2e-3)
    tile = Tiling(grid, 40).tile(0, 0)
    plane = reproject_to_tile(data, wcs, tile, method="bilinear")
    flux_in = data.sum() * proj_plane_pixel_area(wcs)
    flux_out = float(np.nansum(plane.data)) * proj_plane_pixel_area(grid.wcs)
    assert abs(flux_out / flux_in - 1) > 0.05


def test_a_mosaic_holding_the_pole_keeps_each_stars_flux_and_place() -> None:
    # Four dithered exposures around the north pole, a star on the pole itself,
    # mosaicked by the flux-conserving method onto a ZEA grid centred on it.
    pole = Star(0.0, 90.0, 1000.0)
    field = star_field(0.0, 90.0, half_width=0.013, count=14, separation=0.0055, seed=5)
    stars = [pole, *(s for s in field if s.lat < 90.0 - 0.0055)]
    images = []
    for k, (east, north, rotation) in enumerate(
        [(-0.007, -0.006, 0.0), (0.007, -0.007, 1.5), (-0.006, 0.007, -2.0), (0.007, 0.006, 3.0)]
    ):
        wcs = make_wcs(*offset(0.0, 90.0, east, north), shape=(96, 96), pixscale=3e-4,
                       rotation=rotation)  # fmt: skip
        images.append(SkyImage(f"exp{k}", render(wcs, (96, 96), stars), wcs))
    grid = grid_for_region(
        parse_stencil("CIRCLE 0 90 0.03"), pixscale=3.1e-4, projection="ZEA", rotation=10.0
    )
    made = run_mosaic(images, grid, tile_size=40, method="exact")
    omega_in, omega_out = proj_plane_pixel_area(images[0].wcs), proj_plane_pixel_area(grid.wcs)
    y, x = np.mgrid[0 : grid.shape[0], 0 : grid.shape[1]]
    checked = []
    for star in stars:
        sx, sy = grid.wcs.wcs_world2pix([[star.lon, star.lat]], 0)[0]
        aperture = np.hypot(x - sx, y - sy) < 8.0
        counts = set(np.unique(made.count[aperture]))
        if len(counts) != 1 or 0 in counts:
            continue  # on an input's edge, or off the inputs
        flux = float(made.data[aperture].sum()) * omega_out
        assert flux == pytest.approx(star.flux * omega_in, rel=1e-3)
        cx, cy = centroid(made.data, float(sx), float(sy), half=6)
        assert math.hypot(cx - sx, cy - sy) < 0.1
        checked.append(star)
    assert pole in checked
    assert len(checked) >= 3
