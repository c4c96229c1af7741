"""ObsCore-like facts read from image headers: band, time, polarisation, collection."""

from __future__ import annotations

import pytest
from astropy.io import fits
from astropy.time import Time
from numpy.testing import assert_allclose

from skycut.collection_rules import CollectionRule
from skycut.index.bands import DEFAULT_FILTERS, filter_band
from skycut.index.collection import collection_of
from skycut.index.metadata import MetadataConfig, image_metadata
from tests.unit.test_index_footprint import image_header

URI = "gs://skycut-sources/sample/deepcoadd-i-0001.fits"


def test_filter_card_gives_the_band() -> None:
    header = image_header((10.0, 20.0))
    header.update(FILTER="i", INSTRUME="LSSTCam", TELESCOP="Rubin")
    meta = image_metadata(header, uri=URI)
    assert (meta.em_min, meta.em_max) == DEFAULT_FILTERS["i"]
    assert meta.filter_name == "i"
    assert (meta.instrument_name, meta.facility_name) == ("LSSTCam", "Rubin")
    assert meta.dataproduct_type == "image"


@pytest.mark.parametrize(
    ("name", "band"),
    [("r", "r"), ("r_57", "r"), ("g DECam SDSS c0001", "g"), (" Ks ", "Ks"), ("J", "J")],
)
def test_filter_names_as_headers_write_them(name: str, band: str) -> None:
    assert filter_band(name) == DEFAULT_FILTERS[band]


@pytest.mark.parametrize("name", ["R", "HSC-R2", "", "k"])
def test_unknown_filters_have_no_band(name: str) -> None:
    assert filter_band(name) is None


def test_filter_table_is_configurable() -> None:
    header = image_header((10.0, 20.0))
    header["BANDPASS"] = "NB921"
    config = MetadataConfig(filters={"NB921": (9.1e-7, 9.3e-7)})
    meta = image_metadata(header, uri=URI, config=config)
    assert (meta.em_min, meta.em_max) == (9.1e-7, 9.3e-7)
    assert image_metadata(header, uri=URI).em_min is None


def cube_header(ctype3: str, crval3: float, cdelt3: float, n3: int) -> fits.Header:
    header = image_header((10.0, 20.0), shape=(20, 30))
    # The celestial axes use CDi_j, so the third axis's scale is CD3_3 (CDELT3 would be ignored).
    header.update(NAXIS=3, NAXIS3=n3, CTYPE3=ctype3, CRVAL3=crval3, CD3_3=cdelt3, CRPIX3=1.0)
    return header


def test_spectral_axis_beats_the_filter_card() -> None:
    header = cube_header("WAVE", 5e-7, 1e-9, 10)
    header["FILTER"] = "z"
    meta = image_metadata(header, uri=URI)
    assert meta.dataproduct_type == "cube"
    # Pixel edges: 5e-7 - 0.5 nm to 5e-7 + 9.5 nm.
    assert_allclose((meta.em_min, meta.em_max), (4.995e-7, 5.095e-7), rtol=1e-12)
    assert meta.filter_name is None


def test_frequency_axis_in_wavelength() -> None:
    header = cube_header("FREQ", 1.0e14, 1.0e12, 3)
    header["CUNIT3"] = "Hz"
    meta = image_metadata(header, uri=URI)
    c = 299_792_458.0
    assert_allclose((meta.em_min, meta.em_max), (c / 1.025e14, c / 0.995e14), rtol=1e-9)


def test_stokes_axis_gives_pol_states() -> None:
    meta = image_metadata(cube_header("STOKES", 1.0, 1.0, 4), uri=URI)
    assert meta.pol_states == ("I", "Q", "U", "V")
    assert meta.dataproduct_type == "cube"
    assert meta.em_min is None


def test_degenerate_third_axis_is_still_an_image() -> None:
    meta = image_metadata(cube_header("WAVE", 5e-7, 1e-9, 1), uri=URI)
    assert meta.dataproduct_type == "image"
    assert meta.em_min is not None


