"""One cutout's typed work: made once from a request, shipped as JSON or a document, cut as is."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given
from hypothesis import strategies as st

from skycut.config import get_settings
from skycut.cutout.engine import cut
from skycut.cutout.reader import LocalFileReader
from skycut.cutout.stencil import Circle, parse_stencil
from skycut.errors import UsageError
from skycut.jobs.messages import CutoutTask
from skycut.soda.ids import SourceRef
from skycut.soda.params import group_params, parse_soda_request
from skycut.soda.work import (
    Bounds,
    CircleStencil,
    CutWork,
    PolygonStencil,
    RangeStencil,
    works_of,
)
from skycut.worker.cutter import Cutter

BUCKET = "skycut-sources"
A = f"gs://{BUCKET}/a.fits"
B = f"gs://{BUCKET}/dir/b c.fits"


def parse(pairs: list[tuple[str, str]]) -> list[CutWork]:
    return works_of(parse_soda_request(group_params(pairs), allowed_buckets=[BUCKET]))


def nested_lists(value: Any) -> bool:
    """Whether a JSON-like value holds a list directly inside a list (Firestore refuses it)."""
    if isinstance(value, dict):
        return any(nested_lists(v) for v in value.values())
    if isinstance(value, list):
        return any(isinstance(v, list) or nested_lists(v) for v in value)
    return False


REQUESTS = {
    "circles": [("ID", A), ("CIRCLE", "150.1 2.2 0.002"), ("POS", "CIRCLE 150.11 2.21 0.003")],
    "polygon": [("ID", A), ("POLYGON", "150 2 150.1 2 150.1 2.1"), ("DETAIL", "all")],
    "open range": [("ID", B), ("POS", "RANGE 350 10 -Inf 5"), ("MASKOUTSIDE", "true")],
    "band time pol": [
        ("ID", A),
        ("ID", B),
        ("BAND", "-Inf 6e-7"),
        ("BAND", "5e-7 +Inf"),
        ("TIME", "60000.5 60001"),
        ("POL", "I"),
        ("POL", "Q"),
        ("RESPONSEFORMAT", "png"),
    ],
}

numbers = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def soda_pairs(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A valid SODA request: its IDs, stencils, intervals and options in their text form."""
    pairs = [("ID", draw(st.sampled_from([A, B]))) for _ in range(draw(st.integers(1, 2)))]
    lon, lat = st.floats(0, 359.9), st.floats(-89.9, 89.9)
    for _ in range(draw(st.integers(0, 2))):
        ra, dec, radius = draw(lon), draw(lat), draw(st.floats(1e-6, 10))
        pairs.append(("CIRCLE", f"{ra!r} {dec!r} {radius!r}"))
    if draw(st.booleans()):
        ra, dec = draw(st.floats(1, 358)), draw(st.floats(-80, 80))
        pairs.append(("POLYGON", f"{ra} {dec} {ra + 1} {dec} {ra + 1} {dec + 1}"))
    if draw(st.booleans()):
        lo = draw(st.one_of(st.just("-Inf"), st.floats(-80, 0).map(repr)))
        pairs.append(("POS", f"RANGE {draw(lon)!r} +Inf {lo} {draw(st.floats(0, 90))!r}"))
    for name in ("BAND", "TIME"):
        if draw(st.booleans()):
            low = draw(st.floats(0, 1e-5))
            high = draw(st.one_of(st.just("+Inf"), st.floats(1e-5, 1).map(repr)))
            pairs.append((name, f"{low!r} {high}"))
    pairs += [("POL", p) for p in draw(st.lists(st.sampled_from(["I", "Q", "XX"]), max_size=2))]
    if len(pairs) == len([p for p in pairs if p[0] == "ID"]):
        pairs.append(("POL", "I"))  # a request needs a filter
    pairs += draw(st.sampled_from([[], [("DETAIL", "all")], [("RESPONSEFORMAT", "image/jpeg")]]))
    pairs += draw(st.sampled_from([[], [("MASKOUTSIDE", "true")]]))
    return pairs


@given(soda_pairs())
def test_every_combination_becomes_one_work_with_the_same_filters(pairs):
    request = parse_soda_request(group_params(pairs), allowed_buckets=[BUCKET])
    works = works_of(request)
    assert len(works) == len(request.combinations())
    for work, spec in zip(works, request.combinations(), strict=True):
        assert work.source == spec.source
        assert work.selection() == spec.selection
        assert work.spec() == spec
        assert (work.detail, work.mask_outside, work.response_format) == (
            request.detail,
            request.mask_outside,
            request.response_format,
        )


@given(soda_pairs())
def test_works_survive_json_and_firestore_documents_exactly(pairs):
    for work in parse(pairs):
        text = work.model_dump_json()
        assert "Infinity" not in text, "plain JSON"
        assert "NaN" not in text
        assert CutWork.model_validate_json(text) == work
        doc = work.to_document()
        assert not nested_lists(doc), "Firestore has no arrays of arrays"
        assert CutWork.from_document(json.loads(json.dumps(doc))) == work


@given(soda_pairs())
def test_a_works_own_parameters_ask_for_that_cutout_alone(pairs):
    for work in parse(pairs):
        assert parse([("ID", work.source_id), *work.to_params()]) == [work]


@pytest.mark.parametrize("name", REQUESTS)
def test_named_requests_round_trip(name):
    works = parse(REQUESTS[name])
    for work in works:
        assert CutWork.model_validate_json(work.model_dump_json()) == work
        assert parse([("ID", work.source_id), *work.to_params()]) == [work]


