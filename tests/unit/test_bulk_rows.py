import io
import json

import pytest
from astropy.table import Table

from skycut.bulk.drops import DropObject, bulk_job_id, job_options, owner_of
from skycut.bulk.formats import detect_format, read_rows
from skycut.bulk.rows import row_params, tasks_from_rows
from skycut.cutout.stencil import Circle, Polygon, Range
from skycut.errors import UsageError

ALLOWED = ["skycut-sources"]
A = "gs://skycut-sources/a.fits"
B = "gs://skycut-sources/b.fits"


def parse(data: bytes, fmt="csv", *, options=None, max_rows=100):
    return tasks_from_rows(
        read_rows(data, fmt, max_rows=max_rows), allowed_buckets=ALLOWED, options=options or {}
    )


def test_good_and_bad_rows_are_separated_with_line_numbers():
    data = (
        "id,ra,dec,radius,label\n"
        f"{B},150.1,2.2,0.01,first\n"
        "gs://elsewhere/a.fits,150.1,2.2,0.01,bad-bucket\n"
        f"{A},150.1,95,0.01,bad-dec\n"
        f"{A},10,-30,0.02,\n"
    ).encode()
    rows = parse(data)
    # numbered in file order, sent grouped by image
    assert [(t.index, t.source_id, t.label) for t in rows.tasks] == [(1, A, None), (0, B, "first")]
    assert [b.line for b in rows.bad] == [3, 4]
    assert "outside the allowed buckets" in rows.bad[0].reason
    assert "latitude" in rows.bad[1].reason
    assert rows.bad[0].row.startswith("gs://elsewhere/a.fits,150.1")
    assert rows.total_rows == 4


def test_every_stencil_column_form_is_accepted():
    data = (
        "id,circle,polygon,range,pos,ra,dec,radius\n"
        f"{A},150.1 2.2 0.01,,,,,,\n"
        f"{A},,150 2 150.1 2 150.1 2.1,,,,,\n"
        f"{A},,,150 150.1 2 2.1,,,,\n"
        f"{A},,,,CIRCLE 150 2 0.1,,,\n"
        f"{A},,,,,150,2,0.1\n"
    ).encode()
    rows = parse(data)
    assert rows.bad == []
    assert [t.work.selection().stencil for t in rows.tasks] == [
        Circle(150.1, 2.2, 0.01),
        Polygon(((150, 2), (150.1, 2), (150.1, 2.1))),
        Range(150, 150.1, 2, 2.1),
        Circle(150, 2, 0.1),
        Circle(150, 2, 0.1),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"label": "x", "band": "5e-7 6e-7"}, "no id .* and no position"),
        ({"id": A, "circle": "1 2 0.1", "collection": "calexp"}, "collection choose the images"),
        ({"id": A, "circle": "1 2 0.1", "dptype": "image"}, "dptype choose the images"),
        ({"circle": "1 2 0.1", "dptype": "spectrum"}, "DPTYPE"),
        ({"id": A, "ra": "1", "dec": "2"}, "go together"),
        ({"id": A, "circle": "1 2 0.1", "ra": "1", "dec": "2", "radius": "0.1"}, "one stencil"),
        ({"id": A, "circle": "1 2 0.1", "colour": "red"}, "unknown column"),
    ],
)
def test_row_shape_errors(values, message):
    with pytest.raises(UsageError, match=message):
        row_params(values, {})


def test_job_options_fill_empty_cells_only():
    pairs = row_params(
        {"id": A, "circle": "1 2 0.1", "format": ""}, {"format": "image/png", "detail": "all"}
    ).params
    assert ("RESPONSEFORMAT", "image/png") in pairs
    assert ("DETAIL", "all") in pairs
    own = row_params(
        {"id": A, "circle": "1 2 0.1", "format": "application/fits"}, {"format": "image/png"}
    ).params
    assert ("RESPONSEFORMAT", "application/fits") in own


def test_pol_cells_hold_several_values():
    pairs = row_params({"id": A, "circle": "1 2 0.1", "pol": "I Q,U"}, {}).params
    assert [v for n, v in pairs if n == "POL"] == ["I", "Q", "U"]


def test_jsonl_rows_and_bad_lines():
    lines = [
        json.dumps({"id": A, "ra": 150.1, "dec": 2.2, "radius": 0.01, "label": "x"}),
        "not json",
        json.dumps([1, 2]),
        "",
        json.dumps({"ID": B, "CIRCLE": "150 2 0.1"}),
    ]
    rows = parse("\n".join(lines).encode(), "jsonl")
    assert [t.source_id for t in rows.tasks] == [A, B]
    assert [b.line for b in rows.bad] == [2, 3]
    assert "not JSON" in rows.bad[0].reason


def test_votable_rows():
    table = Table(
        {
            "id": [A, B, "gs://nope/x.fits"],
            "ra": [150.1, 150.2, 1.0],
            "dec": [2.2, 2.3, 1.0],
            "radius": [0.01, 0.02, 0.1],
            "label": ["one", "two", "three"],
        }
    )
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    data = buffer.getvalue()
    assert detect_format("positions.xml", data) == "votable"
    rows = parse(data, "votable")
    assert [(t.source_id, t.label) for t in rows.tasks] == [(A, "one"), (B, "two")]
    assert [b.line for b in rows.bad] == [3]


@pytest.mark.parametrize(
    ("name", "data", "fmt"),
    [
        ("a.csv", b"id,ra", "csv"),
        ("a.jsonl", b"{}", "jsonl"),
        ("a.vot", b"<x/>", "votable"),
        ("noext", b"  <?xml", "votable"),
        ("noext", b'{"id": 1}', "jsonl"),
        ("noext", b"id,", "csv"),
    ],
)
def test_format_detection(name, data, fmt):
    assert detect_format(name, data) == fmt


def test_unreadable_files_are_refused_whole():
    with pytest.raises(UsageError, match="not UTF-8"):
        parse(b"\xff\xfe\x00binary")
    with pytest.raises(UsageError, match="empty"):
        parse(b"")
    with pytest.raises(UsageError, match="more than 2 rows"):
        parse(b"id,ra,dec,radius\n" + f"{A},1,2,0.1\n".encode() * 3, max_rows=2)
    with pytest.raises(UsageError, match="VOTable cannot be read"):
        parse(b"<VOTABLE><broken", "votable")
    with pytest.raises(UsageError, match="repeats a column"):
        parse(b"id,id,ra\n")


def test_ragged_csv_rows_are_bad_rows_not_a_refusal():
    rows = parse(f"id,ra,dec,radius\n{A},1,2\n{A},1,2,0.1\n".encode())
    assert [b.line for b in rows.bad] == [2]
    assert "3 values for 4 columns" in rows.bad[0].reason
    assert len(rows.tasks) == 1


def test_job_options_from_metadata():
    assert job_options({"Detail": "all", "package": "zip", "other": "x"}) == {
        "detail": "all",
        "package": "zip",
    }
    with pytest.raises(UsageError, match="package"):
        job_options({"package": "rar"})
    with pytest.raises(UsageError, match="package_size"):
        job_options({"package": "mef", "package_size": "0"})


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
