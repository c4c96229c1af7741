import math

import pytest

from skycut.cutout.intervals import Interval
from skycut.cutout.selection import Selection
from skycut.cutout.stencil import Circle, Polygon, Range
from skycut.errors import MultiValuedParamNotSupportedError, UsageError
from skycut.soda.params import group_params, parse_circle, parse_soda_request

BUCKETS = ["skycut-sources"]
ID = "gs://skycut-sources/sample/a.fits"


def parse(pairs, *, complete=True):
    return parse_soda_request(
        group_params(pairs), allowed_buckets=BUCKETS, require_complete=complete
    )


@pytest.mark.parametrize("name", ["ID", "id", "Id", " iD "])
def test_parameter_names_are_case_insensitive(name):
    request = parse([(name, ID), ("pos", "CIRCLE 150 2 0.01")])
    assert request.sources[0].uri == ID


def test_values_are_case_sensitive():
    with pytest.raises(UsageError, match="must start with CIRCLE"):
        parse([("ID", ID), ("POS", "circle 150 2 0.01")])


def test_pos_circle_and_circle_parameter_give_one_result_each():
    request = parse([("ID", ID), ("POS", "CIRCLE 150 2 0.01"), ("CIRCLE", "151 3 0.02")])
    combos = request.combinations()
    assert [c.stencil for c in combos] == [Circle(151.0, 3.0, 0.02), Circle(150.0, 2.0, 0.01)]


