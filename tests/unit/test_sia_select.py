"""SIA 2.0 selection: each constraint as the standard says, OR within a name, AND across names."""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from skycut.index.footprint import image_footprint
from skycut.index.metadata import image_metadata
from skycut.index.record import ImageRecord, ObjectStamp
from skycut.sia.params import SiaQuery, parse_sia_query
from skycut.sia.select import matches, select_images
from skycut.soda.ids import SourceRef
from tests.unit.test_index_footprint import image_header

BUCKET = "skycut-sources"
FIELD = (150.0, 2.0)
DATALINK = "application/x-votable+xml;content=datalink"


def image_record(
    name: str,
    *,
    crval: tuple[float, float] = FIELD,
    shape: tuple[int, int] = (200, 300),
    scale: float = 1e-4,
    size: int = 2_883_456,
    header: fits.Header | None = None,
    cards: Mapping[str, str | float] | None = None,
) -> ImageRecord:
    """An indexed image made from a real header, as the indexer would make it."""
    header = header if header is not None else image_header(crval, shape=shape, scale=scale)
    header.update(cards or {})
    uri = f"gs://{BUCKET}/{name}"
    return ImageRecord(
        source=SourceRef(BUCKET, name),
        stamp=ObjectStamp(3),
        indexed_at=datetime(2026, 11, 30, tzinfo=UTC),
        hdu=0,
        extname=None,
        size=size,
        footprint=image_footprint(header, source=uri),
        metadata=image_metadata(header, uri=uri),
    )


def stokes_header() -> fits.Header:
    """A 3-D I/Q polarisation cube over the field."""
    header = image_header(FIELD, shape=(200, 300))
    header.update(NAXIS=3, NAXIS3=2, CTYPE3="STOKES", CRVAL3=1.0, CD3_3=1.0, CRPIX3=1.0)
    return header


def survey() -> dict[str, ImageRecord]:
    """Six images: visits in g and r, a coadd, one with no filter, one far away, a cube."""
    rubin = {"TELESCOP": "Rubin", "INSTRUME": "LSSTCam", "OBJECT": "COSMOS"}
    blanco = {"TELESCOP": "Blanco", "INSTRUME": "DECam"}
    return {
        "coadd": image_record("deep/coadd-i.fits", cards={"FILTER": "i", "NCOMBINE": 12, **rubin}),
        "g": image_record(
            "visits/calexp-g.fits",
            cards={"FILTER": "g", "EXPTIME": 30.0, "MJD-OBS": 60000.1, **rubin},
        ),
        "r": image_record(
            "visits/calexp-r.fits",
            crval=(150.01, 2.0),
            cards={"FILTER": "r", "EXPTIME": 15.0, "MJD-OBS": 60010.2, **blanco},
        ),
        "nofilter": image_record("visits/calexp-x.fits", cards={"MJD-OBS": 60005.0}),
        "far": image_record(
            "wide/far-r.fits",
            crval=(200.0, -40.0),
            scale=1e-3,
            cards={"FILTER": "r", "MJD-OBS": 60020.0},
        ),
        "cube": image_record(
            "radio/stokes.fits", header=stokes_header(), cards={"MJD-OBS": 59990.0}
        ),
    }


@pytest.fixture(scope="module")
def images() -> dict[str, ImageRecord]:
    return survey()


def parsed(params: Mapping[str, str | Sequence[str]], *, maxrec: int = 1000) -> SiaQuery:
    """A query parsed from request parameters, as the service receives them."""
    grouped: Mapping[str, list[str]] = {
        name: [value] if isinstance(value, str) else list(value) for name, value in params.items()
    }
    return parse_sia_query(grouped, default_maxrec=maxrec, max_maxrec=10_000)


def query(maxrec: int = 1000, **params: str | Sequence[str]) -> SiaQuery:
    """``parsed`` with the parameters as keywords."""
    return parsed(params, maxrec=maxrec)


def selected(images: dict[str, ImageRecord], **params: str | Sequence[str]) -> set[str]:
    """Names of the images a query selects."""
    chosen = select_images(parsed(params), images.values()).records
    by_id = {record.image_id: name for name, record in images.items()}
    return {by_id[record.image_id] for record in chosen}


