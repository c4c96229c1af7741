"""Cutting a CIRCLE from a FITS file: the pixels, the WCS, the provenance, the reads."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import angular_separation
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS
from numpy.testing import assert_allclose, assert_array_equal

import skycut
from skycut.cutout.engine import Cutout, cut_circle
from skycut.cutout.fitsindex import named_image, scan_fits
from skycut.cutout.reader import CountingReader, LocalFileReader, ReadStats
from skycut.cutout.stencil import Circle
from skycut.errors import NoOverlapError, UnsupportedSourceError


def sip_header(
    crval: tuple[float, float], shape: tuple[int, int], *, scale: float = 1e-4
) -> fits.Header:
    """A slightly rotated TAN-SIP WCS centred on the image, ``scale`` degrees per pixel."""
    c, s = math.cos(0.3), math.sin(0.3)
    header = fits.Header()
    header.update(
        CTYPE1="RA---TAN-SIP", CTYPE2="DEC--TAN-SIP", CRVAL1=crval[0], CRVAL2=crval[1],
        CRPIX1=shape[1] / 2 + 0.5, CRPIX2=shape[0] / 2 + 0.5,
        CD1_1=-scale * c, CD1_2=scale * s, CD2_1=scale * s, CD2_2=scale * c,
        A_ORDER=2, A_2_0=2e-5, A_1_1=-1e-5, A_0_2=1e-5,
        B_ORDER=2, B_2_0=-1e-5, B_1_1=2e-5, B_0_2=1.5e-5,
    )  # fmt: skip
    return header


def write_mef(path: Path, image: np.ndarray, header: fits.Header) -> Path:
    """Primary with metadata, then IMAGE, MASK and VARIANCE sharing one WCS."""
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = "Sim"
    primary.header["NEXTEND"] = 3
    fits.HDUList(
        [
            primary,
            fits.ImageHDU(image, header=header, name="IMAGE"),
            fits.ImageHDU(np.zeros(image.shape, np.int32), header=header, name="MASK"),
            fits.ImageHDU(np.abs(image).astype(np.float32), header=header, name="VARIANCE"),
        ]
    ).writeto(path)
    return path


@pytest.fixture
def sip_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    image = rng.normal(100.0, 10.0, size=(200, 300)).astype(np.float32)
    return write_mef(tmp_path / "sip.fits", image, sip_header((10.0, 20.0), image.shape))


def open_cutout(cutout: Cutout) -> fits.HDUList:
    return fits.open(io.BytesIO(cutout.fits_bytes))


def separation(ra0: np.ndarray, dec0: np.ndarray, ra1: float, dec1: float) -> np.ndarray:
    """Angular distance in degrees."""
    rad = np.radians
    return np.asarray(np.degrees(angular_separation(rad(ra0), rad(dec0), rad(ra1), rad(dec1))))


def assert_same_sky(src_wcs: WCS, out_wcs: WCS, shape: tuple[int, int], x0: int, y0: int) -> None:
    """Every output pixel has the sky position of the source pixel ``(x0, y0)`` further on."""
    y, x = np.mgrid[: shape[0], : shape[1]].astype(float)
    ra1, dec1 = out_wcs.pixel_to_world_values(x, y)
    ra0, dec0 = src_wcs.pixel_to_world_values(x + x0, y + y0)
    assert_allclose(separation(ra0, dec0, ra1, dec1), 0.0, atol=1e-11)


def test_pixels_and_wcs_match_the_source(sip_file: Path) -> None:
    circle = Circle(10.003, 20.001, 0.004)
    cutout = cut_circle(LocalFileReader(sip_file), circle, source_id="ivo://test/sip")
    box = cutout.box
    with fits.open(sip_file) as src, open_cutout(cutout) as out:
        data, src_wcs = src["IMAGE"].data, WCS(src["IMAGE"].header)
        ref = Cutout2D(
            data, ((box.x0 + box.x1 - 1) / 2, (box.y0 + box.y1 - 1) / 2), box.shape,
            wcs=src_wcs, mode="strict",
        )  # fmt: skip
        assert ref.bbox_original == ((box.y0, box.y1 - 1), (box.x0, box.x1 - 1))
        assert_array_equal(out["IMAGE"].data, ref.data)
        assert_array_equal(out["IMAGE"].data, data[box.slices])
        out_wcs = WCS(out["IMAGE"].header)
        assert out_wcs.sip is not None
        assert_same_sky(src_wcs, out_wcs, cutout.shape, box.x0, box.y0)
        assert_same_sky(ref.wcs, out_wcs, cutout.shape, 0, 0)
        assert out["IMAGE"].header["LTV1"] == -box.x0
    assert cutout.hdu_name == "IMAGE"
    assert cutout.shape == out["IMAGE"].data.shape


def test_every_pixel_centre_in_the_circle_is_cut(sip_file: Path) -> None:
    circle = Circle(9.997, 19.998, 0.006)  # clipped by the image edge
    cutout = cut_circle(LocalFileReader(sip_file), circle, source_id="sip")
    with fits.open(sip_file) as src:
        wcs = WCS(src["IMAGE"].header)
    y, x = np.mgrid[:200, :300]
    ra, dec = wcs.pixel_to_world_values(x, y)
    rows, cols = np.nonzero(separation(ra, dec, circle.ra, circle.dec) <= circle.radius)
    box = cutout.box
    assert box.x0 <= cols.min()
    assert box.x1 > cols.max()
    assert box.y0 <= rows.min()
    assert box.y1 > rows.max()
    assert box.x1 - box.x0 <= cols.max() - cols.min() + 3
    assert box.y1 - box.y0 <= rows.max() - rows.min() + 3


def test_provenance(sip_file: Path) -> None:
    circle = Circle(10.0, 20.0, 0.002)
    source_id = "ivo://example.org/survey?calexp/" + "x" * 80  # long: CONTINUE cards
    cutout = cut_circle(LocalFileReader(sip_file), circle, source_id=source_id)
    with open_cutout(cutout) as out:
        out.verify("exception")
        primary = out[0].header
        assert primary["SC_ID"] == source_id
        assert primary["SC_STENC"] == "CIRCLE 10.0 20.0 0.002"
        assert primary["SC_VERS"] == skycut.__version__
        assert (primary["SC_HDU"], primary["SC_HDUNO"]) == ("IMAGE", 1)
        assert primary["TELESCOP"] == "Sim"  # inherited metadata kept
        assert "NEXTEND" not in primary
        assert "DATE" in primary
        assert [h.name for h in out] == ["PRIMARY", "IMAGE"]


@pytest.mark.parametrize("length", [20, 45, 60, 68, 69])
def test_provenance_of_ids_of_any_length_writes_no_warning(sip_file: Path, length: int) -> None:
    # ids too long for their comment must not make astropy truncate (and warn)
    source_id = "gs://b/" + "y" * (length - 7)
    circle = Circle(10.000000000001, 20.000000000001, 0.0020000000001)
    cutout = cut_circle(LocalFileReader(sip_file), circle, source_id=source_id)
    with open_cutout(cutout) as out:
        assert out[0].header["SC_ID"] == source_id
        assert out[0].header["SC_STENC"] == circle.to_soda()


@pytest.mark.parametrize(
    ("dtype", "scaling"),
    [
        (np.int16, {"BSCALE": 0.5, "BZERO": 1000.0}),
        (np.uint16, {}),  # stored as int16 with BZERO = 32768
        (np.uint8, {}),
        (np.int32, {}),
        (np.int64, {}),
        (np.float64, {}),
    ],
)
def test_data_types_and_scaling(tmp_path: Path, dtype: type, scaling: dict[str, float]) -> None:
    shape = (60, 80)
    raw = np.arange(math.prod(shape)).reshape(shape) % 250
    hdu = fits.ImageHDU(raw.astype(dtype), header=sip_header((50.0, -30.0), shape), name="IMAGE")
    if scaling:
        hdu.data = raw * scaling["BSCALE"] + scaling["BZERO"]
        hdu.scale("int16", bscale=scaling["BSCALE"], bzero=scaling["BZERO"])
    path = tmp_path / "typed.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    cutout = cut_circle(LocalFileReader(path), Circle(50.0, -30.0, 0.002), source_id="typed")
    with fits.open(path) as src, open_cutout(cutout) as out:
        assert_array_equal(out["IMAGE"].data, src["IMAGE"].data[cutout.box.slices])
        assert out["IMAGE"].data.dtype == src["IMAGE"].data.dtype
        for key in ("BITPIX", "BSCALE", "BZERO"):
            assert out["IMAGE"].header.get(key) == src["IMAGE"].header.get(key)


def test_image_in_the_primary_hdu(tmp_path: Path) -> None:
    image = np.arange(200 * 300, dtype=np.float32).reshape(200, 300)
    path = tmp_path / "primary.fits"
    fits.PrimaryHDU(image, header=sip_header((10.0, 20.0), image.shape)).writeto(path)
    cutout = cut_circle(LocalFileReader(path), Circle(10.0, 20.0, 0.002), source_id="p")
    assert cutout.hdu_name == "PRIMARY"
    with open_cutout(cutout) as out:
        assert_array_equal(out[1].data, image[cutout.box.slices])
        assert out[0].header["SC_HDUNO"] == 0


def test_ra_wrap(tmp_path: Path) -> None:
    image = np.arange(200 * 300, dtype=np.float32).reshape(200, 300)
    path = write_mef(tmp_path / "wrap.fits", image, sip_header((0.0, 0.0), image.shape))
    circle = Circle(359.999, 0.0, 0.003)  # straddles RA = 0
    cutout = cut_circle(LocalFileReader(path), circle, source_id="wrap")
    with open_cutout(cutout) as out:
        ra, _ = WCS(out["IMAGE"].header).pixel_to_world_values([0, cutout.shape[1] - 1], [0, 0])
    assert sorted(ra)[0] < 1.0
    assert sorted(ra)[1] > 359.0
    assert 20 < cutout.shape[1] < 300


def test_pole(tmp_path: Path) -> None:
    image = np.ones((200, 300), np.float32)
    header = sip_header((30.0, 89.95), image.shape, scale=1e-3)
    path = write_mef(tmp_path / "pole.fits", image, header)
    with fits.open(path) as src:
        wcs = WCS(src["IMAGE"].header)
    circle = Circle(200.0, 89.99, 0.03)  # contains the pole
    cutout = cut_circle(LocalFileReader(path), circle, source_id="pole")
    pole_x, pole_y = wcs.world_to_pixel_values(0.0, 90.0)
    box = cutout.box
    assert box.x0 <= pole_x < box.x1
    assert box.y0 <= pole_y < box.y1


def test_no_overlap(sip_file: Path) -> None:
    with pytest.raises(NoOverlapError, match=r"no overlap between CIRCLE 12\.0 20\.0 0\.01 and s"):
        cut_circle(LocalFileReader(sip_file), Circle(12.0, 20.0, 0.01), source_id="s")


def test_cutouts_over_the_pixel_limit_are_refused_before_reading(sip_file: Path) -> None:
    from skycut.cutout.engine import cut
    from skycut.cutout.selection import Selection
    from skycut.errors import UsageError

    reader = CountingReader(LocalFileReader(sip_file))
    index = scan_fits(reader, stop_after=named_image)
    before = reader.stats.requests
    selection = Selection(stencil=Circle(10.0, 20.0, 0.002))
    with pytest.raises(UsageError, match="over this service's limit of 10"):
        cut(reader, selection, source_id="s", index=index, max_pixels=10)
    assert reader.stats.requests == before, "no pixel was read"
    small = cut(reader, selection, source_id="s", index=index, max_pixels=10**6)
    assert small.content[:9] == b"SIMPLE  ="


def test_cached_index_is_reused_unchanged(sip_file: Path) -> None:
    reader = CountingReader(LocalFileReader(sip_file))
    index = scan_fits(reader, stop_after=named_image)
    crpix = index.hdus[1].header["CRPIX1"]
    for ra in (10.0, 10.003):
        cutout = cut_circle(reader, Circle(ra, 20.0, 0.002), source_id="s", index=index)
        assert cutout.read_requests == 1  # the rows only
        assert cutout.read_bytes is not None
        assert cutout.box is not None
        assert cutout.read_bytes <= cutout.box.shape[0] * 300 * 4
    assert index.hdus[1].header["CRPIX1"] == crpix


def test_reads_few_bytes_of_a_large_file(tmp_path: Path) -> None:
    image = np.random.default_rng(3).normal(size=(2048, 2048)).astype(np.float32)
    path = write_mef(tmp_path / "large.fits", image, sip_header((150.0, 2.0), image.shape))
    stats = ReadStats()
    reader = CountingReader(LocalFileReader(path), stats)
    cutout = cut_circle(reader, Circle(150.0, 2.0, 0.005), source_id="large")  # 100 px radius
    assert cutout.read_requests is not None
    assert cutout.read_requests <= 3
    assert cutout.read_bytes == stats.bytes
    assert stats.bytes < path.stat().st_size / 20
    with open_cutout(cutout) as out:
        assert_array_equal(out["IMAGE"].data, image[cutout.box.slices])


def test_tile_compressed_gives_what_astropy_decompresses(tmp_path: Path) -> None:
    image = np.random.default_rng(5).normal(100.0, 10.0, (100, 120)).astype(np.float32)
    hdu = fits.CompImageHDU(
        image, header=sip_header((10.0, 20.0), image.shape), name="IMAGE", tile_shape=(16, 16)
    )
    path = tmp_path / "comp.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    cutout = cut_circle(LocalFileReader(path), Circle(10.0, 20.0, 0.001), source_id="c")
    assert cutout.box is not None
    with fits.open(path) as src, open_cutout(cutout) as out:
        assert_array_equal(out["IMAGE"].data, src["IMAGE"].section[cutout.box.slices])
        assert "ZIMAGE" not in out["IMAGE"].header
        assert out["IMAGE"].header["CRPIX1"] == src["IMAGE"].header["CRPIX1"] - cutout.box.x0


def test_truncated_file(sip_file: Path) -> None:
    content = sip_file.read_bytes()
    sip_file.write_bytes(content[: 2880 * 2 + 100 * 300 * 4])  # IMAGE stops at row 100
    with pytest.raises(UnsupportedSourceError, match="truncated"):
        cut_circle(LocalFileReader(sip_file), Circle(10.0, 20.0, 0.002), source_id="t")


def test_image_without_celestial_wcs(tmp_path: Path) -> None:
    path = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.ones((10, 10), np.float32)).writeto(path)
    with pytest.raises(UnsupportedSourceError, match="celestial WCS"):
        cut_circle(LocalFileReader(path), Circle(10.0, 20.0, 0.001), source_id="plain")
