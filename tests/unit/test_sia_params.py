"""SIA 2.0 query parameters: every constraint parsed, repeated values OR-ed, errors that say why."""

import math
import re

import pytest

from skycut.cutout.intervals import Interval
from skycut.cutout.stencil import Circle, Polygon, Range
from skycut.errors import MultiValuedParamNotSupportedError, UsageError
from skycut.sia.params import VOTABLE, overlaps, overlaps_any, parse_sia_query
from skycut.soda.params import group_params


def parse(pairs, *, default=100, maximum=1000):
    return parse_sia_query(group_params(pairs), default_maxrec=default, max_maxrec=maximum)


def test_a_query_without_constraints_selects_everything_up_to_the_default_maxrec():
    query = parse([])
    assert query.is_unconstrained
    assert query.maxrec == 100
    assert query.response_format == VOTABLE
    assert query.serialization is None


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("CIRCLE 150.1 2.2 0.01", Circle),
        ("RANGE 150 150.2 2.1 2.3", Range),
        ("RANGE 350 10 -Inf +Inf", Range),
        ("POLYGON 150 2 150.1 2 150.1 2.1", Polygon),
    ],
)
def test_pos_takes_the_three_dali_shapes(value, kind):
    (region,) = parse([("POS", value)]).pos
    assert isinstance(region, kind)


@pytest.mark.parametrize(
    "value",
    ["", "CIRCLE 150 2", "CIRCLE 150 95 1", "CIRCLE 150 2 -1", "BOX 1 2 3 4", "circle 1 2 3",
     "POLYGON 1 2 3 4", "RANGE 1 2 5 3", "CIRCLE 150 2 NaN"],
)  # fmt: skip
def test_a_malformed_pos_is_refused_naming_the_parameter_and_the_value(value):
    with pytest.raises(UsageError, match="POS") as info:
        parse([("POS", value)])
    assert repr(value) in info.value.message


@pytest.mark.parametrize(
    ("name", "value", "lo", "hi"),
    [
        ("BAND", "5e-7 6e-7", 5e-7, 6e-7),
        ("BAND", "5e-7", 5e-7, 5e-7),
        ("BAND", "-Inf 6e-7", -math.inf, 6e-7),
        ("BAND", "5e-7 +Inf", 5e-7, math.inf),
        ("TIME", "60000.5 60001", 60000.5, 60001.0),
        ("TIME", "-Inf -10", -math.inf, -10.0),
        ("TIME", "55678.123456", 55678.123456, 55678.123456),
        ("FOV", "0.1 1", 0.1, 1.0),
        ("SPATRES", "-Inf 0.0003", -math.inf, 0.0003),
        ("EXPTIME", "30 +Inf", 30.0, math.inf),
        ("EXPTIME", "0 0", 0.0, 0.0),
    ],
)
def test_numeric_intervals_take_lo_hi_open_ends_or_one_value(name, value, lo, hi):
    query = parse([(name, value)])
    assert getattr(query, name.lower()) == (Interval(lo, hi),)


@pytest.mark.parametrize("name", ["BAND", "TIME", "FOV", "SPATRES", "EXPTIME"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("5 x", "'x' is not a finite decimal number"),
        ("NaN 6", "'NaN' is not a finite decimal number"),
        ("5 nan", "'nan' is not a finite decimal number"),
        ("inf", "'inf' is not a finite decimal number"),
        ("+Inf", "'\\+Inf' is not a finite decimal number"),
        ("1_0 20", "'1_0' is not"),
        ("6 5", "the lower bound is above the upper"),
        ("+Inf 5", "open ends are -Inf for the lower"),
        ("5 -Inf", "open ends are -Inf for the lower"),
        ("1 2 3", "needs 'lo hi' or one value, got 3"),
        ("", "got 0 values"),
        ("1e999 2e999", "out of range"),
    ],
)
def test_a_malformed_interval_is_refused_naming_the_parameter_and_the_value(name, value, reason):
    with pytest.raises(UsageError, match=reason) as info:
        parse([(name, value)])
    assert info.value.message.startswith(f"{name} {value!r}: ")


