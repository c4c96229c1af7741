"""Mosaic request parameters: each way to ask for a grid, the images, the modes, every refusal."""

from __future__ import annotations

import io
import math
import re
from typing import Any

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs.utils import proj_plane_pixel_scales
from numpy.testing import assert_allclose

from skycut.cutout.intervals import Interval
from skycut.cutout.selection import FITS, PNG
from skycut.cutout.stencil import Circle, Range
from skycut.errors import MultiValuedParamNotSupportedError, UsageError
from skycut.mosaic.grid import grid_from_parameters
from skycut.mosaic.request import ImageSelection, MosaicRequest, parse_mosaic_request
from skycut.soda.ids import SourceRef

BUCKET = "survey"
ID1 = f"gs://{BUCKET}/a/one.fits"
ID2 = f"gs://{BUCKET}/a/two.fits"


def parse(
    upload: bytes | None = None,
    max_pixels: int = 10_000_000,
    max_inputs: int = 4,
    max_area: float = math.inf,
    **params: Any,
) -> MosaicRequest:
    grouped = {k.upper(): v if isinstance(v, list) else [v] for k, v in params.items()}
    return parse_mosaic_request(
        grouped,
        template=upload,
        allowed_buckets=[BUCKET],
        max_pixels=max_pixels,
        max_inputs=max_inputs,
        max_area=max_area,
    )


def test_a_pos_region_with_defaults() -> None:
    request = parse(pos="CIRCLE 150.1 2.2 0.01", pixscale="0.0005")
    assert request.region == Circle(150.1, 2.2, 0.01)
    assert request.region_text == "POS=CIRCLE 150.1 2.2 0.01"
    # the smallest grid holding a 0.02° disc at 0.0005°/px: 40 pixels and the one it touches
    assert request.grid.shape in {(40, 40), (41, 41)}
    assert request.grid.wcs.wcs.ctype[0] == "RA---TAN"
    assert (request.method, request.combine, request.background) == ("bilinear", "mean", "none")
    assert (request.planes, request.response_format) == ((), FITS)
    assert request.images == ImageSelection()


def test_an_explicit_grid_and_its_lookup_circle() -> None:
    request = parse(
        crval="150.1 2.2", width="300", height="200", pixscale="0.001", projection="SIN",
        rotation="30", collection="calexp", band="6e-7 7e-7", time=["61000 61010", "61020 61030"],
    )  # fmt: skip
    grid = request.grid
    assert grid.shape == (200, 300)
    assert grid.wcs.wcs.ctype[0] == "RA---SIN"
    assert_allclose(proj_plane_pixel_scales(grid.wcs), [0.001, 0.001])
    assert request.images.collections == ("calexp",)
    assert request.images.bands == (Interval(6e-7, 7e-7),)
    assert len(request.images.times) == 2
    # the circle the index is asked with holds the grid's corners, and little more
    assert isinstance(request.region, Circle)
    corners = grid.wcs.pixel_to_world([-0.5, 299.5, -0.5, 299.5], [-0.5, -0.5, 199.5, 199.5])
    centre = SkyCoord(request.region.ra, request.region.dec, unit="deg")
    assert (centre.separation(corners).deg <= request.region.radius).all()
    half_diagonal = 0.001 * math.hypot(150, 100)
    assert request.region.radius == pytest.approx(half_diagonal, rel=0.02)
    assert "300x200 grid" in request.region_text


def test_center_is_a_synonym_and_galactic_frame() -> None:
    request = parse(center="0 0", width="10", height="10", pixscale="0.01", frame="galactic")
    assert request.grid.wcs.wcs.ctype[0] == "GLON-TAN"
    # the lookup circle is in ICRS: the Galactic centre is at RA 266.4, Dec -28.9
    assert isinstance(request.region, Circle)
    assert (request.region.ra, request.region.dec) == pytest.approx((266.405, -28.936), abs=1e-3)


def test_a_template_header_gives_the_whole_grid() -> None:
    header = grid_from_parameters(center=(53.1, -27.8), width=64, height=32, pixscale=1e-4).header()
    text = "\n".join(card.image.rstrip() for card in header.cards)
    for template, form in [(None, text), (text.encode(), None)]:
        params: dict[str, Any] = {"template": form} if form is not None else {}
        request = parse(upload=template, id=ID1, **params)
        assert request.grid.shape == (32, 64)
        assert request.region_text == "the TEMPLATE grid"
        assert request.images.ids == (SourceRef(BUCKET, "a/one.fits"),)


