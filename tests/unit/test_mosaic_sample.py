"""Mosaics of the sample survey's mosaic field: seams matched away, stars and flux where due.

The field (`skycut.sample.mosaic_field`) is four adjacent r calexps across
RA = 0, each on its own sky (120 to 380 adu apart, 5 to 17 sigma of a pixel),
with a sky tilt and a SIP distortion of its own and a rotation of under 2
degrees against its neighbours. The survey is generated small (1.6" pixels),
its catalogue is the truth the stars are checked against.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import numpy.typing as npt
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_area
from numpy.testing import assert_allclose
from reproject import reproject_interp
from reproject.mosaicking import reproject_and_coadd

from skycut.mosaic.background import Plane
from skycut.mosaic.grid import OutputGrid, grid_from_parameters
from skycut.mosaic.inprocess import Mosaic
from skycut.mosaic.reproject_tile import Method, TilePlane, reproject_to_tile
from skycut.mosaic.tiles import Tiling
from skycut.sample.mosaic_field import MOSAIC_CENTRE, MOSAIC_EXPOSURES
from skycut.sample.survey import (
    MASK_PLANES,
    SMALL_SCALE,
    CatalogueStar,
    SurveyManifest,
    generate_survey,
    read_catalogue,
)
from tests.unit.test_mosaic_sky import SkyImage, run_mosaic

Float = npt.NDArray[np.float64]
NAMES = [e.name for e in MOSAIC_EXPOSURES]
NEIGHBOURS = [(0, 1), (2, 3), (0, 2), (1, 3)]  # SW-SE, NW-NE, SW-NW, SE-NE
PIXSCALE = 1.6 / 3600  # the small survey's pixels


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> SurveyManifest:
    return generate_survey(tmp_path_factory.mktemp("survey"), size_scale=SMALL_SCALE)


@pytest.fixture(scope="module")
def field(survey: SurveyManifest) -> list[SkyImage]:
    images = []
    for name in NAMES:
        with fits.open(survey.image(name).path) as hdul, warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            data = hdul["IMAGE"].data.astype(np.float64)
            # saturated cores and repaired columns would be stars or seams of their own
            data[(hdul["MASK"].data & (1 << MASK_PLANES["SAT"])) != 0] = np.nan
            images.append(SkyImage(name, data, WCS(hdul["IMAGE"].header)))
    return images


@pytest.fixture(scope="module")
def repaired(survey: SurveyManifest) -> dict[str, npt.NDArray[np.bool_]]:
    """Each input's pixels on a bad column, filled from its neighbours (``BAD``)."""
    bad = 1 << MASK_PLANES["BAD"]
    return {n: (fits.getdata(survey.image(n).path, "MASK") & bad) != 0 for n in NAMES}


def on_repaired_pixels(
    star: CatalogueStar, field: list[SkyImage], repaired: dict[str, npt.NDArray[np.bool_]]
) -> bool:
    """Whether an input has a repaired column within 4 pixels of the star (its profile is
    not the star's there)."""
    for image in field:
        x, y = image.wcs.all_world2pix([star.ra], [star.dec], 0)
        ix, iy = round(float(x[0])), round(float(y[0]))
        if repaired[image.name][max(iy - 4, 0) : iy + 5, max(ix - 4, 0) : ix + 5].any():
            return True
    return False


@pytest.fixture(scope="module")
def noise(survey: SurveyManifest) -> float:
    """The noise of one pixel of the darkest exposure (adu)."""
    return min(
        math.sqrt(float(np.median(fits.getdata(survey.image(n).path, "VARIANCE")))) for n in NAMES
    )


@pytest.fixture(scope="module")
def stars(survey: SurveyManifest) -> list[CatalogueStar]:
    """Every catalogued star of the field."""
    return [s for s in read_catalogue(survey.catalogue) if abs(s.dec - 20) < 1]


def field_grid(*, rotation: float = 0.0, pixscale: float = PIXSCALE) -> OutputGrid:
    side = round(0.11 / pixscale)
    return grid_from_parameters(
        center=MOSAIC_CENTRE, width=side, height=side, pixscale=pixscale, rotation=rotation
    )


def on_grid(image: SkyImage, grid: OutputGrid) -> TilePlane:
    return reproject_to_tile(image.data, image.wcs, Tiling(grid, max(grid.shape)).tile(0, 0))


