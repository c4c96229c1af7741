"""Unknown SODA parameters are ignored (DALI), but every error about the request names them."""

import pytest

from skycut.errors import MultiValuedParamNotSupportedError, UsageError
from skycut.soda.params import group_params, parse_soda_request

BUCKETS = ["skycut-sources"]
ID = "gs://skycut-sources/sample/a.fits"


def parse(pairs, *, complete=True):
    return parse_soda_request(
        group_params(pairs), allowed_buckets=BUCKETS, require_complete=complete
    )


def test_a_misspelt_filter_is_named_in_the_missing_filter_error():
    with pytest.raises(UsageError) as info:
        parse([("ID", ID), ("circel", "150 2 0.01")])
    assert info.value.to_text().startswith("UsageError: a filter is required")
    assert "(ignored unknown parameter: CIRCEL, did you mean CIRCLE?)" in info.value.to_text()


def test_unknown_parameters_are_ignored_when_the_request_is_valid():
    request = parse([("ID", ID), ("CIRCLE", "150 2 0.01"), ("MAXREC", "10"), ("FOO", "x")])
    assert len(request.combinations()) == 1


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("ID", ID), ("CIRCLE", "150 2"), ("FOO", "1")], "CIRCLE"),
        ([("ID", "gs://elsewhere/a.fits"), ("CIRCLE", "150 2 0.01"), ("FOO", "1")], "bucket"),
        ([("CIRCLE", "150 2 0.01"), ("IDS", ID), ("FOO", "1")], "ID is required"),
        ([("ID", ID), ("POS", "CIRCLE 1 2 0.1"), ("RESPONSEFORMAT", "gif"), ("FOO", "1")], "gif"),
    ],
)
def test_every_usage_error_names_the_ignored_parameters(pairs, message):
    with pytest.raises(UsageError, match=message) as info:
        parse(pairs)
    assert "ignored unknown parameter" in str(info.value)
    assert "FOO" in info.value.to_text()


def test_a_repeated_parameter_keeps_its_label_and_names_the_ignored():
    with pytest.raises(MultiValuedParamNotSupportedError) as info:
        parse([("ID", ID), ("CIRCLE", "1 2 0.1"), ("DETAIL", "all"), ("DETAIL", "all"), ("X", "")])
    assert info.value.to_text().startswith("MultiValuedParamNotSupported: DETAIL was given 2")
    assert info.value.to_text().endswith("(ignored unknown parameter: X)")


def test_sync_with_several_cutouts_names_the_ignored():
    request = parse([("ID", ID), ("CIRCLE", "1 2 0.1"), ("CIRCLE", "3 4 0.1"), ("BANDS", "1 2")])
    with pytest.raises(MultiValuedParamNotSupportedError, match="ignored unknown parameter: BAND"):
        request.single()


def test_several_ignored_are_listed_in_request_order_and_capped():
    with pytest.raises(UsageError) as info:
        parse([("ID", ID), ("ZETA", "1"), ("ALPHA", "1")] + [(f"P{i}", "1") for i in range(20)])
    text = info.value.to_text()
    assert "(ignored unknown parameters: ZETA; ALPHA; P0; P1;" in text
    assert "P7; and 12 more)" in text
    assert "P8" not in text


def test_errors_of_a_request_with_only_known_parameters_are_unchanged():
    with pytest.raises(UsageError) as info:
        parse([("ID", ID)])
    assert "ignored" not in info.value.to_text()