@pytest.mark.parametrize("name", ["BAND", "FOV", "SPATRES", "EXPTIME"])
def test_only_time_may_be_negative(name):
    with pytest.raises(UsageError, match=f"{name} '-1 2': cannot be negative"):
        parse([(name, "-1 2")])
    assert parse([("TIME", "-1 2")]).time == (Interval(-1.0, 2.0),)


def test_pol_takes_stokes_names_case_sensitively():
    assert parse([("POL", "I"), ("POL", "V")]).pol == ("I", "V")
    with pytest.raises(UsageError, match="POL 'i'"):
        parse([("POL", "i")])


@pytest.mark.parametrize(
    ("name", "attribute"),
    [
        ("ID", "ids"),
        ("COLLECTION", "collections"),
        ("FACILITY", "facilities"),
        ("INSTRUMENT", "instruments"),
        ("TARGET", "targets"),
        ("FORMAT", "formats"),
    ],
)
def test_string_constraints_keep_their_values_exactly(name, attribute):
    query = parse([(name, "Sample Survey"), (name, "image/fits")])
    assert getattr(query, attribute) == ("Sample Survey", "image/fits")
    with pytest.raises(UsageError, match=f"{name} ' ': must not be empty"):
        parse([(name, " ")])


@pytest.mark.parametrize(("value", "expected"), [("image", ("image",)), ("cube", ("cube",))])
def test_dptype_is_image_or_cube(value, expected):
    assert parse([("DPTYPE", value)]).dptype == expected


@pytest.mark.parametrize("value", ["Image", "spectrum", "", "image cube"])
def test_other_dptypes_are_refused(value):
    with pytest.raises(UsageError, match=re.escape(f"DPTYPE {value!r}: must be image or cube")):
        parse([("DPTYPE", value)])


@pytest.mark.parametrize("value", ["0", "1", "2", "3", "4"])
def test_calib_takes_the_levels_zero_to_four(value):
    assert parse([("CALIB", value)]).calib == (int(value),)


@pytest.mark.parametrize("value", ["5", "-1", "1.0", "", "two", "01", "٣"])
def test_other_calibration_levels_are_refused(value):
    with pytest.raises(
        UsageError, match=re.escape(f"CALIB {value!r}: must be a calibration level")
    ):
        parse([("CALIB", value)])


def test_repeated_values_of_one_name_are_alternatives_and_different_names_all_apply():
    query = parse(
        [
            ("BAND", "5e-7 6e-7"),
            ("CALIB", "2"),
            ("BAND", "1e-6 2e-6"),
            ("CALIB", "3"),
            ("CALIB", "2"),
            ("POS", "CIRCLE 150 2 0.1"),
        ]
    )
    assert query.band == (Interval(5e-7, 6e-7), Interval(1e-6, 2e-6))
    assert query.calib == (2, 3)  # a value given twice is one alternative
    assert len(query.pos) == 1
    assert not query.is_unconstrained


def test_names_are_case_insensitive_and_values_of_differently_cased_names_merge():
    query = parse_sia_query(
        {"band": ["5e-7"], "Band": ["6e-7"], "maxrec": ["7"], "responseFormat": ["votable"]},
        default_maxrec=100,
        max_maxrec=1000,
    )
    assert query.band == (Interval(5e-7, 5e-7), Interval(6e-7, 6e-7))
    assert query.maxrec == 7


@pytest.mark.parametrize(
    ("value", "expected"), [("0", 0), ("10", 10), ("1000", 1000), ("5000", 1000), (" 3", 3)]
)
def test_maxrec_is_a_non_negative_integer_lowered_to_the_service_limit(value, expected):
    assert parse([("MAXREC", value)]).maxrec == expected


def test_the_default_maxrec_never_exceeds_the_limit():
    assert parse([], default=500, maximum=50).maxrec == 50