def test_each_work_describes_its_own_filters_only():
    works = parse(
        [
            ("ID", A),
            ("CIRCLE", "150.1 2.2 0.002"),
            ("POS", "RANGE 150 150.1 -Inf 2.1"),
            ("BAND", "5e-7 6e-7"),
            ("POL", "I"),
            ("DETAIL", "image,mask,variance"),
        ]
    )
    options = "BAND=5e-07 6e-07; POL=I; DETAIL=image,mask,variance"
    assert [w.describe() for w in works] == [
        f"CIRCLE=150.1 2.2 0.002; {options}",
        f"POS=RANGE 150.0 150.1 -Inf 2.1; {options}",
    ]


def test_open_ends_are_null_in_the_message_and_infinite_in_the_engine():
    (work,) = parse([("ID", A), ("POS", "RANGE 350 10 -Inf 5"), ("BAND", "-Inf 6e-7")])
    assert work.stencil == RangeStencil(type="range", lon1=350, lon2=10, lat1=None, lat2=5)
    assert work.band == Bounds(lo=None, hi=6e-7)
    selection = work.selection()
    assert selection.stencil is not None
    assert selection.stencil.lat_min == -90.0  # type: ignore[union-attr]
    assert selection.band is not None
    assert selection.band.lo == -math.inf


def test_a_polygon_is_a_flat_list_of_vertices():
    (work,) = parse([("ID", A), ("POLYGON", "150 2 150.1 2 150.1 2.1")])
    assert work.stencil == PolygonStencil(
        type="polygon", vertices=(150.0, 2.0, 150.1, 2.0, 150.1, 2.1)
    )
    assert work.to_document()["stencil"] == {
        "type": "polygon",
        "vertices": [150.0, 2.0, 150.1, 2.0, 150.1, 2.1],
    }


@pytest.mark.parametrize(
    ("stencil", "message"),
    [
        (CircleStencil(type="circle", ra=1, dec=95, radius=0.1), "declination"),
        (CircleStencil(type="circle", ra=1, dec=5, radius=0), "radius"),
        (PolygonStencil(type="polygon", vertices=(1, 2, 3, 4, 5)), "pairs"),
        (PolygonStencil(type="polygon", vertices=(1, 2, 3, 4)), "at least 3"),
        (RangeStencil(type="range", lat1=5, lat2=1), "increasing"),
    ],
)
def test_values_are_checked_when_the_engine_takes_them(stencil, message):
    work = CutWork(source=SourceRef(BUCKET, "a.fits"), stencil=stencil)
    with pytest.raises(UsageError, match=message):
        work.selection()
    assert work.describe()  # a result can still say what it was asked


def test_infinite_numbers_are_not_a_work():
    with pytest.raises(ValueError, match="finite"):
        Bounds(lo=-math.inf)


def sky_file(path: Path) -> Path:
    """A 100x100 TAN image centred on RA 10, Dec 20, 0.36 arcsec pixels."""
    header = fits.Header()
    header.update(
        CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=10.0, CRVAL2=20.0, CRPIX1=50.5,
        CRPIX2=50.5, CD1_1=-1e-4, CD1_2=0.0, CD2_1=0.0, CD2_2=1e-4,
    )  # fmt: skip
    image = np.arange(100 * 100, dtype=np.float32).reshape(100, 100)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image, header, name="IMAGE")]).writeto(path)
    return path


def worker_spec(work: CutWork) -> Any:
    """What the worker makes of a task of ``work``: its (request, cutout) or its error."""
    cutter = Cutter.from_settings(get_settings(), no_reads)
    return cutter.spec(CutoutTask(index=0, work=work))


def no_reads(source: SourceRef, generation: int | None) -> Any:
    raise AssertionError(f"a task's spec reads nothing, not {source.uri}")


def test_the_worker_cuts_from_numbers_not_from_text(tmp_path: Path):
    """A circle whose SODA text the parser refuses (RA 370) is cut as RA 10."""
    with pytest.raises(UsageError, match="longitude"):
        parse_stencil("CIRCLE 370 20 0.002")
    work = CutWork(
        source=SourceRef(BUCKET, "sky.fits"),
        stencil=CircleStencil(type="circle", ra=370, dec=20, radius=0.002),
        mask_outside=True,
    )
    request, spec = worker_spec(work)
    assert spec.selection.stencil == Circle(370, 20, 0.002)
    assert (request.detail, request.mask_outside, request.response_format) == (
        "image",
        True,
        "application/fits",
    )
    path = sky_file(tmp_path / "sky.fits")
    (same,) = parse([("ID", work.source_id), ("CIRCLE", "10 20 0.002"), ("MASKOUTSIDE", "true")])
    cuts = [
        cut(LocalFileReader(path), s, source_id=work.source_id, mask_outside=True)
        for s in (spec.selection, same.selection())
    ]
    with fits.open(io.BytesIO(cuts[0].content)) as asked, fits.open(
        io.BytesIO(cuts[1].content)
    ) as plain:
        assert asked[0].header["SC_STENC"] == "CIRCLE 370.0 20.0 0.002"
        np.testing.assert_array_equal(asked["IMAGE"].data, plain["IMAGE"].data)


@pytest.mark.parametrize(
    ("work", "message"),
    [
        (CutWork(source=SourceRef("elsewhere", "a.fits")), "outside the allowed buckets"),
        (CutWork(source=SourceRef(BUCKET, "a/../b.fits")), "'..' path segment"),
        (
            CutWork(
                source=SourceRef(BUCKET, "a.fits"),
                stencil=CircleStencil(type="circle", ra=1, dec=-91, radius=1),
            ),
            "declination",
        ),
    ],
)
def test_a_work_the_worker_cannot_cut_is_that_tasks_error(work, message):
    error = worker_spec(work)
    assert isinstance(error, UsageError)
    assert message in error.message