def test_modes_detail_and_formats() -> None:
    request = parse(
        pos="RANGE 10 10.1 -5 -4.9", pixscale="0.001", method="exact", combine="median",
        background="match", detail="count,coverage", id=[ID1, ID2, ID1], runid="run 7",
    )  # fmt: skip
    assert (request.method, request.combine, request.background) == ("exact", "median", "match")
    assert request.planes == ("COUNT", "COVERAGE")
    assert request.images.ids == (SourceRef(BUCKET, "a/one.fits"), SourceRef(BUCKET, "a/two.fits"))
    assert isinstance(request.region, Range)
    assert request.run_id == "run 7"
    assert (
        parse(pos="CIRCLE 1 1 0.01", pixscale="0.001", responseformat="png").response_format == PNG
    )


def test_the_request_travels_as_json_values() -> None:
    request = parse(
        pos="POLYGON 10 10 10.1 10 10.1 10.1", pixscale="0.001", projection="ZEA",
        collection="calexp", band="6e-7 +Inf", time="-Inf 61000", combine="sum", detail="coverage",
    )  # fmt: skip
    again = MosaicRequest.from_dict(request.to_dict())
    assert again.to_dict() == request.to_dict()
    assert again.grid.shape == request.grid.shape
    ys, xs = np.mgrid[0 : request.grid.shape[0] : 5, 0 : request.grid.shape[1] : 5]
    assert_allclose(
        np.array(again.grid.wcs.all_pix2world(xs, ys, 0)),
        np.array(request.grid.wcs.all_pix2world(xs, ys, 0)),
        atol=1e-12,
    )
    assert again.images == request.images
    by_id = parse(pos="CIRCLE 1 1 0.01", pixscale="0.001", id=ID1)
    assert MosaicRequest.from_dict(by_id.to_dict()).images == by_id.images


GOOD_POS = {"pos": "CIRCLE 150.1 2.2 0.01", "pixscale": "0.0005"}
RGB_BANDS = ["4.8e-7 4.8e-7", "7.5e-7 7.5e-7", "6.2e-7 6.2e-7"]  # g, i, r: any order


