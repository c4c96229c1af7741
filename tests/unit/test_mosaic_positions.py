"""Stars land where the mosaic's WCS says: rotated and non-TAN grids, RA = 0, a pole.

Dithered exposures (a little offset and rotated against each other) are
rendered from one star catalogue; the mosaic is made tile by tile, written
to a FITS file and read back; each star's centroid in the file's pixels is
compared with the position the file's own WCS gives for the star.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from skycut.cutout.stencil import parse_stencil
from skycut.mosaic.assemble import InputRecord, MosaicWriter
from skycut.mosaic.grid import OutputGrid, grid_for_region, grid_from_parameters
from skycut.mosaic.reproject_tile import Method
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

SCALE = 3e-4  # degrees per input pixel: about 1 arcsec


def dithers(centre: tuple[float, float], stars: list[Star]) -> list[SkyImage]:
    """Four exposures around ``centre``, offset by a third of their size, rotated by up to 3°."""
    images = []
    for k, (east, north, rotation) in enumerate(
        [(-0.012, -0.01, 0.0), (0.012, -0.011, 1.5), (-0.011, 0.012, -2.0), (0.013, 0.01, 3.0)]
    ):
        wcs = make_wcs(*offset(*centre, east, north), shape=(96, 96), pixscale=SCALE,
                       rotation=rotation)  # fmt: skip
        images.append(SkyImage(f"exp{k}", render(wcs, (96, 96), stars), wcs))
    return images


def mosaic_file(images: list[SkyImage], grid: OutputGrid, method: Method, path: Path) -> None:
    made = run_mosaic(images, grid, tile_size=40, method=method)
    writer = MosaicWriter(path, grid, planes=("COUNT",))
    for tile in Tiling(grid, 40):
        writer.write("MOSAIC", tile.box, made.data[tile.box.slices])
        writer.write("COUNT", tile.box, made.count[tile.box.slices])
    writer.finish([InputRecord(i.name) for i in images])


def measured_offsets(path: Path, stars: list[Star]) -> list[float]:
    """For each star wholly on the mosaic, the distance (pixels) from its catalogue position."""
    with fits.open(path) as hdul:
        data, count, wcs = hdul[0].data.astype(float), hdul["COUNT"].data, WCS(hdul[0].header)
    out = []
    for star in stars:
        x, y = wcs.world_to_pixel(SkyCoord(star.lon, star.lat, unit="deg", frame="icrs"))
        ix, iy = round(float(x)), round(float(y))
        window = (slice(iy - 7, iy + 8), slice(ix - 7, ix + 8))
        if iy < 7 or ix < 7 or (count[window].shape != (15, 15)) or (count[window] == 0).any():
            continue
        cx, cy = centroid(data, float(x), float(y), half=6)
        out.append(math.hypot(cx - float(x), cy - float(y)))
    return out


CASES = {
    # name: (catalogue centre, grid)
    "tan-rotated-ra0": (
        (359.995, 1.0),
        lambda: grid_from_parameters(center=(359.995, 1.0), width=170, height=170,
                                     pixscale=3.2e-4, rotation=37.0),
    ),
    "sin": ((150.1, 2.2), lambda: grid_from_parameters(
        center=(150.1, 2.2), width=160, height=150, pixscale=3.4e-4, projection="SIN",
        rotation=-20.0)),
    "ait": ((30.0, -45.0), lambda: grid_from_parameters(
        center=(30.0, -45.0), width=150, height=150, pixscale=3.0e-4, projection="AIT")),
    "car": ((200.0, 10.0), lambda: grid_from_parameters(
        center=(200.0, 10.0), width=160, height=150, pixscale=3.0e-4, projection="CAR",
        rotation=5.0)),
    "zea-pole": ((0.0, 90.0), lambda: grid_for_region(
        parse_stencil("CIRCLE 0 90 0.03"), pixscale=3.1e-4, projection="ZEA", rotation=10.0)),
    "galactic": ((266.4, -28.9), lambda: grid_from_parameters(
        center=(0.0286, 0.0226), width=150, height=150, pixscale=3.0e-4, frame="GALACTIC")),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_stars_land_where_the_mosaic_wcs_puts_them(name: str, tmp_path: Path) -> None:
    centre, make_grid = CASES[name]
    stars = star_field(*centre, half_width=0.02, count=25, separation=0.004, seed=11)
    mosaic_file(dithers(centre, stars), make_grid(), "bilinear", tmp_path / "m.fits")
    errors = measured_offsets(tmp_path / "m.fits", stars)
    assert len(errors) >= 10
    assert max(errors) < 0.1


@pytest.mark.parametrize("method", ["bicubic", "exact"])
def test_every_method_keeps_positions(method: Method, tmp_path: Path) -> None:
    centre, make_grid = CASES["tan-rotated-ra0"]
    stars = star_field(*centre, half_width=0.02, count=25, separation=0.004, seed=12)
    mosaic_file(dithers(centre, stars), make_grid(), method, tmp_path / "m.fits")
    errors = measured_offsets(tmp_path / "m.fits", stars)
    assert len(errors) >= 10
    assert max(errors) < 0.1


def test_a_wrong_wcs_would_be_seen(tmp_path: Path) -> None:
    # The check can fail: the same mosaic, its header rotated by 0.5° after the fact.
    centre, make_grid = CASES["sin"]
    stars = star_field(*centre, half_width=0.02, count=25, separation=0.004, seed=11)
    path = tmp_path / "m.fits"
    mosaic_file(dithers(centre, stars), make_grid(), "bilinear", path)
    with fits.open(path, mode="update") as hdul:
        wcs = WCS(hdul[0].header)
        t = math.radians(0.5)
        wcs.wcs.pc = np.array(wcs.wcs.pc) @ np.array(
            [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]
        )
        hdul[0].header.update(wcs.to_header())
    assert max(measured_offsets(path, stars)) > 0.3
