import pytest

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
    assert [(c.circle.ra, c.circle.dec, c.circle.radius) for c in combos] == [
        (151.0, 3.0, 0.02),
        (150.0, 2.0, 0.01),
    ]


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
    with pytest.raises(UsageError, match="RESPONSEFORMAT 'text/html' is not supported"):
        parse([("ID", ID), ("CIRCLE", "1 2 0.1"), ("RESPONSEFORMAT", "text/html")])


@pytest.mark.parametrize("shape", ["RANGE 1 2 3 4", "POLYGON 1 1 2 2 3 1"])
def test_pos_shapes_not_yet_supported_are_refused_clearly(shape):
    with pytest.raises(UsageError, match="not supported yet"):
        parse([("ID", ID), ("POS", shape)])


def test_missing_id_or_stencil_is_refused_only_when_complete():
    with pytest.raises(UsageError, match="ID is required"):
        parse([("CIRCLE", "1 2 0.1")])
    with pytest.raises(UsageError, match="a stencil is required"):
        parse([("ID", ID)])
    assert parse([("ID", ID)], complete=False).circles == ()


def test_runid_is_kept_and_bounded():
    assert parse([("ID", ID), ("CIRCLE", "1 2 0.1"), ("RUNID", "r1")]).run_id == "r1"
    with pytest.raises(UsageError, match="RUNID"):
        parse([("ID", ID), ("CIRCLE", "1 2 0.1"), ("RUNID", "x" * 65)])


def test_control_characters_are_refused():
    with pytest.raises(UsageError, match="control characters"):
        group_params([("ID", "gs://skycut-sources/a\x00.fits")])
