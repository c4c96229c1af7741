"""BAND, TIME and POL along spectral, time and Stokes axes of cubes, end to end."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from astropy import constants
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose, assert_array_equal

from skycut.cutout.axes import exposure_mjd
from skycut.cutout.engine import Cutout, cut
from skycut.cutout.intervals import Interval, PolState
from skycut.cutout.reader import LocalFileReader
from skycut.cutout.region import plan_region
from skycut.cutout.selection import Selection
from skycut.cutout.stencil import Circle
from skycut.errors import NoOverlapError, UnsupportedSourceError

NY, NX = 40, 50
C = constants.c.si.value


def sky_cards(header: fits.Header, *, first: int = 1) -> None:
    """A TAN WCS on FITS axes ``first`` and ``first + 1``, 2 arcsec pixels, centred at (10, 20)."""
    a, b = first, first + 1
    header.update({
        f"CTYPE{a}": "RA---TAN", f"CTYPE{b}": "DEC--TAN", f"CRVAL{a}": 10.0, f"CRVAL{b}": 20.0,
        f"CRPIX{a}": NX / 2 + 0.5, f"CRPIX{b}": NY / 2 + 0.5,
        f"CDELT{a}": -2 / 3600, f"CDELT{b}": 2 / 3600,
    })  # fmt: skip


def write_cube(path: Path, axis_cards: dict[str, object], n: int, *, order: str = "sky") -> Path:
    """A float32 cube: sky on axes 1-2 and the given third axis (or the third axis first)."""
    header = fits.Header()
    if order == "sky":
        sky_cards(header, first=1)
        header.update({k.replace("#", "3"): v for k, v in axis_cards.items()})
        shape: tuple[int, ...] = (n, NY, NX)
    else:
        header.update({k.replace("#", "1"): v for k, v in axis_cards.items()})
        sky_cards(header, first=2)
        shape = (NY, NX, n)
    data = np.arange(math.prod(shape), dtype=np.float32).reshape(shape)
    primary = fits.PrimaryHDU()
    primary.header["MJD-OBS"] = 60000.0
    fits.HDUList([primary, fits.ImageHDU(data, header=header, name="IMAGE")]).writeto(path)
    return path


WAVE = {"CTYPE#": "WAVE", "CUNIT#": "Angstrom", "CRVAL#": 5000.0, "CDELT#": 2.0, "CRPIX#": 1.0}
FREQ = {"CTYPE#": "FREQ", "CUNIT#": "GHz", "CRVAL#": 100.0, "CDELT#": 0.5, "CRPIX#": 1.0}
STOKES = {"CTYPE#": "STOKES", "CRVAL#": 1.0, "CDELT#": 1.0, "CRPIX#": 1.0}
LINEAR = {"CTYPE#": "STOKES", "CRVAL#": -5.0, "CDELT#": -1.0, "CRPIX#": 1.0}  # XX YY XY YX
TIME = {"CTYPE#": "TIME", "CUNIT#": "d", "CRVAL#": 0.0, "CDELT#": 0.25, "CRPIX#": 1.0,
        "MJDREF": 60000.0, "TIMESYS": "UTC"}  # fmt: skip


def run(path: Path, selection: Selection, **options: object) -> Cutout:
    return cut(LocalFileReader(path), selection, source_id=path.name, **options)  # type: ignore[arg-type]


def open_cutout(cutout: Cutout) -> fits.HDUList:
    return fits.open(io.BytesIO(cutout.content))


def spectral_slice(cutout: Cutout) -> slice:
    return cutout.hdus[0].region[0]


@pytest.mark.parametrize(
    ("band", "expected"),
    [
        ((5.0e-7, 5.01e-7), slice(0, 6)),  # 5000-5010 Å: pixels 0-5 (5010 is pixel 5's centre)
        ((5.0031e-7, 5.0031e-7), slice(2, 3)),  # one value: the pixel holding it (5003-5005 Å)
        ((5.0029e-7, 5.0031e-7), slice(1, 3)),  # across the edge of pixels 1 and 2
        ((-math.inf, 5.0045e-7), slice(0, 3)),
        ((5.0999e-7, math.inf), slice(50, 60)),  # 5099.9 Å is in pixel 50 (5099-5101 Å)
        ((1e-7, 1.0), slice(0, 60)),  # beyond the cube on both sides: all of it
    ],
)
def test_band_on_a_wavelength_axis(
    tmp_path: Path, band: tuple[float, float], expected: slice
) -> None:
    path = write_cube(tmp_path / "wave.fits", WAVE, 60)
    cutout = run(path, Selection(band=Interval(*band)))
    assert spectral_slice(cutout) == expected
    with fits.open(path) as src, open_cutout(cutout) as out:
        assert_array_equal(out["IMAGE"].data, src["IMAGE"].data[expected])
        src_wcs, out_wcs = WCS(src["IMAGE"].header), WCS(out["IMAGE"].header)
        k = np.arange(expected.stop - expected.start)
        assert_allclose(
            out_wcs.spectral.pixel_to_world_values(k),
            src_wcs.spectral.pixel_to_world_values(k + expected.start),
        )
        assert out[0].header["SC_BAND"] == Interval(*band).to_soda()


def test_every_kept_pixel_touches_the_band(tmp_path: Path) -> None:
    path = write_cube(tmp_path / "wave.fits", WAVE, 60)
    band = Interval(5.0123e-7, 5.0456e-7)
    kept = spectral_slice(run(path, Selection(band=band)))
    centres = 5000e-10 + 2e-10 * np.arange(60)
    touches = (centres + 1e-10 >= band.lo) & (centres - 1e-10 <= band.hi)
    assert kept == slice(int(np.flatnonzero(touches)[0]), int(np.flatnonzero(touches)[-1]) + 1)


def test_band_beyond_the_cube_has_no_overlap(tmp_path: Path) -> None:
    path = write_cube(tmp_path / "wave.fits", WAVE, 60)
    with pytest.raises(NoOverlapError, match=r"no overlap between BAND 6e-07 7e-07 and wave\.fits"):
        run(path, Selection(band=Interval(6e-7, 7e-7)))


def test_band_on_a_frequency_axis_in_wavelength(tmp_path: Path) -> None:
    path = write_cube(tmp_path / "freq.fits", FREQ, 40)  # 100 to 119.5 GHz, 3.0 to 2.5 mm
    # Wavelengths of 110 and 105 GHz: pixels 20 and 10, wavelength decreasing with pixel.
    band = Interval(C / 110e9, C / 105e9)
    assert spectral_slice(run(path, Selection(band=band))) == slice(10, 21)


def test_spectral_axis_first_in_the_file(tmp_path: Path) -> None:
    path = write_cube(tmp_path / "first.fits", WAVE, 30, order="spectral")
    cutout = run(
        path, Selection(stencil=Circle(10.0, 20.0, 10.4 / 3600), band=Interval(5.0e-7, 5.01e-7))
    )
    region = cutout.hdus[0].region
    assert region[2] == slice(0, 6)  # numpy's last axis is FITS axis 1, the spectral one
    assert cutout.box is not None
    assert region[:2] == cutout.box.slices
    assert cutout.box.shape == (12, 12)  # 5.2 pixels around a pixel corner
    with fits.open(path) as src, open_cutout(cutout) as out:
        assert_array_equal(out["IMAGE"].data, src["IMAGE"].data[region])
        assert out["IMAGE"].header["CRPIX2"] == src["IMAGE"].header["CRPIX2"] - region[1].start


def test_velocity_axis_without_rest_frequency_is_unsupported(tmp_path: Path) -> None:
    velocity = {"CTYPE#": "VRAD", "CUNIT#": "km/s", "CRVAL#": 0.0, "CDELT#": 1.0, "CRPIX#": 1.0}
    path = write_cube(tmp_path / "vrad.fits", velocity, 10)
    with pytest.raises(UnsupportedSourceError, match="cannot be converted to wavelength"):
        run(path, Selection(band=Interval(0.2, 0.3)))


def test_velocity_axis_with_rest_frequency(tmp_path: Path) -> None:
    velocity = {"CTYPE#": "VRAD", "CUNIT#": "km/s", "CRVAL#": 0.0, "CDELT#": 10.0,
                "CRPIX#": 1.0, "RESTFRQ": 1.420405752e9}  # fmt: skip
    path = write_cube(tmp_path / "vrad.fits", velocity, 10)
    # Radio velocity v = c (1 - f / f0): pixel 5 is 50 km/s, wavelength c / f.
    f5 = 1.420405752e9 * (1 - 50e3 / C)
    assert spectral_slice(run(path, Selection(band=Interval(C / f5, C / f5)))) == slice(5, 6)


@pytest.mark.parametrize(
    ("pol", "expected"),
    [
        (("Q",), slice(1, 2)),
        (("I", "V"), slice(0, 4)),  # the planes between are kept: the axis stays linear
        (("U", "Q"), slice(1, 3)),
        (("V", "RR"), slice(3, 4)),
    ],
)
def test_pol_on_a_stokes_axis(tmp_path: Path, pol: tuple[PolState, ...], expected: slice) -> None:
    path = write_cube(tmp_path / "iquv.fits", STOKES, 4)
    cutout = run(path, Selection(pol=pol))
    assert cutout.hdus[0].region[0] == expected
    with fits.open(path) as src, open_cutout(cutout) as out:
        assert_array_equal(out["IMAGE"].data, src["IMAGE"].data[expected])
        codes = (
            WCS(out["IMAGE"].header)
            .sub([3])
            .pixel_to_world_values(np.arange(out["IMAGE"].data.shape[0]))
        )
        assert_array_equal(codes, np.arange(expected.start, expected.stop) + 1)


def test_pol_on_linear_feeds(tmp_path: Path) -> None:
    path = write_cube(tmp_path / "xy.fits", LINEAR, 4)
    assert run(path, Selection(pol=("YY", "XY"))).hdus[0].region[0] == slice(1, 3)


@pytest.mark.parametrize("pol", [("RR",), ("POLI",), ("POLA", "LL")])
def test_pol_not_on_the_axis_has_no_overlap(tmp_path: Path, pol: tuple[PolState, ...]) -> None:
    path = write_cube(tmp_path / "iquv.fits", STOKES, 4)
    with pytest.raises(
        NoOverlapError, match=r"no overlap between POL .* \(its Stokes axis has I Q U V\)"
    ):
        run(path, Selection(pol=pol))


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ((60000.3, 60000.6), slice(1, 3)),  # pixel k covers MJD 60000 + 0.25 k ± 0.125
        ((60000.5, 60000.5), slice(2, 3)),
        ((-math.inf, 60000.1), slice(0, 1)),
        ((60001.0, math.inf), slice(4, 8)),
    ],
)
def test_time_on_a_time_axis(tmp_path: Path, time: tuple[float, float], expected: slice) -> None:
    path = write_cube(tmp_path / "time.fits", TIME, 8)
    cutout = run(path, Selection(time=Interval(*time)))
    assert cutout.hdus[0].region[0] == expected
    with open_cutout(cutout) as out:
        assert out["IMAGE"].header["CRPIX3"] == 1.0 - expected.start


def test_time_axis_in_seconds_and_tt(tmp_path: Path) -> None:
    seconds = {"CTYPE#": "TIME", "CUNIT#": "s", "CRVAL#": 0.0, "CDELT#": 3600.0, "CRPIX#": 1.0,
               "MJDREF": 60000.0, "TIMESYS": "TT"}  # fmt: skip
    path = write_cube(tmp_path / "tt.fits", seconds, 24)

    # Pixel k covers TT hours k - 0.5 to k + 0.5; TT runs 69.184 s ahead of UTC in 2023.
    def pixel_at(hours_utc: float) -> slice:
        mjd = 60000.0 + hours_utc / 24
        return run(path, Selection(time=Interval(mjd, mjd))).hdus[0].region[0]

    assert pixel_at(6.0) == slice(6, 7)
    assert pixel_at(5.5 - 30 / 3600) == slice(6, 7)  # 05:29:30 UTC is 05:30:39 TT
    assert pixel_at(5.5 - 90 / 3600) == slice(5, 6)  # 05:28:30 UTC is 05:29:39 TT


def test_time_beyond_the_axis_has_no_overlap(tmp_path: Path) -> None:
    path = write_cube(tmp_path / "time.fits", TIME, 8)
    with pytest.raises(NoOverlapError, match=r"its time axis covers 59999\.875 to 60001\.875 MJD"):
        run(path, Selection(time=Interval(60010.0, 60011.0)))


def test_filters_for_axes_the_cube_lacks_cut_nothing(tmp_path: Path) -> None:
    path = write_cube(tmp_path / "wave.fits", WAVE, 60)
    cutout = run(path, Selection(band=Interval(5.0e-7, 5.01e-7), pol=("Q",)))
    assert cutout.shape == (6, NY, NX)


def test_time_on_an_image_without_a_time_axis_is_checked_against_the_exposure(
    tmp_path: Path,
) -> None:
    path = write_cube(tmp_path / "wave.fits", WAVE, 60)  # MJD-OBS = 60000, no exposure time
    assert run(path, Selection(time=Interval(59999.0, 60001.0))).shape == (60, NY, NX)
    with pytest.raises(NoOverlapError, match=r"exposed from MJD 60000\.000000 to 60000\.000000"):
        run(path, Selection(time=Interval(60001.0, 60002.0)))


@pytest.mark.parametrize(
    ("cards", "expected"),
    [
        ({"MJD-OBS": 60000.0, "EXPTIME": 8640.0}, (60000.0, 60000.1)),
        ({"DATE-OBS": "2023-02-25T00:00:00", "XPOSURE": 864.0}, (60000.0, 60000.01)),
        (
            {"DATE-BEG": "2023-02-25T12:00:00", "DATE-END": "2023-02-25T18:00:00"},
            (60000.5, 60000.75),
        ),
        (
            {"MJD-BEG": 60000.0, "MJD-END": 60000.2, "TIMESYS": "TAI"},
            (60000.0 - 37 / 86400, 60000.2 - 37 / 86400),
        ),
    ],
)
def test_exposure_from_header_cards(
    cards: dict[str, object], expected: tuple[float, float]
) -> None:
    header = fits.Header()
    header.update(cards)
    assert_allclose(exposure_mjd([header], source="s"), expected, rtol=0, atol=1e-9)


def test_image_without_time_cards_passes_any_time() -> None:
    assert exposure_mjd([fits.Header()], source="s") is None


def test_circle_and_band_on_a_cube_keep_the_sky_wcs_exact(tmp_path: Path) -> None:
    path = write_cube(tmp_path / "wave.fits", WAVE, 60)
    selection = Selection(stencil=Circle(10.0, 20.0, 12 / 3600), band=Interval(5.01e-7, 5.02e-7))
    cutout = run(path, selection)
    z, y, x = cutout.hdus[0].region
    with fits.open(path) as src, open_cutout(cutout) as out:
        src_wcs, out_wcs = WCS(src["IMAGE"].header), WCS(out["IMAGE"].header)
        kk, jj, ii = np.mgrid[: z.stop - z.start, : y.stop - y.start, : x.stop - x.start]
        assert_allclose(
            np.array(out_wcs.pixel_to_world_values(ii, jj, kk)),
            np.array(src_wcs.pixel_to_world_values(ii + x.start, jj + y.start, kk + z.start)),
            rtol=1e-12,
        )


def test_plan_region_on_a_header_alone() -> None:
    header = fits.Header()
    header.update(NAXIS=3, NAXIS1=NX, NAXIS2=NY, NAXIS3=4)
    sky_cards(header)
    header.update({k.replace("#", "3"): v for k, v in STOKES.items()})
    region = plan_region(header, Selection(pol=("U",)), source="h")
    assert region.slices == (slice(2, 3), slice(0, NY), slice(0, NX))
    assert region.celestial == (1, 2)
