"""What a cutout holds: detail levels, masking, previews, provenance; the sample survey."""

from __future__ import annotations

import io
import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from skycut.cutout.engine import Cutout, cut
from skycut.cutout.fitsindex import named_image, scan_fits
from skycut.cutout.geometry import pixels_inside
from skycut.cutout.intervals import Interval
from skycut.cutout.reader import CountingReader, LocalFileReader
from skycut.cutout.readplan import ReadCost
from skycut.cutout.selection import JPEG, PNG, Selection
from skycut.cutout.stencil import Circle, Stencil, parse_stencil
from skycut.errors import NoOverlapError, UsageError
from skycut.sample.survey import MASK_PLANES, SMALL_SCALE, SurveyManifest, generate_survey

from .test_cutout_engine import sip_header, write_mef
from .test_cutout_geometry_stencils import SHAPE, wcs_and_stencils

POLYGON = parse_stencil("POLYGON 10.003 19.998 10.0 20.004 9.996 19.999")


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> SurveyManifest:
    return generate_survey(tmp_path_factory.mktemp("survey"), size_scale=SMALL_SCALE)


@pytest.fixture
def mef(tmp_path: Path) -> Path:
    rng = np.random.default_rng(11)
    image = rng.normal(100.0, 10.0, size=(200, 300)).astype(np.float32)
    return write_mef(tmp_path / "mef.fits", image, sip_header((10.0, 20.0), image.shape))


def open_cutout(cutout: Cutout) -> fits.HDUList:
    return fits.open(io.BytesIO(cutout.content))


def run(path: Path, selection: Selection, **options: object) -> Cutout:
    return cut(LocalFileReader(path), selection, source_id=path.name, **options)  # type: ignore[arg-type]


# -- the sample survey against astropy --------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "deepcoadd-i-0001.fits",
        "calexp-r-0001.fits",
        "calexp-i-0004.fits",  # across RA = 0
        "calexp-r-0002-rice.fits",  # tile-compressed
    ],
)
def test_survey_circles_match_cutout2d(survey: SurveyManifest, name: str) -> None:
    image = survey.image(name)
    with fits.open(image.path) as src:
        data, wcs = src["IMAGE"].section, WCS(src["IMAGE"].header)
        ny, nx = image.shape
        for fx, fy, radius in [(0.5, 0.5, 5e-3), (0.1, 0.8, 8e-3), (0.97, 0.03, 4e-3)]:
            ra, dec = wcs.pixel_to_world_values(fx * nx, fy * ny)
            circle = Circle(float(ra) % 360.0, float(dec), radius)
            cutout = run(image.path, Selection(stencil=circle))
            box = cutout.box
            assert box is not None
            centre = ((box.x0 + box.x1 - 1) / 2, (box.y0 + box.y1 - 1) / 2)
            ref = Cutout2D(data[:, :], centre, box.shape, wcs=wcs, mode="strict")
            with open_cutout(cutout) as out:
                assert_array_equal(out["IMAGE"].data, ref.data)
                out_wcs = WCS(out["IMAGE"].header)
                # The output WCS puts each pixel where the source WCS and Cutout2D's do.
                y, x = np.mgrid[: box.shape[0], : box.shape[1]]
                assert_allclose(
                    np.array(out_wcs.pixel_to_world_values(x, y)),
                    np.array(ref.wcs.pixel_to_world_values(x, y)),
                    rtol=0, atol=1e-10,
                )  # fmt: skip
            # Every pixel centre within the radius is in the box.
            yy, xx = np.mgrid[:ny, :nx]
            inside = circle.contains(*wcs.pixel_to_world_values(xx, yy))
            rows, cols = np.nonzero(inside)
            assert box.x0 <= cols.min()
            assert box.x1 > cols.max()
            assert box.y0 <= rows.min()
            assert box.y1 > rows.max()


def test_survey_star_is_at_the_centre_of_its_cutout(survey: SurveyManifest) -> None:
    image = survey.image("calexp-r-0002.fits")
    with fits.open(image.path) as src:
        wcs = WCS(src["IMAGE"].header)
    ra, dec = wcs.pixel_to_world_values(100.0, 140.0)
    cutout = run(image.path, Selection(stencil=Circle(float(ra), float(dec), 3e-3)))
    with open_cutout(cutout) as out:
        x, y = WCS(out["IMAGE"].header).world_to_pixel_values(ra, dec)
    assert cutout.box is not None
    assert (float(x) + cutout.box.x0, float(y) + cutout.box.y0) == pytest.approx((100.0, 140.0))


