"""The epochs package: every stamp in time order, exact pixels and WCS, one stretch for all."""

from __future__ import annotations

import io

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from skycut.bulk.epochs import EpochStamp, epochs_fits, filmstrip_png
from tests.unit.test_index_footprint import image_header

SIDE = 51


def stamp(k: int, mjd: float | None, peak: float, band: str = "r") -> EpochStamp:
    rng = np.random.default_rng(k)
    y, x = np.mgrid[:SIDE, :SIDE]
    star = peak * np.exp(-((x - 25) ** 2 + (y - 25) ** 2) / (2 * 2.0**2))
    sky = 100.0 * (k + 1)  # every exposure has its own sky level
    data = (sky + star + rng.normal(0, 3.0, (SIDE, SIDE))).astype(np.float32)
    header = image_header((53.1 + k * 1e-4, -27.8), shape=(SIDE, SIDE))
    return EpochStamp(f"gs://b/e{k}.fits", header, data, mjd, band)


def test_fits_holds_every_stamp_oldest_first_with_its_wcs() -> None:
    stamps = [
        stamp(0, 60100.5, 500),
        stamp(1, 60010.25, 900),
        stamp(2, None, 10),
        stamp(3, 60050, 1),
    ]
    with fits.open(io.BytesIO(epochs_fits(stamps, label="star 7", ra=53.1, dec=-27.8))) as hdul:
        assert hdul[0].header["NEPOCHS"] == 4
        assert hdul[0].header["OBJECT"] == "star 7"
        order = [h.header["SC_SRC"] for h in hdul[1:]]
        assert order == ["gs://b/e1.fits", "gs://b/e3.fits", "gs://b/e0.fits", "gs://b/e2.fits"]
        assert [h.name for h in hdul[1:]] == ["EPOCH001", "EPOCH002", "EPOCH003", "EPOCH004"]
        assert hdul[1].header["MJD-OBS"] == 60010.25
        assert "MJD-OBS" not in hdul[4].header
        assert hdul[1].header["FILTER"] == "r"
        for hdu, source in zip(hdul[1:], [stamps[1], stamps[3], stamps[0], stamps[2]], strict=True):
            assert_array_equal(hdu.data, source.data)
            corners = [[0, 0], [SIDE - 1, 0], [0, SIDE - 1], [25, 25]]
            assert_allclose(
                WCS(hdu.header).all_pix2world(corners, 0),
                WCS(source.header).all_pix2world(corners, 0),
                rtol=0,
                atol=1e-12,
            )


def test_filmstrip_keeps_brightness_differences_between_epochs() -> None:
    faint, bright = stamp(0, 60000, 200), stamp(1, 60030, 3000)
    png = Image.open(io.BytesIO(filmstrip_png([bright, faint])))
    grey = np.asarray(png)
    assert png.format == "PNG"
    side = 2 * SIDE  # small stamps are shown enlarged, whole pixels repeated
    cell = png.width // 2  # two stamps side by side, each cell as wide as its label needs
    assert cell >= side
    first, second = grey[:side, :side], grey[:side, cell : cell + side]
    core = 2 * 25 + 1
    # oldest first: the faint epoch left; its star's core clearly darker than the bright one's
    assert first[side - 1 - core, core] < 0.8 * second[side - 1 - core, core]
    # sky levels differ by 100 between the exposures, yet both skies look the same
    assert abs(float(np.median(first)) - float(np.median(second))) <= 3
    assert grey.shape[0] >= side + 10  # room for the labels
