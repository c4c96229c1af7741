"""The sample survey: deterministic, survey-like, stars where the catalogue says."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose

from skycut.sample.survey import (
    EPOCH_NAME_PATTERN,
    MASK_PLANES,
    MOSAIC_NAME_PATTERN,
    SMALL_SCALE,
    SurveyManifest,
    generate_survey,
    read_catalogue,
)

IMAGE_NAMES = [
    "deepcoadd-i-0001.fits",
    "calexp-r-0001.fits",
    "calexp-r-0002.fits",
    "calexp-g-0003.fits",
    "calexp-i-0004.fits",
    "calexp-r-0002-rice.fits",
]
SOME_EPOCHS = ["calexp-g-e001.fits", "calexp-z-e017.fits", "calexp-i-e034.fits"]
MOSAIC_IMAGES = [f"calexp-r-m00{k}.fits" for k in range(1, 5)]


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> SurveyManifest:
    return generate_survey(tmp_path_factory.mktemp("survey"), size_scale=SMALL_SCALE)


def _robust_sigma(data: np.ndarray) -> float:
    diffs = np.diff(data.astype(np.float64), axis=1).ravel()
    return float(1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2))


def test_manifest_lists_every_file(survey: SurveyManifest) -> None:
    names = [i.name for i in survey.images]
    assert names[: len(IMAGE_NAMES)] == IMAGE_NAMES
    # the epochs, then the mosaic field (added last, so nothing before it moved)
    assert all(fnmatchcase(n, EPOCH_NAME_PATTERN) for n in names[len(IMAGE_NAMES) : -4])
    assert names[-4:] == MOSAIC_IMAGES
    assert all(fnmatchcase(n, MOSAIC_NAME_PATTERN) for n in MOSAIC_IMAGES)
    assert not any(fnmatchcase(n, MOSAIC_NAME_PATTERN) for n in names[:-4])
    assert survey.image("calexp-r-m001.fits").shape == (128, 128)
    assert survey.image("calexp-g-e001.fits").shape == (64, 64)
    assert all(i.path.is_file() for i in survey.images)
    assert survey.image("deepcoadd-i-0001.fits").shape == (512, 512)
    assert survey.image("calexp-r-0001.fits").shape == (256, 256)
    assert [i.name for i in survey.images if i.compressed] == ["calexp-r-0002-rice.fits"]
    with pytest.raises(KeyError, match="nope"):
        survey.image("nope")


def test_two_generations_are_byte_identical(tmp_path: Path, survey: SurveyManifest) -> None:
    again = generate_survey(tmp_path, size_scale=SMALL_SCALE)
    for first, second in zip(survey.images, again.images, strict=True):
        assert first.path.read_bytes() == second.path.read_bytes(), first.name
    assert survey.catalogue.read_bytes() == again.catalogue.read_bytes()
    assert survey.variables.read_bytes() == again.variables.read_bytes()


def test_other_seed_gives_other_pixels(tmp_path: Path, survey: SurveyManifest) -> None:
    other = generate_survey(tmp_path, seed=7, size_scale=SMALL_SCALE)
    with fits.open(survey.images[1].path) as a, fits.open(other.images[1].path) as b:
        assert not np.array_equal(a["IMAGE"].data, b["IMAGE"].data)


@pytest.mark.parametrize("name", IMAGE_NAMES + SOME_EPOCHS + MOSAIC_IMAGES[:1])
def test_file_looks_like_a_calexp(survey: SurveyManifest, name: str) -> None:
    image = survey.image(name)
    with fits.open(image.path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
        primary = hdul[0]
        assert primary.data is None
        assert primary.header["TELESCOP"] == "skycut-sim"
        for key in ("FILTER", "MJD-OBS", "EXPTIME", "OBJECT"):
            assert key in primary.header
        kind = fits.CompImageHDU if image.compressed else fits.ImageHDU
        for hdu, bitpix in zip(hdul[1:], (-32, 32, -32), strict=True):
            assert isinstance(hdu, kind)
            assert hdu.header["BITPIX"] == bitpix
            assert hdu.data.shape == image.shape
            header = hdu.header
            assert (header["CTYPE1"], header["CTYPE2"]) == ("RA---TAN-SIP", "DEC--TAN-SIP")
            assert (header["RADESYS"], header["EQUINOX"]) == ("ICRS", 2000.0)
            assert header["A_ORDER"] in (2, 3)
            assert header["B_ORDER"] in (2, 3)
            assert "AP_ORDER" in header
            assert "BP_ORDER" in header
            wcs = WCS(header)
            assert wcs.sip is not None
            assert_allclose(wcs.wcs.crval, image.crval)
        assert hdul["MASK"].header["MP_SAT"] == MASK_PLANES["SAT"]


@pytest.mark.parametrize("name", IMAGE_NAMES + SOME_EPOCHS)
def test_sip_inverse_undoes_the_distortion(survey: SurveyManifest, name: str) -> None:
    image = survey.image(name)
    wcs = WCS(fits.getheader(image.path, "IMAGE"))
    grid = np.linspace(0, image.shape[0] - 1, 17)
    pix = np.column_stack([g.ravel() for g in np.meshgrid(grid, grid)])
    focal = wcs.sip_pix2foc(pix, 0)
    distortion = np.abs(focal + wcs.wcs.crpix - 1 - pix).max()
    assert distortion > 0.1  # the SIP terms do something...
    assert_allclose(wcs.sip_foc2pix(focal, 0), pix, atol=0.01)  # ...and AP/BP undo it


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_catalogued_stars_are_at_the_flux_peaks(survey: SurveyManifest, name: str) -> None:
    image = survey.image(name)
    stars = [s for s in read_catalogue(survey.catalogue) if abs(s.dec - image.crval[1]) < 1]
    with fits.open(image.path) as hdul:
        data = hdul["IMAGE"].data
        mask = hdul["MASK"].data
        wcs = WCS(hdul["IMAGE"].header)
        noise = float(np.sqrt(np.median(hdul["VARIANCE"].data)))
    x, y = wcs.all_world2pix([s.ra for s in stars], [s.dec for s in stars], 0)
    mags = np.array([s.mag for s in stars])
    ny, nx = image.shape
    unusable = (1 << MASK_PLANES["SAT"]) | (1 << MASK_PLANES["BAD"])
    checked = 0
    for i in np.argsort(mags):
        cx, cy = round(x[i]), round(y[i])
        if not (5 <= cx < nx - 5 and 5 <= cy < ny - 5):
            continue
        if np.any(mask[cy - 4 : cy + 5, cx - 4 : cx + 5] & unusable):
            continue
        distance = np.hypot(x - x[i], y - y[i])
        if np.count_nonzero(distance < 6) > 1:
            continue
        box = data[cy - 3 : cy + 4, cx - 3 : cx + 4]
        py, px = np.unravel_index(np.argmax(box), box.shape)
        assert np.hypot(cx - 3 + px - x[i], cy - 3 + py - y[i]) <= 1.0, stars[i]
        assert box.max() - np.median(data) > 20 * noise
        checked += 1
        if checked == 5:
            break
    assert checked == 5


def test_same_star_in_overlapping_images(survey: SurveyManifest) -> None:
    star = min(
        (s for s in read_catalogue(survey.catalogue) if abs(s.dec - 2.2) < 1 and s.mag > 16),
        key=lambda s: (s.ra - 150.1) ** 2 + (s.dec - 2.2) ** 2,
    )
    seen = []
    for name in ("deepcoadd-i-0001.fits", "calexp-r-0001.fits", "calexp-g-0003.fits"):
        header = fits.getheader(survey.image(name).path, "IMAGE")
        x, y = WCS(header).all_world2pix([star.ra], [star.dec], 0)
        if 0 <= x[0] < header["NAXIS1"] and 0 <= y[0] < header["NAXIS2"]:
            seen.append(name)
    assert len(seen) >= 2


def test_bright_stars_saturate_and_are_masked(survey: SurveyManifest) -> None:
    with fits.open(survey.image("deepcoadd-i-0001.fits").path) as hdul:
        saturated = (hdul["MASK"].data & (1 << MASK_PLANES["SAT"])) != 0
        assert saturated.any()
        assert np.all(hdul["IMAGE"].data[saturated] == hdul[0].header["SATURATE"])


def test_calexps_have_flagged_bad_columns(survey: SurveyManifest) -> None:
    mask = fits.getdata(survey.image("calexp-r-0001.fits").path, "MASK")
    bad_columns = np.flatnonzero(((mask & (1 << MASK_PLANES["BAD"])) != 0).any(axis=0))
    assert 1 <= len(bad_columns) <= 2


def test_wrap_image_straddles_ra_zero(survey: SurveyManifest) -> None:
    image = survey.image("calexp-i-0004.fits")
    wcs = WCS(fits.getheader(image.path, "IMAGE"))
    ra = wcs.calc_footprint(axes=image.shape[::-1])[:, 0]
    assert (ra > 359).any()
    assert (ra < 1).any()


def test_compressed_copy_matches_its_source(survey: SurveyManifest) -> None:
    source = survey.image("calexp-r-0002.fits")
    copy = survey.image("calexp-r-0002-rice.fits")
    assert copy.path.stat().st_size < source.path.stat().st_size / 2
    with fits.open(copy.path, disable_image_compression=True) as raw:
        for name in ("IMAGE", "MASK", "VARIANCE"):
            assert raw[name].header["ZCMPTYPE"] == "RICE_1"
            assert raw[name].header["ZTILE1"] == min(256, source.shape[1])
            assert raw[name].header["ZTILE2"] == min(256, source.shape[0])
    with fits.open(source.path) as src, fits.open(copy.path) as comp:
        np.testing.assert_array_equal(comp["MASK"].data, src["MASK"].data)
        for name in ("IMAGE", "VARIANCE"):
            original = src[name].data
            # Quantised to 1/16 of each tile's noise, dithered: error ≤ half a step.
            assert_allclose(comp[name].data, original, rtol=0, atol=_robust_sigma(original) / 16)
        assert comp[0].header == src[0].header


def test_second_call_uses_the_cache(tmp_path: Path) -> None:
    first = generate_survey(tmp_path, size_scale=SMALL_SCALE)
    files = [
        *(i.path for i in first.images),
        first.catalogue,
        first.variables,
        tmp_path / "manifest.json",
    ]
    mtimes = [p.stat().st_mtime_ns for p in files]
    again = generate_survey(tmp_path, size_scale=SMALL_SCALE)
    assert again == first
    assert [p.stat().st_mtime_ns for p in files] == mtimes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in files)


def test_damaged_survey_is_regenerated(tmp_path: Path) -> None:
    first = generate_survey(tmp_path, size_scale=SMALL_SCALE)
    target = first.image("calexp-r-0001.fits").path
    content = target.read_bytes()
    target.write_bytes(content[:2880])
    generate_survey(tmp_path, size_scale=SMALL_SCALE)
    assert target.read_bytes() == content


@pytest.mark.parametrize("scale", [0.0, -1.0, 1.5, 0.01])
def test_bad_size_scale_is_refused(tmp_path: Path, scale: float) -> None:
    with pytest.raises(ValueError, match="size_scale"):
        generate_survey(tmp_path, size_scale=scale)