def test_survey_time_filter_uses_the_exposure(survey: SurveyManifest) -> None:
    image = survey.image("calexp-r-0002.fits")  # MJD-OBS 61011.21412, 30 s
    assert run(image.path, Selection(time=Interval(61011.2, 61011.3))).shape == image.shape
    with pytest.raises(NoOverlapError, match="TIME"):
        run(image.path, Selection(time=Interval(61012.0, 61013.0)))


# -- detail ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "names"),
    [
        ("image", ["PRIMARY", "IMAGE"]),
        ("image,mask,variance", ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]),
        ("all", ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]),
    ],
)
def test_detail_chooses_the_hdus(mef: Path, detail: str, names: list[str]) -> None:
    cutout = run(mef, Selection(stencil=POLYGON), detail=detail)
    assert [h.name for h in cutout.hdus] == names[1:]
    with fits.open(mef) as src, open_cutout(cutout) as out:
        assert [h.name for h in out] == names
        assert out[0].header["SC_NHDU"] == len(names) - 1
        assert out[0].header["SC_DETL"] == detail
        for name in names[1:]:
            assert cutout.box is not None
            assert_array_equal(out[name].data, src[name].data[cutout.box.slices])
            assert out[name].header["CRPIX1"] == src[name].header["CRPIX1"] - cutout.box.x0
            assert out[name].data.dtype == src[name].data.dtype


def test_detail_scans_on_from_a_cached_index(mef: Path) -> None:
    reader = CountingReader(LocalFileReader(mef))
    index = scan_fits(reader, stop_after=named_image)
    assert not index.complete
    cutout = cut(
        reader, Selection(stencil=POLYGON), source_id="m", index=index, detail="image,mask,variance"
    )
    assert [h.name for h in cutout.index.hdus] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
    assert cutout.index.hdus[:2] == index.hdus  # the cached HDUs are kept as they were
    # The two headers beyond IMAGE (one read each) and three pixel reads; no look for more.
    assert cutout.read_requests == 5
    everything = cut(reader, Selection(stencil=POLYGON), source_id="m", index=index, detail="all")
    assert everything.index.complete


def test_detail_all_cuts_each_hdu_by_its_own_wcs(tmp_path: Path) -> None:
    shape = (200, 300)
    near = sip_header((10.01, 20.0), shape)  # overlaps the first image's right half
    far = sip_header((50.0, 20.0), shape)
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(np.ones(shape, np.float32), sip_header((10.0, 20.0), shape), "IMAGE"),
            fits.ImageHDU(np.zeros(shape, np.float32), near, name="OTHER"),
            fits.ImageHDU(np.zeros(shape, np.float32), far, name="FAR"),
            fits.ImageHDU(np.zeros(shape, np.float32), name="NOWCS"),
        ]
    )
    path = tmp_path / "several.fits"
    hdus.writeto(path)
    circle = Circle(10.005, 20.0, 0.002)
    cutout = run(path, Selection(stencil=circle), detail="all")
    assert [h.name for h in cutout.hdus] == ["IMAGE", "OTHER"]
    with open_cutout(cutout) as out:
        for name in ("IMAGE", "OTHER"):
            wcs = WCS(out[name].header)
            x, y = wcs.world_to_pixel_values(circle.ra, circle.dec)
            ny, nx = out[name].data.shape
            assert 0 <= x < nx
            assert 0 <= y < ny


def test_preview_with_more_than_the_image_is_refused(mef: Path) -> None:
    with pytest.raises(UsageError, match="DETAIL=all needs FITS output"):
        run(mef, Selection(stencil=POLYGON), detail="all", response_format=PNG)


# -- masking --------------------------------------------------------------------------------