def test_combinations_are_ids_times_stencils():
    other = "gs://skycut-sources/sample/b.fits"
    request = parse([("ID", ID), ("ID", other), ("CIRCLE", "1 2 0.1"), ("CIRCLE", "3 4 0.1")])
    assert len(request.combinations()) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("150 2", "needs 3 numbers"),
        ("150 2 0.1 4", "needs 3 numbers"),
        ("150 x 0.1", "not a number"),
        ("nan 2 0.1", "finite"),
        ("inf 2 0.1", "finite"),
        ("361 2 0.1", r"outside \[0, 360\]"),
        ("-1 2 0.1", r"outside \[0, 360\]"),
        ("150 91 0.1", r"outside \[-90, 90\]"),
        ("150 2 0", r"outside \(0, 180\]"),
        ("150 2 -1", r"outside \(0, 180\]"),
        ("150 2 181", r"outside \(0, 180\]"),
    ],
)
def test_bad_circles_say_what_is_wrong(text, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_circle(text)
    assert info.value.to_text().startswith("UsageError: ")


def test_circle_at_360_wraps_to_zero():
    assert parse_circle("360 0 1").ra == 0.0


def test_repeated_single_valued_parameter_is_refused():
    with pytest.raises(MultiValuedParamNotSupportedError) as info:
        parse(
            [
                ("ID", ID),
                ("CIRCLE", "1 2 0.1"),
                ("RESPONSEFORMAT", "application/fits"),
                ("responseformat", "application/fits"),
            ]
        )
    assert info.value.to_text().startswith("MultiValuedParamNotSupported: ")


def test_unsupported_response_format_is_refused():
    with pytest.raises(UsageError, match="RESPONSEFORMAT 'text/html' is not supported; use"):
        parse([("ID", ID), ("CIRCLE", "1 2 0.1"), ("RESPONSEFORMAT", "text/html")])


def test_missing_id_or_stencil_is_refused_only_when_complete():
    with pytest.raises(UsageError, match="ID is required"):
        parse([("CIRCLE", "1 2 0.1")])
    with pytest.raises(UsageError, match="a filter is required: POS, CIRCLE or POLYGON"):
        parse([("ID", ID)])
    assert parse([("ID", ID)], complete=False).stencils == ()


def test_runid_is_kept_and_bounded():
    assert parse([("ID", ID), ("CIRCLE", "1 2 0.1"), ("RUNID", "r1")]).run_id == "r1"
    with pytest.raises(UsageError, match="RUNID"):
        parse([("ID", ID), ("CIRCLE", "1 2 0.1"), ("RUNID", "x" * 65)])


def test_control_characters_are_refused():
    with pytest.raises(UsageError, match="control characters"):
        group_params([("ID", "gs://skycut-sources/a\x00.fits")])


def test_every_pos_shape_and_the_polygon_parameter():
    request = parse(
        [
            ("ID", ID),
            ("POS", "RANGE 150 150.2 2 2.2"),
            ("POS", "POLYGON 150 2 150.1 2 150.05 2.1"),
            ("POLYGON", "10 20 11 20 11 21"),
            ("pos", "CIRCLE 1 2 0.1"),
        ]
    )
    assert [type(c.stencil) for c in request.combinations()] == [Polygon, Range, Polygon, Circle]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("POS", "RANGE 1 2 3", "POS RANGE needs 4 numbers"),
        ("POS", "RANGE 1 2 4 3", "latitudes must be increasing"),
        ("POS", "POLYGON 1 2 3 4", "POS POLYGON needs at least 6 numbers"),
        ("POLYGON", "1 2 3 4 5", "POLYGON needs at least 6 numbers"),
        ("POLYGON", "1 2 3 4 5 6 7", "pairs"),
        ("CIRCLE", "1 2 -Inf", "finite"),
        ("BAND", "5e-7", "BAND needs 2 numbers"),
        ("BAND", "6e-7 5e-7", "BAND '6e-7 5e-7' must be 'lo hi' with lo <= hi"),
        ("BAND", "-1 5e-7", "cannot be negative"),
        ("BAND", "+Inf 5e-7", "open end on the wrong side"),
        ("BAND", "5e-7 inf", r"open ends are written -Inf or \+Inf"),
        ("BAND", "a b", "not a number"),
        ("TIME", "60000", "TIME needs 2 numbers"),
        ("TIME", "60001 60000", "lo <= hi"),
        ("TIME", "60000 -Inf", "open end on the wrong side"),
        ("POL", "i", "POL 'i' is not a polarization state; use one of I Q U V"),
        ("POL", "STOKES", "is not a polarization state"),
        ("DETAIL", "everything", "DETAIL 'everything' is not supported; use one of image, "),
        ("DETAIL", "IMAGE", "is not supported"),
        ("MASKOUTSIDE", "yes", "MASKOUTSIDE 'yes' must be true or false"),
        ("MASKOUTSIDE", "True", "must be true or false"),
    ],
)
def test_malformed_values_say_what_is_expected(name, value, message):
    with pytest.raises(UsageError, match=message) as info:
        parse([("ID", ID), ("CIRCLE", "1 2 0.1"), (name, value)])
    assert info.value.to_text().startswith("UsageError: ")


@pytest.mark.parametrize("name", ["DETAIL", "MASKOUTSIDE", "RESPONSEFORMAT", "RUNID"])
def test_single_valued_options_refuse_repetition(name):
    value = {"DETAIL": "image", "MASKOUTSIDE": "true", "RESPONSEFORMAT": "png", "RUNID": "r"}[name]
    with pytest.raises(MultiValuedParamNotSupportedError, match=f"{name} was given 2 times"):
        parse([("ID", ID), ("CIRCLE", "1 2 0.1"), (name, value), (name.lower(), value)])


def test_band_time_and_pol_values():
    request = parse(
        [
            ("ID", ID),
            ("BAND", "5e-7 6e-7"),
            ("BAND", "-Inf 1e-6"),
            ("TIME", "60000 +Inf"),
            ("POL", "I"),
            ("POL", "V"),
            ("POL", "I"),
        ]
    )
    assert request.bands == (Interval(5e-7, 6e-7), Interval(-math.inf, 1e-6))
    assert request.times == (Interval(60000.0, math.inf),)
    assert request.pol == ("I", "V")


