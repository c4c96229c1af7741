"""``s_region``: a DALI polygon of at most 100 vertices that holds every pixel of the image."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from skycut.index.footprint import image_footprint
from skycut.index.region import region_polygon
from tests.unit.test_index_footprint import SIP, image_header


def unit(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    r, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)], axis=-1)


def border(header: fits.Header, per_side: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """ICRS positions along the image's outer pixel edges, by astropy alone."""
    ny, nx = header["NAXIS2"], header["NAXIS1"]
    t = np.linspace(0.0, 1.0, per_side)
    x = np.concatenate([-0.5 + t * nx, np.full(per_side, nx - 0.5), nx - 0.5 - t * nx,
                        np.full(per_side, -0.5)])  # fmt: skip
    y = np.concatenate([np.full(per_side, -0.5), -0.5 + t * ny, np.full(per_side, ny - 0.5),
                        ny - 0.5 - t * ny])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sky = SkyCoord(WCS(header).celestial.pixel_to_world(x, y)).icrs
    return sky.ra.deg, sky.dec.deg


def inside_convex(
    vertices: tuple[tuple[float, float], ...], ra: np.ndarray, dec: np.ndarray
) -> np.ndarray:
    """Whether points lie on the inner side of every edge of a convex polygon whose vertices
    run counter-clockwise seen from outside the sphere (the order of DALI's example)."""
    corners = unit(*np.array(vertices).T)
    normals = np.cross(corners, np.roll(corners, -1, axis=0))  # inside: positive side
    return np.asarray((unit(ra, dec) @ normals.T >= 0).all(axis=1))


@pytest.mark.parametrize(
    "crval", [(150.0, 2.0), (0.02, -30.0), (359.98, 45.0), (10.0, 89.9), (200.0, -89.95)]
)
def test_a_distorted_outline_is_simplified_and_still_holds_every_border_pixel(
    crval: tuple[float, float],
) -> None:
    header = image_header(crval, shape=(4096, 4096), scale=0.2 / 3600, sip=SIP)
    footprint = image_footprint(header)
    assert len(footprint.vertices) > 100  # SIP bends the sides: many vertices
    polygon = region_polygon(footprint)
    assert 4 <= len(polygon) <= 100
    ra, dec = (np.array(c) for c in zip(*polygon, strict=True))
    assert ((ra >= 0) & (ra < 360) & (dec >= -90) & (dec <= 90)).all()
    edge_ra, edge_dec = border(header)
    assert inside_convex(polygon, edge_ra, edge_dec).all()
    # and not much larger: every vertex lies within 2 pixels of the image's border
    assert pixels_from_border(header, ra, dec).max() < 2.0


def pixels_from_border(header: fits.Header, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Distance in pixels from positions to the image's outer pixel edges, by astropy alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = WCS(header).celestial.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
    lo, hi_x, hi_y = -0.5, header["NAXIS1"] - 0.5, header["NAXIS2"] - 0.5
    outside = np.hypot(np.maximum.reduce([lo - x, x - hi_x, np.zeros_like(x)]),
                       np.maximum.reduce([lo - y, y - hi_y, np.zeros_like(y)]))  # fmt: skip
    inside = np.minimum.reduce([x - lo, hi_x - x, y - lo, hi_y - y])
    return np.asarray(np.where(outside > 0, outside, np.abs(inside)))


def test_an_outline_with_few_vertices_is_kept_as_it_is() -> None:
    footprint = image_footprint(image_header((150.0, 2.0), shape=(200, 300), scale=1e-4))
    assert region_polygon(footprint) == tuple((a, b) for a, b in footprint.vertices.tolist())
    assert len(footprint.vertices) == 4


def test_fewer_vertices_can_be_asked_for() -> None:
    header = image_header((150.0, 2.0), shape=(4096, 4096), scale=0.2 / 3600, sip=SIP)
    polygon = region_polygon(image_footprint(header), max_vertices=16)
    assert len(polygon) <= 16
    assert inside_convex(polygon, *border(header)).all()
    with pytest.raises(ValueError, match="at least 8"):
        region_polygon(image_footprint(header), max_vertices=3)
