import pytest

from skycut.bulk.rows import parse_csv_rows
from skycut.bulk.submit import DropObject, bulk_job_id, owner_of
from skycut.errors import UsageError

ALLOWED = ["skycut-sources"]


def test_good_and_bad_rows_are_separated_with_line_numbers():
    data = (
        b"id,ra,dec,radius,label\n"
        b"gs://skycut-sources/a.fits,150.1,2.2,0.01,first\n"
        b"gs://elsewhere/a.fits,150.1,2.2,0.01,bad-bucket\n"
        b"gs://skycut-sources/a.fits,150.1,95,0.01,bad-dec\n"
        b"gs://skycut-sources/b.fits,10,-30,0.02,\n"
    )
    rows = parse_csv_rows(data, allowed_buckets=ALLOWED, max_rows=100)
    assert [(t.index, t.source_id, t.label) for t in rows.tasks] == [
        (0, "gs://skycut-sources/a.fits", "first"),
        (1, "gs://skycut-sources/b.fits", None),
    ]
    assert [b.line for b in rows.bad] == [3, 4]
    assert "outside the allowed buckets" in rows.bad[0].reason
    assert "latitude" in rows.bad[1].reason


def test_header_columns_are_case_insensitive_and_required():
    rows = parse_csv_rows(
        b"ID,RA,Dec,Radius\ngs://skycut-sources/a.fits,1,2,0.1\n",
        allowed_buckets=ALLOWED,
        max_rows=10,
    )
    assert len(rows.tasks) == 1
    with pytest.raises(UsageError, match=r"lacks column\(s\) \['radius'\]"):
        parse_csv_rows(b"id,ra,dec\nx,1,2\n", allowed_buckets=ALLOWED, max_rows=10)


def test_files_over_the_row_limit_and_binary_files_are_refused():
    data = b"id,ra,dec,radius\n" + b"gs://skycut-sources/a.fits,1,2,0.1\n" * 3
    with pytest.raises(UsageError, match="more than 2 rows"):
        parse_csv_rows(data, allowed_buckets=ALLOWED, max_rows=2)
    with pytest.raises(UsageError, match="not UTF-8"):
        parse_csv_rows(b"\xff\xfe\x00binary", allowed_buckets=ALLOWED, max_rows=2)


def test_bulk_job_id_is_stable_per_object_generation():
    a = DropObject("drop", "incoming/ada/x.csv", "1")
    assert bulk_job_id(a) == bulk_job_id(DropObject("drop", "incoming/ada/x.csv", "1"))
    assert bulk_job_id(a) != bulk_job_id(DropObject("drop", "incoming/ada/x.csv", "2"))


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("incoming/ada/x.csv", "ada"),
        ("incoming/ada/sub/x.csv", "ada"),
        ("incoming/x.csv", None),
        ("other/ada/x.csv", None),
        ("incoming//x.csv", None),
    ],
)
def test_owner_comes_from_the_incoming_path(name, owner):
    assert owner_of(name) == owner