def test_combinations_are_id_stencil_band_time_with_pol_as_one_filter():
    other = "gs://skycut-sources/sample/b.fits"
    request = parse(
        [
            ("ID", ID),
            ("ID", other),
            ("CIRCLE", "1 2 0.1"),
            ("CIRCLE", "3 4 0.1"),
            ("BAND", "5e-7 6e-7"),
            ("BAND", "6e-7 7e-7"),
            ("TIME", "60000 60001"),
            ("POL", "Q"),
            ("POL", "U"),
        ]
    )
    combos = request.combinations()
    assert len(combos) == 2 * 2 * 2 * 1  # SODA §6: 2 CIRCLE x 2 BAND => 4 per ID
    assert all(c.pol == ("Q", "U") for c in combos)
    assert [(c.source.uri, c.stencil, c.band) for c in combos[:3]] == [
        (ID, Circle(1.0, 2.0, 0.1), Interval(5e-7, 6e-7)),
        (ID, Circle(1.0, 2.0, 0.1), Interval(6e-7, 7e-7)),
        (ID, Circle(3.0, 4.0, 0.1), Interval(5e-7, 6e-7)),
    ]


def test_a_request_without_a_stencil_cuts_the_whole_sky_extent():
    (spec,) = parse([("ID", ID), ("BAND", "5e-7 6e-7")]).combinations()
    assert spec.stencil is None
    assert spec.selection == Selection(band=Interval(5e-7, 6e-7))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("application/fits", "application/fits"),
        ("fits", "application/fits"),
        ("image/png", "image/png"),
        ("png", "image/png"),
        ("image/jpeg", "image/jpeg"),
        ("jpg", "image/jpeg"),
    ],
)
def test_response_formats(value, expected):
    assert parse(
        [("ID", ID), ("CIRCLE", "1 2 0.1"), ("RESPONSEFORMAT", value)]
    ).response_format == (expected)


def test_options_default_and_parse():
    default = parse([("ID", ID), ("CIRCLE", "1 2 0.1")])
    assert (default.detail, default.mask_outside, default.response_format) == (
        "image",
        False,
        "application/fits",
    )
    chosen = parse(
        [
            ("ID", ID),
            ("CIRCLE", "1 2 0.1"),
            ("detail", "image,mask,variance"),
            ("MaskOutside", "true"),
        ]
    )
    assert (chosen.detail, chosen.mask_outside) == ("image,mask,variance", True)


def test_previews_take_only_the_image():
    with pytest.raises(UsageError, match="DETAIL=all needs RESPONSEFORMAT=application/fits"):
        parse([("ID", ID), ("CIRCLE", "1 2 0.1"), ("DETAIL", "all"), ("RESPONSEFORMAT", "png")])


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("ID", ID), ("ID", ID)], "sync takes one ID, got 2"),
        ([("ID", ID), ("CIRCLE", "1 2 0.1"), ("POS", "CIRCLE 1 2 0.2")], "one stencil"),
        ([("ID", ID), ("BAND", "1 2"), ("BAND", "3 4")], "one BAND"),
        ([("ID", ID), ("TIME", "1 2"), ("TIME", "3 4")], "one TIME"),
    ],
)
def test_single_combination_for_sync(pairs, message):
    with pytest.raises(MultiValuedParamNotSupportedError, match=message):
        parse([*pairs, ("POL", "I")]).single()


def test_single_combination_keeps_every_pol():
    spec = parse([("ID", ID), ("POL", "I"), ("POL", "Q")]).single()
    assert spec.pol == ("I", "Q")


def test_selection_json_round_trips():
    selection = Selection(
        stencil=Range(-math.inf, 10.0, 0.0, math.inf),
        band=Interval(-math.inf, 1e-6),
        time=Interval(60000.5, 60000.5),
        pol=("I", "POLI"),
    )
    data = selection.to_json()
    assert data == {
        "stencil": "RANGE -Inf 10.0 0.0 +Inf",
        "band": "-Inf 1e-06",
        "time": "60000.5 60000.5",
        "pol": ["I", "POLI"],
    }
    assert Selection.from_json(data) == selection
    assert Selection.from_json(Selection().to_json()) == Selection()
