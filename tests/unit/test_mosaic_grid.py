"""Output grids from explicit parameters, SODA regions and header templates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs.utils import proj_plane_pixel_scales
from numpy.testing import assert_allclose

from skycut.cutout.stencil import parse_stencil
from skycut.errors import UsageError
from skycut.mosaic.grid import (
    OutputGrid,
    grid_for_region,
    grid_from_parameters,
    grid_from_template,
)


@pytest.mark.parametrize(
    "projection", ["TAN", "SIN", "ZEA", "ARC", "STG", "CAR", "AIT", "MOL", "CEA", "MER", "HPX"]
)
@pytest.mark.parametrize("centre", [(150.1, 2.2), (0.0, -60.0), (359.9, 89.0)])
def test_the_centre_is_at_the_centre_pixel(projection: str, centre: tuple[float, float]) -> None:
    grid = grid_from_parameters(
        center=centre, width=201, height=101, pixscale=2e-3, projection=projection
    )
    assert grid.shape == (101, 201)
    lon, lat = grid.wcs.wcs_pix2world([[100, 50]], 0)[0]
    here = SkyCoord(lon, lat, unit="deg")
    assert here.separation(SkyCoord(*centre, unit="deg")).deg < 1e-9
    assert_allclose(proj_plane_pixel_scales(grid.wcs), [2e-3, 2e-3])
    assert grid.wcs.wcs.ctype[0].endswith(projection)


def step(grid: OutputGrid, dx: float, dy: float) -> tuple[float, float]:
    """(east, north) in degrees of a move from the centre pixel by (dx, dy) pixels."""
    cy, cx = (grid.shape[0] - 1) / 2, (grid.shape[1] - 1) / 2
    (lon0, lat0), (lon1, lat1) = grid.wcs.wcs_pix2world([[cx, cy], [cx + dx, cy + dy]], 0)
    return (((lon1 - lon0 + 180) % 360 - 180) * math.cos(math.radians(lat0)), lat1 - lat0)


@pytest.mark.parametrize("projection", ["TAN", "SIN", "ZEA"])
@pytest.mark.parametrize(
    ("rotation", "up"), [(0.0, (0, 1)), (90.0, (1, 0)), (-30.0, (-0.5, 0.866))]
)
def test_rotation_is_the_position_angle_of_up(
    projection: str, rotation: float, up: tuple[float, float]
) -> None:
    grid = grid_from_parameters(
        center=(10.0, 30.0), width=101, height=101, pixscale=1e-3, projection=projection,
        rotation=rotation,
    )  # fmt: skip
    east, north = step(grid, 0, 10)
    assert_allclose([east, north], [0.01 * up[0], 0.01 * up[1]], atol=2e-5)
    # and east is to the left of up, as on the sky seen from inside
    east, north = step(grid, -10, 0)
    assert_allclose([east, north], [0.01 * up[1], -0.01 * up[0]], atol=2e-5)


def test_a_car_grid_away_from_the_equator_stays_a_plate_carree() -> None:
    grid = grid_from_parameters(
        center=(45.0, 60.0), width=301, height=201, pixscale=0.05, projection="CAR"
    )
    lon, lat = grid.wcs.wcs_pix2world([[0, 0], [0, 200], [300, 0], [300, 200]], 0).T
    assert lon[0] == pytest.approx(lon[1])  # meridians are columns
    assert lat[0] == pytest.approx(lat[2])  # parallels are rows
    assert lat[1] - lat[0] == pytest.approx(10.0)


def test_a_galactic_grid_is_centred_in_galactic_coordinates() -> None:
    grid = grid_from_parameters(
        center=(0.0, 0.0), width=11, height=11, pixscale=0.1, frame="GALACTIC"
    )
    assert list(grid.wcs.wcs.ctype) == ["GLON-TAN", "GLAT-TAN"]
    centre = grid.wcs.pixel_to_world(5, 5)
    assert centre.icrs.ra.deg == pytest.approx(266.405, abs=1e-3)  # the Galactic centre


REGIONS = [
    "CIRCLE 150.1 2.2 0.05",
    "CIRCLE 0.01 -0.02 0.05",  # astride RA = 0
    "CIRCLE 123.0 89.98 0.05",  # holds the pole
    "RANGE 359.95 0.05 -0.04 0.03",
    "POLYGON 10.0 10.0 10.1 10.0 10.05 10.08",
    "RANGE 0 360 88 90",  # a polar cap
]


@pytest.mark.parametrize("projection", ["TAN", "ZEA", "SIN", "AIT"])
@pytest.mark.parametrize("pos", REGIONS)
def test_a_region_grid_holds_the_region_and_little_else(pos: str, projection: str) -> None:
    stencil = parse_stencil(pos)
    scale = 1e-3 if not pos.startswith("RANGE 0 360") else 2e-2
    grid = grid_for_region(stencil, pixscale=scale, projection=projection)
    ny, nx = grid.shape
    # every pixel centre inside the region is on the grid (with a ring around it to see)
    y, x = np.mgrid[-3 : ny + 3, -3 : nx + 3]
    world = grid.wcs.wcs_pix2world(x.ravel(), y.ravel(), 0)
    with np.errstate(invalid="ignore"):
        inside = stencil.contains(world[0], world[1]).reshape(x.shape)
    rows, cols = np.nonzero(inside)
    assert rows.size > 0
    assert rows.min() >= 3
    assert cols.min() >= 3
    assert rows.max() < ny + 3
    assert cols.max() < nx + 3
    # ... and the region reaches the grid's edge on all four sides (within a pixel)
    assert rows.min() <= 4
    assert cols.min() <= 4
    assert rows.max() >= ny + 1
    assert cols.max() >= nx + 1


def test_a_cylindrical_grid_of_a_polar_cap_spans_all_longitudes() -> None:
    grid = grid_for_region(parse_stencil("RANGE 0 360 80 90"), pixscale=0.5, projection="CAR")
    assert grid.shape == (21, 721)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pixscale": 0.0}, "PIXSCALE"),
        ({"pixscale": math.nan}, "PIXSCALE"),
        ({"projection": "XYZ"}, "PROJECTION 'XYZ'"),
        ({"projection": "ZPN"}, "TEMPLATE"),
        ({"projection": "COE"}, "TEMPLATE"),
        ({"rotation": math.inf}, "ROTATION"),
        ({"frame": "FK4"}, "FRAME"),
        ({"width": 0}, "at least 1x1"),
        ({"width": 2000, "height": 2000}, "exceeds the limit of 1000000 pixels"),
        ({"center": (10.0, 91.0)}, "centre"),
    ],
)
def test_bad_parameters_are_usage_errors(kwargs: dict[str, object], match: str) -> None:
    args = {
        "center": (10.0, 20.0), "width": 100, "height": 100, "pixscale": 1e-3,
        "max_pixels": 1_000_000,
    } | kwargs  # fmt: skip
    with pytest.raises(UsageError, match=match):
        grid_from_parameters(**args)


def test_a_region_beyond_the_projection_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="cannot be drawn whole in a TAN grid"):
        grid_for_region(parse_stencil("CIRCLE 10 20 95"), pixscale=1.0)
    grid = grid_for_region(parse_stencil("CIRCLE 10 20 95"), pixscale=1.0, projection="ZEA")
    assert grid.shape[0] == grid.shape[1] > 160  # ZEA draws 95 degrees at 84.5 pixels


def test_a_region_too_large_for_the_limit_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="exceeds the limit"):
        grid_for_region(parse_stencil("CIRCLE 10 20 1"), pixscale=1e-4, max_pixels=10_000_000)


MONTAGE_HEADER = """SIMPLE  = T
BITPIX  = -64
NAXIS   = 2
NAXIS1  = 300
NAXIS2  = 200
CTYPE1  = 'RA---SIN'
CTYPE2  = 'DEC--SIN'
EQUINOX = 2000
CRVAL1  =  265.91334
CRVAL2  =  -29.35778
CRPIX1  =  150.5
CRPIX2  =  100.5
CDELT1  = -0.000277778
CDELT2  =  0.000277778
CROTA2  =  12.000000
END
"""


def test_a_montage_text_header_gives_its_grid() -> None:
    grid = grid_from_template(MONTAGE_HEADER)
    assert grid.shape == (200, 300)
    reference = fits.Header.fromstring(MONTAGE_HEADER, sep="\n")
    from astropy.wcs import WCS

    assert_allclose(
        grid.wcs.wcs_pix2world([[0, 0], [299, 199]], 0),
        WCS(reference).wcs_pix2world([[0, 0], [299, 199]], 0),
    )


def test_a_fits_file_template_and_a_grid_header_round_trip() -> None:
    grid = grid_from_parameters(
        center=(83.8, -5.4), width=64, height=48, pixscale=1e-3, projection="AIT", rotation=7.0
    )
    data = fits.PrimaryHDU(data=np.zeros(grid.shape, dtype=np.float32), header=grid.header())
    import io

    buffer = io.BytesIO()
    data.writeto(buffer)
    header = grid.header()
    for template in (buffer.getvalue(), header.tostring(sep="\n"), header.tostring()):
        again = grid_from_template(template)
        assert again.shape == grid.shape
        assert_allclose(
            again.wcs.wcs_pix2world([[0, 0], [63, 47]], 0),
            grid.wcs.wcs_pix2world([[0, 0], [63, 47]], 0),
            rtol=0,
            atol=1e-10,
        )


@pytest.mark.parametrize(
    ("template", "match"),
    [
        ("NAXIS   = 2\nCTYPE1  = 'RA---TAN'\n", "NAXIS1 and NAXIS2"),
        (
            "NAXIS   = 2\nNAXIS1  = 10\nNAXIS2  = 10\nCTYPE1  = 'WAVE'\nCTYPE2  = 'FREQ'\n",
            "celestial",
        ),
        ("NAXIS1  = 100000\nNAXIS2  = 100000\n", "exceeds the limit"),
        (b"SIMPLE  = T but not a file", "FITS"),
    ],
)
def test_bad_templates_are_usage_errors(template: str | bytes, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        grid_from_template(template, max_pixels=1_000_000)


def test_a_distorted_template_keeps_its_distortion_through_the_grid_header() -> None:
    text = (
        MONTAGE_HEADER.replace("'RA---SIN'", "'RA---TAN-SIP'")
        .replace("'DEC--SIN'", "'DEC--TAN-SIP'")
        .replace("END\n", "A_ORDER = 2\nB_ORDER = 2\nA_2_0   = 1e-5\nB_0_2   = -2e-5\nEND\n")
    )
    grid = grid_from_template(text)
    assert grid.wcs.sip is not None
    again = grid_from_template(grid.header().tostring(sep="\n"))
    corners = [[0, 0], [299, 0], [0, 199], [299, 199]]
    assert_allclose(
        again.wcs.all_pix2world(corners, 0), grid.wcs.all_pix2world(corners, 0), atol=1e-10
    )
    distortion = grid.wcs.all_pix2world(corners, 0) - grid.wcs.wcs_pix2world(corners, 0)
    assert np.abs(distortion).max() > 1e-5  # the SIP terms move the corners by ~0.2 pixel