def test_a_query_without_constraints_returns_every_image_by_start_time(
    images: dict[str, ImageRecord],
) -> None:
    shuffled = list(images.values())
    random.Random(7).shuffle(shuffled)
    result = select_images(query(), shuffled)
    names = {record.image_id: name for name, record in images.items()}
    # by t_min; the coadd has no exposure time and comes last
    assert [names[r.image_id] for r in result.records] == [
        "cube", "g", "nofilter", "r", "far", "coadd",
    ]  # fmt: skip
    assert not result.overflow


def sky_of_pixel(record_header: fits.Header, x: float, y: float) -> tuple[float, float]:
    """ICRS position of a pixel (0-based), by astropy alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        world = WCS(record_header).celestial.pixel_to_world(x, y)
    icrs = SkyCoord(world).icrs
    return float(icrs.ra.deg), float(icrs.dec.deg)


@pytest.mark.parametrize(("radius_px", "expected"), [(8.0, False), (12.0, True)])
def test_pos_circle_just_beyond_the_border_matches_only_if_it_reaches_the_image(
    radius_px: float, expected: bool
) -> None:
    header = image_header(FIELD, shape=(200, 300), scale=1e-4)
    record = image_record("edge/one.fits", header=header.copy())
    # 10 px beyond the left edge (pixel edge at x = -0.5), half-way up
    ra, dec = sky_of_pixel(header, -10.5, 99.5)
    circle = f"CIRCLE {ra} {dec} {radius_px * 1e-4}"
    assert matches(query(POS=circle), record) is expected


def test_repeated_pos_values_are_alternatives(images: dict[str, ImageRecord]) -> None:
    near_far = "CIRCLE 200.0 -40.0 0.01"
    # 0.005 deg west of the r visit's western edge, inside the images centred on the field
    near_field = "CIRCLE 149.99 2.0 0.001"
    assert selected(images, POS=near_far) == {"far"}
    assert selected(images, POS=near_field) == {"coadd", "g", "nofilter", "cube"}
    assert selected(images, POS=[near_far, near_field]) == {"coadd", "g", "nofilter", "cube", "far"}
    assert selected(images, POS="RANGE 199 201 -41 -39") == {"far"}
    assert selected(images, POS="POLYGON 199 -41 201 -41 201 -39") == {"far"}


def test_band_overlaps_the_filter_band_and_unknown_band_never_matches(
    images: dict[str, ImageRecord],
) -> None:
    assert selected(images, BAND="5e-7") == {"g"}  # within g (0.400-0.552 um)
    assert selected(images, BAND="5.5e-7 5.6e-7") == {"g", "r", "far"}  # straddles g|r
    # an open interval still needs a known band: the unfiltered image and the cube stay out
    assert selected(images, BAND="-Inf +Inf") == {"coadd", "g", "r", "far"}


def test_values_of_one_name_are_ored_and_names_are_anded(images: dict[str, ImageRecord]) -> None:
    assert selected(images, BAND=["4.5e-7", "7.5e-7"]) == {"g", "coadd"}
    assert selected(images, BAND=["4.5e-7", "6e-7"]) == {"g", "r", "far"}
    assert selected(images, BAND=["4.5e-7", "6e-7"], TIME="60010 60011") == {"r"}
    assert selected(images, BAND="6e-7", TIME="60000 60001") == set()


def test_time_overlaps_the_exposure_and_unknown_time_never_matches(
    images: dict[str, ImageRecord],
) -> None:
    g_start = images["g"].metadata.t_min
    assert g_start is not None
    assert selected(images, TIME="60000 60006") == {"g", "nofilter"}
    assert selected(images, TIME="-Inf +Inf") == set(images) - {"coadd"}
    # an exposure that ends 30 s after it starts overlaps an instant 20 s in
    assert selected(images, TIME=str(g_start + 20 / 86400)) == {"g"}


def test_exptime_includes_the_exposure_time(images: dict[str, ImageRecord]) -> None:
    assert selected(images, EXPTIME="20 +Inf") == {"g"}
    assert selected(images, EXPTIME=["-Inf 20", "29 31"]) == {"g", "r"}


def corner_diameter(shape: tuple[int, int], scale: float) -> float:
    """Angular distance between opposite pixel corners, by astropy alone (degrees)."""
    header = image_header(FIELD, shape=shape, scale=scale)
    ny, nx = shape
    a = SkyCoord(*sky_of_pixel(header, -0.5, -0.5), unit="deg")
    b = SkyCoord(*sky_of_pixel(header, nx - 0.5, ny - 0.5), unit="deg")
    return float(a.separation(b).deg)


def test_fov_is_the_diameter_of_the_image(images: dict[str, ImageRecord]) -> None:
    small = corner_diameter((200, 300), 1e-4)  # 0.036 deg
    large = corner_diameter((200, 300), 1e-3)  # 0.36 deg
    assert selected(images, FOV=f"{0.99 * large} {1.05 * large}") == {"far"}
    assert selected(images, FOV=f"-Inf {1.05 * small}") == set(images) - {"far"}
    assert selected(images, FOV=f"{1.05 * large} +Inf") == set()


def test_spatres_is_in_arcsec_as_sia_says(images: dict[str, ImageRecord]) -> None:
    # pixels of 1e-4 deg are 0.36 arcsec, of 1e-3 deg 3.6 arcsec
    assert selected(images, SPATRES="0.3 0.4") == set(images) - {"far"}
    assert selected(images, SPATRES="3.5 3.7") == {"far"}
    assert selected(images, SPATRES="-Inf 0.1") == set()


def test_pol_matches_a_state_of_a_stokes_axis(images: dict[str, ImageRecord]) -> None:
    assert selected(images, POL="Q") == {"cube"}
    assert selected(images, POL=["V", "I"]) == {"cube"}
    assert selected(images, POL="V") == set()


def test_string_constraints_are_exact_and_case_sensitive(images: dict[str, ImageRecord]) -> None:
    g_id = images["g"].image_id
    assert selected(images, ID=g_id) == {"g"}
    assert selected(images, ID=[g_id, images["far"].image_id]) == {"g", "far"}
    assert selected(images, ID=g_id.upper()) == set()
    assert selected(images, COLLECTION="visits") == {"g", "r", "nofilter"}
    assert selected(images, COLLECTION=["deep", "wide"]) == {"coadd", "far"}
    assert selected(images, FACILITY="Rubin") == {"coadd", "g"}
    assert selected(images, INSTRUMENT="DECam") == {"r"}
    assert selected(images, INSTRUMENT="decam") == set()
    assert selected(images, TARGET="COSMOS") == {"coadd", "g"}
    assert selected(images, DPTYPE="cube") == {"cube"}
    assert selected(images, CALIB="3") == {"coadd"}  # combined from 12 exposures
    assert selected(images, CALIB=["2", "3"]) == set(images)


def test_format_is_the_datalink_type_of_access_url(images: dict[str, ImageRecord]) -> None:
    assert selected(images, FORMAT=DATALINK) == set(images)
    assert selected(images, FORMAT="application/fits") == set()


def test_maxrec_keeps_the_first_images_in_order_and_says_more_matched(
    images: dict[str, ImageRecord],
) -> None:
    everything = select_images(query(), images.values()).records
    two = select_images(query(maxrec=2), reversed(list(images.values())))
    assert two.records == everything[:2]
    assert two.overflow
    exact = select_images(query(maxrec=len(images)), images.values())
    assert exact.records == everything
    assert not exact.overflow


def test_maxrec_zero_asks_for_metadata_only_and_reads_no_candidate() -> None:
    def untouchable() -> Iterator[ImageRecord]:
        raise AssertionError("MAXREC=0 must not look at candidates")
        yield  # pragma: no cover

    result = select_images(query(MAXREC="0"), untouchable())
    assert result.records == ()
    assert result.overflow  # DALI 1.1: MAXREC=0 answers with an overflow indicator


def test_overflow_counts_only_matches(images: dict[str, ImageRecord]) -> None:
    result = select_images(query(maxrec=1, BAND="4.5e-7"), images.values())
    assert [r.image_id for r in result.records] == [images["g"].image_id]
    assert not result.overflow