def test_a_colour_request_shows_its_reddest_band_red_and_travels_as_json() -> None:
    request = parse(**GOOD_POS, color="rgb", band=RGB_BANDS, responseformat="image/jpeg")
    assert request.color == "rgb"
    assert [band.lo for band in request.colour_bands] == [7.5e-7, 6.2e-7, 4.8e-7]
    again = MosaicRequest.from_dict(request.to_dict())
    assert (again.color, again.images) == ("rgb", request.images)
    assert parse(**GOOD_POS).color == "grey"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "needs a region or a grid: POS"),
        ({"pixscale": "0.001"}, "needs a region or a grid"),
        ({"pos": "CIRCLE 150.1 2.2 0.01"}, "PIXSCALE is required"),
        ({**GOOD_POS, "pixscale": "-1"}, "PIXSCALE -1.0 must be a positive number"),
        ({**GOOD_POS, "pixscale": "fine"}, "PIXSCALE has a value that is not a number"),
        ({**GOOD_POS, "pos": "CIRCLE 150.1 2.2"}, "CIRCLE needs 3 numbers"),
        ({**GOOD_POS, "pos": "SQUARE 1 2 3"}, "SQUARE"),
        ({**GOOD_POS, "crval": "150 2"}, "not POS and CRVAL"),
        ({**GOOD_POS, "circle": "150 2 0.1"}, "not POS and CIRCLE"),
        ({"crval": "150 2", "center": "150 2", "pixscale": "1"}, "not CRVAL and CENTER"),
        ({**GOOD_POS, "width": "100"}, "WIDTH go with CRVAL"),
        ({"crval": "150 2", "pixscale": "0.001", "width": "10"}, "CRVAL needs HEIGHT"),
        ({"crval": "150", "pixscale": "0.001", "width": "10", "height": "10"}, "CRVAL needs 2"),
        ({"crval": "150 95", "pixscale": "0.001", "width": "10", "height": "10"}, "not a sky pos"),
        ({"crval": "1 1", "pixscale": "0.001", "width": "10.5", "height": "10"},
         "WIDTH '10.5' must be a whole number of pixels"),
        ({"crval": "1 1", "pixscale": "0.001", "width": "0", "height": "10"}, "at least 1"),
        ({**GOOD_POS, "projection": "XYZ"}, "PROJECTION 'XYZ' is not a celestial FITS projection"),
        ({**GOOD_POS, "projection": "ZPN"}, "needs parameters"),
        ({**GOOD_POS, "frame": "FK4"}, "FRAME 'FK4' is not supported; use ICRS or GALACTIC"),
        ({**GOOD_POS, "rotation": "nan"}, "ROTATION values must be finite"),
        ({"pos": "CIRCLE 0 0 100", "pixscale": "1"}, "cannot be drawn whole in a TAN grid"),
        ({"pos": "CIRCLE 0 0 10", "pixscale": "0.0001"}, "exceeds the limit of 10000000 pixels"),
        ({"template": "NAXIS1 = 10\nNAXIS2 = 10\nCTYPE1 = 'RA---TAN'", "pixscale": "1"},
         "TEMPLATE gives the whole grid; do not also give PIXSCALE"),
        ({"template": "SIMPLE = T\nNAXIS = 0"}, "TEMPLATE needs integer NAXIS1 and NAXIS2"),
        ({"template": "NAXIS = 2\nNAXIS1 = 10\nNAXIS2 = 10\nCTYPE1 = 'X'\nCTYPE2 = 'Y'"},
         "TEMPLATE must describe a 2-D celestial grid"),
        ({**GOOD_POS, "method": "nearest"}, "METHOD 'nearest' is not supported; use one of "
         "bilinear, bicubic, exact"),
        ({**GOOD_POS, "combine": "max"}, "COMBINE 'max' is not supported; use one of mean, "
         "median, sum, weighted"),
        ({**GOOD_POS, "background": "fit"}, "BACKGROUND 'fit' is not supported; use one of none"),
        ({**GOOD_POS, "detail": "variance"}, "DETAIL 'variance' is not supported"),
        ({**GOOD_POS, "detail": "coverage", "responseformat": "png"}, "needs RESPONSEFORMAT"),
        ({**GOOD_POS, "responseformat": "text/csv"}, "RESPONSEFORMAT 'text/csv' is not supported"),
        ({**GOOD_POS, "id": "gs://elsewhere/x.fits"}, "elsewhere"),
        ({**GOOD_POS, "id": ID1, "collection": "calexp"}, "give ID (the images to use) or"),
        ({**GOOD_POS, "id": ID1, "band": "6e-7 7e-7"}, "not both"),
        ({**GOOD_POS, "collection": " "}, "COLLECTION is empty"),
        ({**GOOD_POS, "band": "7e-7 6e-7"}, "lo <= hi"),
        ({**GOOD_POS, "time": "soon"}, "TIME"),
        ({**GOOD_POS, "id": [f"gs://{BUCKET}/{k}.fits" for k in range(5)]},
         "5 IDs were given, more than the limit of 4 inputs"),
        ({**GOOD_POS, "runid": "x" * 65}, "RUNID is longer than 64"),
        ({**GOOD_POS, "color": "sepia"}, "COLOR 'sepia' is not supported; use one of grey, rgb"),
        ({**GOOD_POS, "color": "rgb", "band": RGB_BANDS}, "COLOR=rgb makes a colour preview"),
        ({**GOOD_POS, "color": "rgb", "band": RGB_BANDS[:2], "responseformat": "image/png"},
         "COLOR=rgb takes three BAND values, one per colour (the reddest is shown red), not 2"),
        ({**GOOD_POS, "color": "rgb", "id": ID1, "responseformat": "image/png"},
         "COLOR=rgb finds each band's images in the index"),
        ({**GOOD_POS, "color": "rgb", "band": [*RGB_BANDS[:2], "7e-7 8e-7"],
          "responseformat": "png"},
         "COLOR=rgb takes three separate bands: BAND 7.5e-07 7.5e-07 and 7e-07 8e-07 overlap"),
        ({**GOOD_POS, "pixscal": "0.001", "method": "x"},
         "ignored unknown parameter: PIXSCAL, did you mean PIXSCALE?"),
    ],
)  # fmt: skip
def test_every_bad_request_says_what_is_wrong(params: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=_literal(message)):
        parse(**params)


def _literal(text: str) -> str:
    return re.escape(text)


@pytest.mark.parametrize("name", ["PIXSCALE", "METHOD", "POS", "TEMPLATE", "DETAIL"])
def test_single_valued_parameters_refuse_repeats(name: str) -> None:
    params: dict[str, Any] = {**GOOD_POS, name.lower(): ["a", "b"]}
    with pytest.raises(MultiValuedParamNotSupportedError, match=f"{name} was given 2 times"):
        parse(**params)


def test_a_template_as_file_and_value_is_refused() -> None:
    with pytest.raises(UsageError, match="TEMPLATE was given twice"):
        parse(upload=b"NAXIS1 = 1", template="NAXIS1 = 1")


def test_a_template_fits_file_is_read() -> None:
    header = grid_from_parameters(center=(10, 10), width=20, height=30, pixscale=1e-3).header()
    hdu = fits.PrimaryHDU(np.zeros((30, 20), np.float32), header=header)
    out = io.BytesIO()
    hdu.writeto(out)
    assert parse(upload=out.getvalue()).grid.shape == (30, 20)


def test_a_grid_over_the_area_limit_is_refused_saying_its_area() -> None:
    # 1000 x 1000 pixels of 0.002 deg: 2 x 2 degrees, 4 square degrees
    grid = {"crval": "150 2", "width": "1000", "height": "1000", "pixscale": "0.002"}
    assert parse(**grid, max_area=4.01).grid.area == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(UsageError, match=r"the 1000x1000 grid covers 4 square degrees, over "
                                         r"the limit of 3\.5 for one mosaic"):  # fmt: skip
        parse(**grid, max_area=3.5)