def test_time_from_mjd_obs_and_exposure_time() -> None:
    header = image_header((10.0, 20.0))
    header.update(MJD_OBS=60000.25, EXPTIME=30.0)
    header.rename_keyword("MJD_OBS", "MJD-OBS")
    meta = image_metadata(header, uri=URI)
    assert meta.t_min == pytest.approx(60000.25, abs=1e-9)
    assert meta.t_max == pytest.approx(60000.25 + 30.0 / 86400.0, abs=1e-9)
    assert meta.t_exptime == 30.0


def test_time_from_date_obs_in_the_primary_header() -> None:
    primary = fits.Header({"DATE-OBS": "2024-03-01T12:00:00", "TIMESYS": "UTC"})
    primary["XPOSURE"] = 15.0
    meta = image_metadata(image_header((10.0, 20.0)), uri=URI, inherited=[primary])
    expected = Time("2024-03-01T12:00:00", scale="utc").mjd
    assert meta.t_min == pytest.approx(expected, abs=1e-9)
    assert meta.t_exptime == 15.0


def test_exposure_span_without_a_duration_card() -> None:
    header = image_header((10.0, 20.0))
    header["MJD-BEG"] = 60100.0
    header["MJD-END"] = 60100.5
    meta = image_metadata(header, uri=URI)
    assert (meta.t_min, meta.t_max) == pytest.approx((60100.0, 60100.5))
    assert meta.t_exptime == pytest.approx(43200.0)


def test_unknown_time_scale_leaves_time_unknown() -> None:
    header = image_header((10.0, 20.0))
    header.update({"MJD-OBS": 60000.0, "TIMESYS": "LOCAL"})
    meta = image_metadata(header, uri=URI)
    assert meta.t_min is None


def test_no_time_cards() -> None:
    meta = image_metadata(image_header((10.0, 20.0)), uri=URI)
    assert (meta.t_min, meta.t_max, meta.t_exptime) == (None, None, None)


RULES = (
    CollectionRule("sample/deepcoadd-*", "deepcoadd", calib_level=3),
    CollectionRule("sample/calexp-*", "calexp"),
    CollectionRule("gs://other-bucket/*", "other"),
)


@pytest.mark.parametrize(
    ("uri", "collection"),
    [
        (URI, "deepcoadd"),
        ("gs://skycut-sources/sample/calexp-1.fits", "calexp"),
        ("gs://other-bucket/sample/calexp-1.fits", "calexp"),  # object rules match any bucket
        ("gs://other-bucket/x/y.fits", "other"),
        ("gs://skycut-sources/survey/a/b.fits", "survey"),  # default: top folder
        ("gs://skycut-sources/root.fits", "skycut-sources"),  # default: bucket
    ],
)
def test_collection_from_where_the_image_is(uri: str, collection: str) -> None:
    assert collection_of(uri, RULES)[0] == collection


def test_calib_level_rule() -> None:
    header = image_header((10.0, 20.0))
    config = MetadataConfig(collections=RULES)
    calexp = "gs://skycut-sources/sample/calexp-1.fits"
    assert image_metadata(header, uri=calexp, config=config).calib_level == 2
    assert image_metadata(header, uri=URI, config=config).calib_level == 3  # the rule's
    header["NCOMBINE"] = 12
    assert image_metadata(header, uri=calexp, config=config).calib_level == 3
    header["CALIBLEV"] = 1
    assert image_metadata(header, uri=URI, config=config).calib_level == 1  # the header's


def test_plain_values_for_storage() -> None:
    header = cube_header("STOKES", 1.0, 1.0, 2)
    header.update(FILTER="g", INSTRUME="HSC")
    data = image_metadata(header, uri=URI).to_dict()
    assert data["pol_states"] == ["I", "Q"]
    assert data["obs_collection"] == "sample"
    allowed = (str, int, float, list, type(None))
    assert all(isinstance(v, allowed) for v in data.values())
