"""The sample survey's field seen many times: every visit covers the target, the variable varies."""

from __future__ import annotations

import math
from collections import Counter
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS
from numpy.testing import assert_allclose

from skycut.sample.survey import (
    EPOCH_NAME_PATTERN,
    MASK_PLANES,
    SMALL_SCALE,
    TARGET,
    SampleImage,
    SurveyManifest,
    VariableStar,
    generate_survey,
    read_catalogue,
    read_variables,
)

STAMP_ARCSEC = 51 * 0.2  # DMS-REQ-0375's 51 x 51 stamp at full scale


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> SurveyManifest:
    return generate_survey(tmp_path_factory.mktemp("survey"), size_scale=SMALL_SCALE)


@pytest.fixture(scope="module")
def epochs(survey: SurveyManifest) -> list[SampleImage]:
    return [i for i in survey.images if fnmatchcase(i.name, EPOCH_NAME_PATTERN)]


@pytest.fixture(scope="module")
def variable(survey: SurveyManifest) -> VariableStar:
    (star,) = read_variables(survey.variables)
    return star


def test_field_is_visited_often_over_a_year_in_several_bands(epochs: list[SampleImage]) -> None:
    headers = [fits.getheader(i.path) for i in epochs]
    mjds = [h["MJD-OBS"] for h in headers]
    assert len(epochs) >= 30
    assert len({h["FILTER"] for h in headers}) >= 3
    assert max(mjds) - min(mjds) >= 300
    assert mjds == sorted(mjds), "numbered in time order"
    visits_per_night = Counter(math.floor(m) for m in mjds)
    assert sum(n >= 3 for n in visits_per_night.values()) >= 2, "a few nights of several visits"
    assert max(visits_per_night.values()) < len(epochs) / 4, "not all on a few nights"


def test_name_pattern_picks_out_the_field_only(survey: SurveyManifest) -> None:
    others = [i.name for i in survey.images if not fnmatchcase(i.name, EPOCH_NAME_PATTERN)]
    assert others == [
        "deepcoadd-i-0001.fits",
        "calexp-r-0001.fits",
        "calexp-r-0002.fits",
        "calexp-g-0003.fits",
        "calexp-i-0004.fits",
        "calexp-r-0002-rice.fits",
        *(f"calexp-r-m00{k}.fits" for k in range(1, 5)),
    ]


def test_headers_date_and_describe_each_visit(epochs: list[SampleImage]) -> None:
    for image in epochs:
        with fits.open(image.path) as hdul:
            assert [h.name for h in hdul] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
            header = hdul[0].header
            assert header["FILTER"] == image.name.split("-")[1]
            assert header["EXPTIME"] > 0
            assert header["OBJECT"] == "ECDFS"
            assert header["PRODTYPE"] == "calexp"
            date = Time(header["DATE-OBS"], format="isot", scale="utc")
            assert abs(date.mjd - header["MJD-OBS"]) * 86400 < 0.001
            assert hdul["IMAGE"].header["CTYPE1"] == "RA---TAN-SIP"
            assert hdul["IMAGE"].data.shape == image.shape


def test_every_visit_covers_the_target_with_room_for_a_stamp(epochs: list[SampleImage]) -> None:
    target = SkyCoord(*TARGET, unit="deg")
    offsets, rotations = [], []
    for image in epochs:
        header = fits.getheader(image.path, "IMAGE")
        wcs = WCS(header)
        margin = STAMP_ARCSEC / 2 / fits.getval(image.path, "PIXSCALE")
        x, y = wcs.all_world2pix([TARGET[0]], [TARGET[1]], 0)
        ny, nx = image.shape
        assert margin <= x[0] <= nx - 1 - margin, image.name
        assert margin <= y[0] <= ny - 1 - margin, image.name
        centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
        offsets.append(centre.separation(target).arcsec)
        rotations.append(math.degrees(math.atan2(header["CD2_1"], header["CD2_2"])))
    assert max(offsets) > 10, "dithered by tens of arcsec"
    assert max(rotations) - min(rotations) > 2, "and rotated"
    assert len({image.crval for image in epochs}) == len(epochs)


def test_variable_is_a_catalogued_star_at_the_target(
    survey: SurveyManifest, variable: VariableStar
) -> None:
    assert (variable.ra, variable.dec) == TARGET
    stars = {s.id: s for s in read_catalogue(survey.catalogue)}
    star = stars[variable.id]
    assert (star.ra, star.dec, star.mag) == (variable.ra, variable.dec, variable.curve.mean_mag)
    assert variable.curve.amplitude >= 1.0
    assert 10 <= variable.curve.period <= 100
    here = SkyCoord(variable.ra, variable.dec, unit="deg")
    others = SkyCoord([s.ra for s in stars.values()], [s.dec for s in stars.values()], unit="deg")
    assert np.count_nonzero(here.separation(others).arcsec < 10) == 1, "alone in its aperture"


def _recorded_magnitude(variable: VariableStar, mjd: float) -> float:
    """The light curve as ``variables.csv`` documents it."""
    c = variable.curve
    return c.mean_mag - c.amplitude / 2 * math.cos(2 * math.pi * (mjd - c.t0) / c.period)


def _aperture_flux(path: Path, ra: float, dec: float, radius_arcsec: float) -> float | None:
    """Sum within the aperture, minus a plane fitted to the undetected sky.

    `None` if an interpolated bad column crosses the aperture, as photometry
    would flag it: interpolating across a star's core changes its flux.
    """
    with fits.open(path) as hdul:
        data = hdul["IMAGE"].data.astype(np.float64)
        mask = hdul["MASK"].data
        x, y = WCS(hdul["IMAGE"].header).all_world2pix([ra], [dec], 0)
        radius = radius_arcsec / hdul[0].header["PIXSCALE"]
    yy, xx = np.mgrid[: data.shape[0], : data.shape[1]]
    distance = np.hypot(xx - x[0], yy - y[0])
    sky = (distance > 2 * radius) & (mask & (1 << MASK_PLANES["DETECTED"]) == 0)
    design = np.column_stack([np.ones(sky.sum()), xx[sky], yy[sky]])
    plane = np.linalg.lstsq(design, data[sky], rcond=None)[0]
    inside = distance <= radius
    if np.any(mask[inside] & ((1 << MASK_PLANES["BAD"]) | (1 << MASK_PLANES["INTRP"]))):
        return None
    background = plane[0] + plane[1] * xx[inside] + plane[2] * yy[inside]
    return float(np.sum(data[inside] - background))


def test_variable_flux_follows_its_recorded_light_curve(
    epochs: list[SampleImage], variable: VariableStar
) -> None:
    measured, expected, mags = [], [], []
    for image in epochs:
        # a 6″ radius: well past the PSF's wing at these seeings
        flux = _aperture_flux(image.path, variable.ra, variable.dec, 6.0)
        if flux is None:
            continue
        header = fits.getheader(image.path)
        mag = _recorded_magnitude(variable, header["MJD-OBS"])
        mags.append(mag)
        expected.append(10 ** (-0.4 * (mag - header["MAGZERO"])))
        measured.append(flux)
    assert len(measured) >= 8
    assert max(mags) - min(mags) > 1.2, "the visits catch it bright and faint"
    assert_allclose(measured, expected, rtol=0.03)