@pytest.mark.parametrize("value", ["-1", "1.5", "", "ten", "1e3", "+5", "1_000"])
def test_a_malformed_maxrec_is_refused(value):
    with pytest.raises(
        UsageError, match=re.escape(f"MAXREC {value!r}: must be a non-negative integer")
    ):
        parse([("MAXREC", value)])


@pytest.mark.parametrize("name", ["MAXREC", "RESPONSEFORMAT"])
def test_maxrec_and_responseformat_take_one_value(name):
    value = "10" if name == "MAXREC" else "votable"
    with pytest.raises(MultiValuedParamNotSupportedError, match=f"{name} was given 2 times"):
        parse([(name, value), (name, value)])


@pytest.mark.parametrize(
    ("value", "serialization"),
    [
        ("application/x-votable+xml", None),
        ("votable", None),
        ("text/xml", None),
        ("Application/X-VOTable+XML", None),
        ("application/x-votable+xml;serialization=BINARY2", "BINARY2"),
        ("votable; serialization=tabledata", "TABLEDATA"),
        ("text/xml;serialization=BINARY", "BINARY"),
    ],
)
def test_responseformat_accepts_the_votable_forms(value, serialization):
    query = parse([("RESPONSEFORMAT", value)])
    assert query.response_format == VOTABLE
    assert query.serialization == serialization


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("application/fits", "is not supported; SIA answers in VOTable"),
        ("text/csv", "is not supported; SIA answers in VOTable"),
        ("", "is not supported; SIA answers in VOTable"),
        ("votable;serialization=FITS", "'serialization=FITS' is not supported"),
        ("votable;content=datalink", "'content=datalink' is not supported"),
    ],
)
def test_other_response_formats_are_refused(value, reason):
    with pytest.raises(UsageError, match=reason) as info:
        parse([("RESPONSEFORMAT", value)])
    assert info.value.message.startswith(f"RESPONSEFORMAT {value!r}: ")


def test_unknown_parameters_are_ignored_when_the_query_is_valid():
    query = parse([("FOO", "x"), ("POS", "CIRCLE 150 2 0.1")])
    assert query.ignored == ("FOO",)
    assert len(query.pos) == 1


def test_a_misspelt_parameter_is_named_in_any_error():
    with pytest.raises(UsageError) as info:
        parse([("BNAD", "5e-7"), ("CALIB", "9")])
    text = info.value.to_text()
    assert text.startswith("UsageError: CALIB '9': must be a calibration level")
    assert text.endswith("(ignored unknown parameter: BNAD, did you mean BAND?)")


def test_many_unknown_parameters_are_named_up_to_ten():
    pairs = [(f"X{i}", "1") for i in range(12)] + [("DPTYPE", "spectrum")]
    with pytest.raises(UsageError, match=r"ignored unknown parameters: X0; .*; X9; and 2 more\)"):
        parse(pairs)


def test_a_long_value_is_shortened_in_the_message():
    with pytest.raises(UsageError) as info:
        parse([("BAND", "1 " * 500)])
    assert len(info.value.message) < 400


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (1.0, 2.0, True),
        (2.0, 3.0, True),  # touching ends overlap
        (3.0, 4.0, False),
        (-math.inf, 0.5, False),
        (-math.inf, math.inf, True),
        (2.5, math.inf, False),
    ],
)
def test_overlaps_treats_ends_as_closed_and_infinite_ends_as_open(lo, hi, expected):
    assert overlaps(Interval(1.0, 2.0), lo, hi) is expected
    assert overlaps(Interval(-math.inf, math.inf), lo, hi) is True


def test_overlaps_any_matches_one_alternative_and_no_alternatives_match_all():
    alternatives = (Interval(1.0, 2.0), Interval(5.0, math.inf))
    assert overlaps_any(alternatives, 6.0, 7.0)
    assert not overlaps_any(alternatives, 3.0, 4.0)
    assert overlaps_any((), 3.0, 4.0)