def seam(images: list[SkyImage], grid: OutputGrid, backgrounds: dict[str, Plane]) -> list[Float]:
    """Each neighbouring pair's difference, after its corrections, over the pixels both cover."""
    box = Tiling(grid, max(grid.shape)).tile(0, 0).box
    planes = [on_grid(i, grid) for i in images]
    corrected = [
        p.data - backgrounds[i.name].on_box(box) for p, i in zip(planes, images, strict=True)
    ]
    return [
        (corrected[a] - corrected[b])[planes[a].covered & planes[b].covered] for a, b in NEIGHBOURS
    ]


def robust_sigma(values: Float) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def test_the_field_is_adjacent_overlapping_rotated_exposures_on_different_skies(
    field: list[SkyImage], noise: float
) -> None:
    grid = field_grid()
    covered = [on_grid(i, grid).covered for i in field]
    for a, b in NEIGHBOURS:
        shared = (covered[a] & covered[b]).sum() / covered[a].sum()
        assert 0.1 < shared < 0.25, (a, b)
    assert (covered[0] & covered[1] & covered[2] & covered[3]).any(), "all four at the centre"
    skies = [float(np.nanmedian(i.data)) for i in field]
    for a, b in itertools.combinations(range(4), 2):
        assert abs(skies[a] - skies[b]) > 5 * noise
    angles = [math.degrees(math.atan2(i.wcs.wcs.cd[1, 0], i.wcs.wcs.cd[1, 1])) for i in field]
    for a, b in NEIGHBOURS:
        assert 0.5 < abs(angles[a] - angles[b]) < 3.0
    lon = [i.wcs.calc_footprint()[:, 0] for i in field]
    assert any((f > 359.9).any() and (f < 0.1).any() for f in lon), "the field crosses RA = 0"


@pytest.mark.parametrize("order", ["bilinear", "bicubic"])
def test_the_field_mosaic_agrees_with_reproject_and_coadd(
    field: list[SkyImage], order: Method
) -> None:
    # TAN-SIP inputs with saturated (NaN) cores, across RA = 0, onto a rotated grid
    grid = field_grid(rotation=25.0)
    ours = run_mosaic(field, grid, tile_size=256, method=order)
    expected, footprint = reproject_and_coadd(
        [(i.data, i.wcs) for i in field],
        grid.wcs,
        shape_out=grid.shape,
        reproject_function=reproject_interp,
        combine_function="mean",
        order=order,
    )
    covered = footprint > 0
    assert covered.mean() > 0.5
    assert_allclose(ours.coverage, footprint, atol=1e-9)
    assert_allclose(ours.data[covered], expected[covered], rtol=1e-4)


def test_matching_removes_the_seams_of_the_field(field: list[SkyImage], noise: float) -> None:
    grid = field_grid(rotation=25.0)
    unmatched = seam(field, grid, {n: Plane() for n in NAMES})
    # without matching, each seam is 5 to 12 sigma of a pixel: the test can fail
    assert min(abs(float(np.median(d))) for d in unmatched) > 5 * noise
    matched = run_mosaic(field, grid, tile_size=128, match_background=True)
    for difference in seam(field, grid, matched.backgrounds):
        assert difference.size > 1000
        assert abs(float(np.median(difference))) < 0.1 * noise
        # what is left is the two images' noise, not a slope across the overlap
        assert robust_sigma(difference) < 1.6 * noise
        half = difference.size // 2
        assert abs(float(np.median(difference[:half]) - np.median(difference[half:]))) < 0.3 * noise
    assert set(np.unique(matched.count)) == {0, 1, 2, 3, 4}


def windowed_centroid(image: Float, x: float, y: float, *, sigma: float) -> tuple[float, float]:
    """Gaussian-weighted centroid (as SExtractor's XWIN), background subtracted, iterated."""
    half = 7
    ix, iy = round(x), round(y)
    window = image[iy - half : iy + half + 1, ix - half : ix + half + 1]
    assert window.shape == (2 * half + 1, 2 * half + 1)
    assert np.isfinite(window).all()
    gy, gx = np.mgrid[iy - half : iy + half + 1, ix - half : ix + half + 1].astype(np.float64)
    edge = np.hypot(gx - ix, gy - iy) > half - 1.5
    values = window - np.median(window[edge])
    cx, cy = float(ix), float(iy)
    for _ in range(30):
        w = values * np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * sigma**2))
        nx, ny = float((w * gx).sum() / w.sum()), float((w * gy).sum() / w.sum())
        if math.hypot(nx - cx, ny - cy) < 1e-5:
            break
        cx, cy = nx, ny
    return cx, cy


