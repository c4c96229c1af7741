"""Synthetic skies for the mosaic tests, and checks that they are what they claim.

Images are rendered from a star catalogue (Gaussian stars at known sky
positions) through each image's own WCS, on a sky of known level and slope,
so a test knows where every star must land in a mosaic and what the
background of every input is. `run_mosaic` makes a mosaic of them with the
library's in-process pipeline (the stages, tile by tile, each task reading
only its box).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from astropy.wcs import WCS

from skycut.mosaic.background import Plane
from skycut.mosaic.coadd import Combine
from skycut.mosaic.grid import OutputGrid
from skycut.mosaic.inprocess import Mosaic, make_mosaic
from skycut.mosaic.plan import InputImage
from skycut.mosaic.reproject_tile import Method

Float = npt.NDArray[np.float64]
NO_BACKGROUND = Plane()


@dataclass(frozen=True)
class Star:
    lon: float
    lat: float
    flux: float


@dataclass(frozen=True)
class SkyImage:
    name: str
    data: Float
    wcs: WCS


def make_wcs(
    lon: float,
    lat: float,
    *,
    shape: tuple[int, int],
    pixscale: float,
    rotation: float = 0.0,
    projection: str = "TAN",
) -> WCS:
    """A WCS centred on (lon, lat), up at position angle ``rotation``, east left."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [f"RA---{projection}", f"DEC--{projection}"]
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.crval = [lon % 360.0, lat]
    wcs.wcs.crpix = [(shape[1] + 1) / 2.0, (shape[0] + 1) / 2.0]
    wcs.wcs.cdelt = [-pixscale, pixscale]
    t = math.radians(rotation)
    wcs.wcs.pc = [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]
    wcs.wcs.set()
    return wcs


def offset(lon: float, lat: float, east: float, north: float) -> tuple[float, float]:
    """The position ``east`` and ``north`` degrees away, along the tangent plane at (lon, lat)."""
    wcs = make_wcs(lon, lat, shape=(1, 1), pixscale=1.0)
    x, y = wcs.wcs_pix2world([[-east, north]], 0)[0]  # CDELT1 < 0: east is -x
    return float(x) % 360.0, float(y)


def star_field(
    lon: float,
    lat: float,
    *,
    half_width: float,
    count: int,
    separation: float,
    seed: int = 1,
    flux: float = 1000.0,
) -> list[Star]:
    """Stars over a square of half-width ``half_width`` degrees, ``separation`` or more apart."""
    rng = np.random.default_rng(seed)
    placed: list[tuple[float, float]] = []
    while len(placed) < count:
        east, north = rng.uniform(-half_width, half_width, size=2)
        if all(math.hypot(east - e, north - n) >= separation for e, n in placed):
            placed.append((float(east), float(north)))
    return [Star(*offset(lon, lat, e, n), flux) for e, n in placed]


def render(
    wcs: WCS,
    shape: tuple[int, int],
    stars: Sequence[Star],
    *,
    sigma: float = 1.8,
    background: Plane = NO_BACKGROUND,
    noise: float = 0.0,
    seed: int = 0,
) -> Float:
    """An image of Gaussian stars (``sigma`` input pixels) on a background plane in its pixels."""
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    image = background.a * x + background.b * y + background.c
    if stars:
        sx, sy = wcs.wcs_world2pix([[s.lon, s.lat] for s in stars], 0).T
        for star, px, py in zip(stars, sx, sy, strict=True):
            if -10 < px < nx + 10 and -10 < py < ny + 10:
                r2 = (x - px) ** 2 + (y - py) ** 2
                image += star.flux / (2 * math.pi * sigma**2) * np.exp(-r2 / (2 * sigma**2))
    if noise:
        image += np.random.default_rng(seed).normal(0.0, noise, size=shape)
    return np.asarray(image, dtype=np.float64)


def centroid(image: Float, x: float, y: float, *, half: int = 6) -> tuple[float, float]:
    """The first moment of ``image`` (on a zero sky) in a window around pixel (x, y)."""
    x0, y0 = round(x) - half, round(y) - half
    window = image[y0 : y0 + 2 * half + 1, x0 : x0 + 2 * half + 1]
    assert window.shape == (2 * half + 1, 2 * half + 1), "star too close to the edge"
    assert np.isfinite(window).all()
    w = np.clip(window, 0.0, None)
    assert w.sum() > 0, "no star where one was expected"
    gy, gx = np.mgrid[0 : window.shape[0], 0 : window.shape[1]]
    return float((w * gx).sum() / w.sum() + x0), float((w * gy).sum() / w.sum() + y0)


def run_mosaic(
    images: Sequence[SkyImage],
    grid: OutputGrid,
    *,
    tile_size: int = 64,
    method: Method = "bilinear",
    combine: Combine = "mean",
    match_background: bool = False,
    reference: str | None = None,
) -> Mosaic:
    """Make a mosaic with the library's stages, tile by tile, reading only each task's box."""
    data = {image.name: image.data for image in images}
    return make_mosaic(
        grid,
        [InputImage(i.name, i.wcs, i.data.shape) for i in images],
        lambda image, box: data[image.id][box.slices],
        tile_size=tile_size,
        method=method,
        combine=combine,
        match_background=match_background,
        reference=reference,
    )


# The helpers are trusted by every position and background test: check them.


@pytest.mark.parametrize("rotation", [0.0, 17.0])
def test_rendered_stars_are_where_the_wcs_puts_them(rotation: float) -> None:
    shape = (80, 90)
    wcs = make_wcs(359.99, 0.01, shape=shape, pixscale=2e-4, rotation=rotation)
    stars = star_field(359.99, 0.01, half_width=0.006, count=6, separation=0.003)
    image = render(wcs, shape, stars)
    for star in stars:
        x, y = wcs.wcs_world2pix([[star.lon, star.lat]], 0)[0]
        cx, cy = centroid(image, x, y)
        assert math.hypot(cx - x, cy - y) < 0.01


def test_rotation_puts_up_at_the_position_angle() -> None:
    wcs = make_wcs(10.0, 20.0, shape=(101, 101), pixscale=1e-3, rotation=90.0)
    (lon_c, lat_c), (lon_up, lat_up) = wcs.wcs_pix2world([[50, 50], [50, 60]], 0)
    assert lon_up > lon_c + 0.009  # up is east
    assert lat_up == pytest.approx(lat_c, abs=1e-4)


def test_offset_moves_east_and_north() -> None:
    lon, lat = offset(0.0, 0.0, 0.1, -0.2)
    assert lon == pytest.approx(0.1, abs=1e-4)
    assert lat == pytest.approx(-0.2, abs=1e-4)
