"""The epochs package: every stamp in time order, exact pixels and WCS, one stretch for all."""

from __future__ import annotations

import io

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from skycut.bulk.epochs import EpochStamp, epoch_packages, epochs_fits, filmstrip_png
from skycut.jobs.records import StoredResult
from tests.unit.test_index_footprint import image_header

SIDE = 51


def stamp(k: int, mjd: float | None, peak: float, band: str = "r") -> EpochStamp:
    rng = np.random.default_rng(k)
    y, x = np.mgrid[:SIDE, :SIDE]
    star = peak * np.exp(-((x - 25) ** 2 + (y - 25) ** 2) / (2 * 2.0**2))
    sky = 100.0 * (k + 1)  # every exposure has its own sky level
    data = (sky + star + rng.normal(0, 3.0, (SIDE, SIDE))).astype(np.float32)
    header = image_header((53.1 + k * 1e-4, -27.8), shape=(SIDE, SIDE))
    return EpochStamp.of(f"gs://b/e{k}.fits", header, data, mjd, band)


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


def cutout_file(hdus: list[fits.PrimaryHDU | fits.ImageHDU]) -> bytes:
    out = io.BytesIO()
    fits.HDUList(hdus).writeto(out)
    return out.getvalue()


def result(k: int, content: bytes, source_id: str) -> StoredResult:
    return StoredResult(
        result_id=f"r{k}", index=k, status="ok", bucket="b", object_name=f"jobs/j/{k}.fits",
        mime_type="application/fits", size=len(content), source_id=source_id, row=3, label="star",
    )  # fmt: skip


def test_integer_stamps_keep_their_stored_values_and_scaling() -> None:
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 65535, (SIDE, SIDE), dtype=np.uint16)
    counts[0, 0] = 0
    header = image_header((10.0, 20.0), shape=(SIDE, SIDE))
    stamp = EpochStamp.of("gs://b/u.fits", header, counts, 1, "g")
    with fits.open(io.BytesIO(epochs_fits([stamp], label="u", ra=None, dec=None))) as hdul:
        hdul.verify("exception")
        assert (hdul[1].header["BITPIX"], hdul[1].header["BZERO"]) == (16, 32768)
        assert_array_equal(hdul[1].data, counts)
    assert_array_equal(stamp.data, counts.astype(np.float64))  # the filmstrip's physical values


def test_cards_the_package_sets_appear_once_even_when_the_stamp_has_them() -> None:
    header = image_header((10.0, 20.0), shape=(SIDE, SIDE))
    header["EXTNAME"] = "IMAGE"
    header["FILTER"] = "old"
    header["SC_SRC"] = "gs://elsewhere/" + "x" * 90  # a long string: CONTINUE cards
    header["MJD-OBS"] = 1.0
    long_id = "gs://survey-bucket/" + "deep/" * 20 + "calexp.fits"
    stamp = EpochStamp.of(long_id, header, np.ones((SIDE, SIDE), np.float32), 60000.25, "i")
    with fits.open(io.BytesIO(epochs_fits([stamp], label="s", ra=1.0, dec=2.0))) as hdul:
        hdul.verify("exception")
        cards = hdul[1].header
        assert [cards.count(k) for k in ("EXTNAME", "FILTER", "SC_SRC", "MJD-OBS")] == [1] * 4
        assert (cards["EXTNAME"], cards["FILTER"], cards["SC_SRC"]) == ("EPOCH001", "i", long_id)
        assert cards["MJD-OBS"] == 60000.25
        assert cards["DATE-OBS"].startswith("2023-02-25T06:00:00")
        assert "CONTINUE" not in [c.keyword for c in cards.cards if "elsewhere" in str(c.value)]


def test_cutouts_are_read_from_their_bytes_whichever_hdu_holds_the_image() -> None:
    header = image_header((53.1, -27.8), shape=(SIDE, SIDE))
    data = np.arange(SIDE * SIDE, dtype=np.float32).reshape(SIDE, SIDE)
    in_primary = fits.PrimaryHDU(data, header=header)
    in_primary.header["MJD-OBS"] = 60002.0
    provenance = fits.PrimaryHDU()
    provenance.header["SC_STENC"] = "CIRCLE 53.1 -27.8 0.001"
    provenance.header["MJD-OBS"] = 60001.0
    as_extension = [provenance, fits.ImageHDU(data[::-1].copy(), header=header, name="IMAGE")]
    contents = [
        (result(0, c, f"gs://b/{k}.fits"), c)
        for k, c in enumerate([cutout_file([in_primary]), cutout_file(as_extension)])
    ]
    (package,) = epoch_packages(contents)
    assert (package.row, package.stamps) == (3, 2)
    with fits.open(io.BytesIO(package.fits)) as hdul:
        hdul.verify("exception")
        assert (hdul[0].header["RA"], hdul[0].header["DEC"]) == (53.1, -27.8)
        assert [h.header["SC_SRC"] for h in hdul[1:]] == ["gs://b/1.fits", "gs://b/0.fits"]
        assert all(h.header["XTENSION"] == "IMAGE" for h in hdul[1:])
        assert_array_equal(hdul[1].data, data[::-1])
        assert_array_equal(hdul[2].data, data)
        assert_allclose(
            WCS(hdul[2].header).all_pix2world([[3, 7]], 0),
            WCS(header).all_pix2world([[3, 7]], 0),
            rtol=0,
            atol=1e-12,
        )