def test_masking_blanks_float_planes_and_sets_the_no_data_bit(survey: SurveyManifest) -> None:
    image = survey.image("calexp-r-0001.fits")
    with fits.open(image.path) as src:
        wcs = WCS(src["IMAGE"].header)
    ra, dec = wcs.pixel_to_world_values(128.0, 128.0)
    polygon = parse_stencil(
        f"POLYGON {ra + 0.01} {dec - 0.005} {ra} {dec + 0.01} {ra - 0.008} {dec - 0.004}"
    )
    cutout = run(
        image.path, Selection(stencil=polygon), detail="image,mask,variance", mask_outside=True
    )
    box = cutout.box
    assert box is not None
    inside = pixels_inside(wcs, box, polygon)
    assert 0 < inside.sum() < inside.size
    bit = 1 << MASK_PLANES["NO_DATA"]
    with fits.open(image.path) as src, open_cutout(cutout) as out:
        for name in ("IMAGE", "VARIANCE"):
            assert_array_equal(np.isnan(out[name].data), ~inside)
            assert_array_equal(out[name].data[inside], src[name].data[box.slices][inside])
        mask, source_mask = out["MASK"].data, src["MASK"].data[box.slices]
        assert_array_equal(mask & bit != 0, ~inside | (source_mask & bit != 0))
        assert_array_equal(mask & ~bit, source_mask & ~bit)
        assert out[0].header["SC_MASK"] is True


def test_masking_a_mask_without_no_data_declares_a_free_bit(tmp_path: Path) -> None:
    shape = (200, 300)
    header = sip_header((10.0, 20.0), shape)
    mask = np.zeros(shape, np.int32)
    mask[::2] = 0b101  # bits 0 and 2 in use; bit 1 declared below
    mask_header = header.copy()
    mask_header["MP_SAT"] = 1
    path = tmp_path / "mask.fits"
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(np.ones(shape, np.float32), header, name="IMAGE"),
            fits.ImageHDU(mask, mask_header, name="MASK"),
        ]
    ).writeto(path)
    cutout = run(path, Selection(stencil=POLYGON), detail="image,mask,variance", mask_outside=True)
    with open_cutout(cutout) as out:
        assert out["MASK"].header["MP_NO_DATA"] == 3
        image_nan = np.isnan(out["IMAGE"].data)
        assert_array_equal(out["MASK"].data & 8 != 0, image_nan)


@pytest.mark.parametrize(
    ("dtype", "blank", "expected"),
    [(np.int16, None, -32768), (np.int32, -999, -999), (np.uint16, None, 0)],
)
def test_masking_an_integer_image_uses_blank(
    tmp_path: Path, dtype: type, blank: int | None, expected: int
) -> None:
    shape = (200, 300)
    hdu = fits.ImageHDU((np.arange(math.prod(shape)) % 1000 + 1).reshape(shape).astype(dtype),
                        sip_header((10.0, 20.0), shape), name="IMAGE")  # fmt: skip
    if blank is not None:
        hdu.header["BLANK"] = blank
    path = tmp_path / "int.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    cutout = run(path, Selection(stencil=POLYGON), mask_outside=True)
    with fits.open(path) as src, open_cutout(cutout) as out:
        assert cutout.box is not None
        inside = pixels_inside(WCS(src["IMAGE"].header), cutout.box, POLYGON)
        raw = fits.getdata(io.BytesIO(cutout.content), "IMAGE", do_not_scale_image_data=True)
        stored_expected = expected - int(out["IMAGE"].header.get("BZERO", 0))
        assert_array_equal(raw[~inside], stored_expected)
        assert_array_equal(out["IMAGE"].data[inside], src["IMAGE"].data[cutout.box.slices][inside])


def test_masking_without_a_stencil_changes_nothing(mef: Path) -> None:
    cutout = run(mef, Selection(band=Interval(1e-7, 1e-6)), mask_outside=True)
    with open_cutout(cutout) as out:
        assert not np.isnan(out["IMAGE"].data).any()
        assert out["IMAGE"].data.shape == (200, 300)


# -- previews -------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mode"), [(PNG, "LA"), (JPEG, "L")])
def test_previews_decode_with_the_cut_size(mef: Path, fmt: str, mode: str) -> None:
    cutout = run(mef, Selection(stencil=POLYGON), response_format=fmt, mask_outside=True)
    assert cutout.content_type == fmt
    assert cutout.box is not None
    with Image.open(io.BytesIO(cutout.content)) as image:
        assert image.format == ("PNG" if fmt == PNG else "JPEG")
        assert image.mode == mode
        assert image.size == (cutout.box.shape[1], cutout.box.shape[0])
        if fmt == PNG:
            assert image.text["SC_STENC"] == POLYGON.to_soda()  # type: ignore[attr-defined]
            alpha = np.asarray(image)[:, :, 1]
            inside = pixels_inside(WCS(fits.getheader(mef, "IMAGE")), cutout.box, POLYGON)
            assert_array_equal(alpha == 255, np.flipud(inside))  # masked pixels are transparent