def isolated(
    stars: list[CatalogueStar],
    wcs: WCS,
    mosaic: Mosaic,
    *,
    mags: tuple[float, float],
    room: float,
    contrast: float,
) -> list[tuple[CatalogueStar, float, float]]:
    """Stars in the magnitude range wholly on the mosaic, with their pixel positions, and
    no other catalogued star within ``room`` pixels less than ``contrast`` mag fainter."""
    x, y = wcs.all_world2pix([s.ra for s in stars], [s.dec for s in stars], 0)
    magnitudes = np.array([s.mag for s in stars])
    ny, nx = mosaic.data.shape
    out = []
    for i, star in enumerate(stars):
        ix, iy = round(float(x[i])), round(float(y[i]))
        if not (mags[0] < star.mag < mags[1] and 10 <= ix < nx - 10 and 10 <= iy < ny - 10):
            continue
        near = (np.hypot(x - x[i], y - y[i]) < room) & (magnitudes < star.mag + contrast)
        if np.count_nonzero(near) > 1:
            continue
        if np.isfinite(mosaic.data[iy - 9 : iy + 10, ix - 9 : ix + 10]).all():
            out.append((star, float(x[i]), float(y[i])))
    return out


def test_stars_land_where_the_mosaic_wcs_puts_them_across_ra_zero(
    field: list[SkyImage],
    stars: list[CatalogueStar],
    repaired: dict[str, npt.NDArray[np.bool_]],
) -> None:
    grid = field_grid(rotation=25.0)
    mosaic = run_mosaic(field, grid, tile_size=128, method="exact", match_background=True)
    errors, crossing = [], 0
    for star, x, y in isolated(stars, grid.wcs, mosaic, mags=(17.3, 21.0), room=8.0, contrast=2.5):
        if on_repaired_pixels(star, field, repaired):
            continue
        cx, cy = windowed_centroid(mosaic.data, x, y, sigma=1.5)
        errors.append(math.hypot(cx - x, cy - y))
        crossing += star.ra < 0.02 or star.ra > 359.98
    assert len(errors) >= 10
    assert crossing >= 4
    assert max(errors) < 0.1


def aperture_flux(image: Float, wcs: WCS, ra: float, dec: float, radius: float) -> float:
    """Sum over a circle of ``radius`` degrees round (ra, dec), less the median of a ring
    outside it, times the pixel's solid angle."""
    scale = math.sqrt(proj_plane_pixel_area(wcs))
    x, y = wcs.all_world2pix([ra], [dec], 0)
    gy, gx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    ring = np.hypot(gx - x[0], gy - y[0]) * scale
    inside, outside = ring < radius, (ring > 1.15 * radius) & (ring < 1.5 * radius)
    assert np.isfinite(image[inside | outside]).all()
    sky = float(np.median(image[outside]))
    return float((image[inside] - sky).sum()) * scale**2


def inside(image: SkyImage, ra: float, dec: float) -> bool:
    x, y = image.wcs.all_world2pix([ra], [dec], 0)
    ny, nx = image.data.shape
    return bool(-0.5 <= x[0] < nx - 0.5 and -0.5 <= y[0] < ny - 0.5)


def test_flux_is_conserved_across_ra_zero(
    field: list[SkyImage], stars: list[CatalogueStar]
) -> None:
    # Pixels 25% larger than the inputs': flux is kept only if each output pixel
    # takes its inputs' surface brightness over its own solid angle. Each star
    # is measured in the mosaic and in the inputs that cover it, over the same
    # circle of sky.
    grid = field_grid(pixscale=1.25 * PIXSCALE)
    mosaic = run_mosaic(field, grid, tile_size=96, method="exact", match_background=True)
    radius = 6 * PIXSCALE
    ratios = []
    for star, x, y in isolated(stars, grid.wcs, mosaic, mags=(17.3, 21.5), room=7.0, contrast=4.0):
        count = mosaic.count[round(y) - 9 : round(y) + 10, round(x) - 9 : round(x) + 10]
        sources = [image for image in field if inside(image, star.ra, star.dec)]
        if (count != len(sources)).any():
            continue  # near an input's edge
        # the mosaic is the mean of its inputs (with the backgrounds the ring takes away)
        expected = np.mean(
            [aperture_flux(i.data, i.wcs, star.ra, star.dec, radius) for i in sources]
        )
        ratios.append(aperture_flux(mosaic.data, grid.wcs, star.ra, star.dec, radius) / expected)
    assert len(ratios) >= 8
    assert float(np.median(ratios)) == pytest.approx(1.0, abs=0.005)
