import pytest

from skycut.errors import UsageError
from skycut.soda.ids import parse_source_id

ALLOWED = ["skycut-sources", "survey-b"]


@pytest.mark.parametrize(
    "text",
    ["gs://skycut-sources/a.fits", "gs://survey-b/deep/dir/calexp-1.fits"],
)
def test_ids_in_allowed_buckets_are_accepted(text):
    ref = parse_source_id(text, allowed_buckets=ALLOWED)
    assert ref.uri == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("skycut-sources/a.fits", "not a gs:// URI"),
        ("https://storage.googleapis.com/skycut-sources/a.fits", "not a gs:// URI"),
        ("s3://skycut-sources/a.fits", "not a gs:// URI"),
        ("gs://other-bucket/a.fits", "outside the allowed buckets"),
        ("gs://skycut-sources-evil/a.fits", "outside the allowed buckets"),
        ("gs://skycut-sources/", "names no object"),
        ("gs://skycut-sources/../other/a.fits", r"'\.\.' path segment"),
        ("gs://skycut-sources/a/./b.fits", "path segment"),
        ("gs://skycut-sources/a//b.fits", "path segment"),
        ("gs://skycut-sources/a%2F..%2Fb.fits", "forbidden character"),
        ("gs://skycut-sources/a\\b.fits", "forbidden character"),
        ("gs://skycut-sources/a.fits?alt=media", "forbidden character"),
    ],
)
def test_ids_outside_the_allowed_space_are_refused(text, message):
    with pytest.raises(UsageError, match=message):
        parse_source_id(text, allowed_buckets=ALLOWED)