def test_preview_has_pixel_zero_at_the_bottom_left(tmp_path: Path) -> None:
    shape = (60, 80)
    data = np.zeros(shape, np.float32)
    data[0, 0] = 1000.0  # first row, first column: bottom-left as DS9 shows it
    data[0, 1:] = np.linspace(0.0, 1.0, shape[1] - 1)
    path = tmp_path / "corner.fits"
    fits.PrimaryHDU(data, header=sip_header((10.0, 20.0), shape)).writeto(path)
    cutout = run(path, Selection(stencil=Circle(10.0, 20.0, 1.0)), response_format=PNG)
    with Image.open(io.BytesIO(cutout.content)) as image:
        grey = np.asarray(image)[:, :, 0]
    assert grey.shape == shape
    assert grey[-1, 0] == 255
    assert grey[0, 0] == 0


def test_preview_of_a_cube_is_the_mean_of_the_kept_planes(tmp_path: Path) -> None:
    shape = (3, 40, 50)
    header = sip_header((10.0, 20.0), shape[1:])
    header.update(CTYPE3="WAVE", CUNIT3="m", CRVAL3=5e-7, CDELT3=1e-9, CRPIX3=1.0)
    for k in ("A", "B"):
        for key in list(header):
            if key.startswith(f"{k}_"):
                del header[key]  # a cube's WCS without SIP
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    data = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(data, header=header).writeto(path)
    cutout = run(path, Selection(band=Interval(5e-7, 5.01e-7)), response_format=JPEG)
    with Image.open(io.BytesIO(cutout.content)) as image:
        assert image.size == (50, 40)


# -- provenance -----------------------------------------------------------------------------


def test_provenance_records_every_filter(tmp_path: Path) -> None:
    shape = (4, 40, 50)
    header = fits.Header()
    header.update(
        CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=10.0, CRVAL2=20.0, CRPIX1=25.5, CRPIX2=20.5,
        CDELT1=-1e-4, CDELT2=1e-4, CTYPE3="STOKES", CRVAL3=1.0, CDELT3=1.0, CRPIX3=1.0,
    )  # fmt: skip
    path = tmp_path / "iquv.fits"
    fits.PrimaryHDU(np.zeros(shape, np.float32), header=header).writeto(path)
    selection = Selection(
        stencil=parse_stencil("RANGE 9.999 10.001 -Inf 20.001"),
        band=Interval(-math.inf, 1e-6),
        time=Interval(59000.0, math.inf),
        pol=("Q", "U"),
    )
    cutout = run(path, selection, mask_outside=True)
    with open_cutout(cutout) as out:
        primary = out[0].header
        assert primary["SC_STENC"] == "RANGE 9.999 10.001 -Inf 20.001"
        assert primary["SC_BAND"] == "-Inf 1e-06"
        assert primary["SC_TIME"] == "59000.0 +Inf"
        assert primary["SC_POL"] == "Q U"
        assert primary["SC_DETL"] == "image"
        assert (primary["SC_HDU"], primary["SC_HDUNO"]) == ("PRIMARY", 0)
        history = "\n".join(str(h) for h in primary["HISTORY"])
        assert "POS=RANGE 9.999 10.001 -Inf 20.001 BAND=-Inf 1e-06" in history
        assert "POL=Q POL=U of iquv.fits" in history
        assert out[1].data.shape[0] == 2
        out.verify("exception")


# -- property: random WCS and stencils, end to end ------------------------------------------


class BytesReader:
    """A `RangeReader` over bytes in memory."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def name(self) -> str:
        return "memory"

    def size(self) -> int:
        return len(self._data)

    def read_range(self, start: int, stop: int) -> bytes:
        return self._data[start:stop]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=wcs_and_stencils(), mask=st.booleans())
def test_random_cutouts_keep_pixels_and_wcs_exact(case: tuple[WCS, Stencil], mask: bool) -> None:
    wcs, stencil = case
    data = np.arange(math.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    buffer = io.BytesIO()
    image = fits.ImageHDU(data, header=wcs.to_header(relax=True), name="IMAGE")
    fits.HDUList([fits.PrimaryHDU(), image]).writeto(buffer)
    try:
        cutout = cut(
            BytesReader(buffer.getvalue()), Selection(stencil=stencil), source_id="m",
            mask_outside=mask,
        )  # fmt: skip
    except NoOverlapError:
        return
    box = cutout.box
    assert box is not None
    src_wcs = WCS(image.header)
    with open_cutout(cutout) as out:
        got = out["IMAGE"].data
        inside = pixels_inside(src_wcs, box, stencil)
        expected = np.where(inside | (not mask), data[box.slices], np.nan)
        assert_array_equal(got, expected)
        y, x = np.mgrid[: box.shape[0], : box.shape[1]]
        out_world = np.array(WCS(out["IMAGE"].header).pixel_to_world_values(x, y))
        src_world = np.array(src_wcs.pixel_to_world_values(x + box.x0, y + box.y0))
        assert_allclose(out_world, src_world, rtol=0, atol=1e-9)


def test_the_hdus_of_a_detail_cut_are_read_together(mef: Path) -> None:
    """Three HDUs cost one round trip, not three: their reads are in flight at once."""
    index = scan_fits(LocalFileReader(mef))
    together = threading.Barrier(3, timeout=10)

    class SlowNetwork(LocalFileReader):
        def read_range(self, start: int, stop: int) -> bytes:
            together.wait()  # breaks (and fails the cut) unless all three reads are waiting
            return super().read_range(start, stop)

    cutout = cut(
        SlowNetwork(mef), Selection(stencil=POLYGON), source_id="m", index=index,
        detail="image,mask,variance",
    )  # fmt: skip
    with fits.open(mef) as src, open_cutout(cutout) as out:
        assert cutout.box is not None
        for name in ("IMAGE", "MASK", "VARIANCE"):
            assert_array_equal(out[name].data, src[name].data[cutout.box.slices])


def test_blanking_one_cut_leaves_the_cached_headers_of_the_next_as_they_were(mef: Path) -> None:
    """Headers are shared between cuts of one image: blanking must change only its own copy."""
    index = scan_fits(LocalFileReader(mef))
    options = {"source_id": "m", "index": index, "detail": "image,mask,variance"}
    masked = cut(LocalFileReader(mef), Selection(stencil=POLYGON), mask_outside=True, **options)  # type: ignore[arg-type]
    plain = cut(LocalFileReader(mef), Selection(stencil=POLYGON), **options)  # type: ignore[arg-type]
    with open_cutout(masked) as blanked, open_cutout(plain) as out:
        declared = [k for k in blanked["MASK"].header if k not in out["MASK"].header]
        assert declared  # the masked cut declares its no-data bit ...
        assert not [k for k in out["MASK"].header if k.startswith("MP_") or "NO_DATA" in k]
    assert "BLANK" not in index.hdus[2].header  # ... the index it was cut from is untouched
    assert not any("NO_DATA" in k for k in index.hdus[2].header)


def test_hdus_read_together_share_the_requests_in_flight(mef: Path) -> None:
    """A DETAIL cut keeps to the cut's concurrency (a connection each), however many HDUs."""
    index = scan_fits(LocalFileReader(mef))
    lock, flying, most = threading.Lock(), [0], [0]

    class Network(LocalFileReader):
        def read_range(self, start: int, stop: int) -> bytes:
            with lock:
                flying[0] += 1
                most[0] = max(most[0], flying[0])
            time.sleep(0.01)
            with lock:
                flying[0] -= 1
            return super().read_range(start, stop)

    # small parts so that each HDU alone would fill the four requests allowed
    cost = ReadCost(round_trip=0.0, bandwidth=1e3, max_concurrency=4, min_part_bytes=2880)
    cutout = cut(
        Network(mef), Selection(stencil=Circle(10.0, 20.0, 0.01)), source_id="m", index=index,
        detail="image,mask,variance", cost=cost,
    )  # fmt: skip
    assert len(cutout.hdus) == 3
    assert 1 < most[0] <= 4
