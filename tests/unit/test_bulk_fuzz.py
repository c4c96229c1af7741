"""Any drop file is either refused whole with a UsageError or split into good and bad rows."""

from __future__ import annotations

import io
import json

from astropy.table import Table
from hypothesis import given, settings
from hypothesis import strategies as st

from skycut.bulk.formats import detect_format, read_rows
from skycut.bulk.rows import tasks_from_rows
from skycut.errors import UsageError

ALLOWED = ["skycut-sources"]
GOOD = "gs://skycut-sources/a.fits,150.1,2.2,0.01\n"


def outcome(data: bytes, name: str = "drop.csv"):
    fmt = detect_format(name, data)
    try:
        return tasks_from_rows(
            read_rows(data, fmt, max_rows=1000), allowed_buckets=ALLOWED, options={}
        )
    except UsageError as e:
        refusal = e.to_text()
    assert refusal.startswith("UsageError: ")
    return None


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), name=st.sampled_from(["a.csv", "a.jsonl", "a.xml", "noext"]))
def test_arbitrary_bytes_never_raise_anything_but_usage_error(data, name):
    outcome(data, name)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.one_of(st.just(GOOD), st.text(max_size=60).map(lambda t: t + "\n")), max_size=30
    ),
    cut=st.integers(min_value=0, max_value=2000),
)
def test_csv_with_bad_and_truncated_rows_keeps_every_row_accounted_for(rows, cut):
    data = ("id,ra,dec,radius\n" + "".join(rows)).encode()[: 17 + cut]
    parsed = outcome(data)
    if parsed is not None:
        assert len(parsed.tasks) + len(parsed.bad) == parsed.total_rows
        assert all(b.reason.startswith(("UsageError: ", "MultiValued")) for b in parsed.bad)


def test_ten_percent_bad_rows_run_the_rest_and_report_each():
    lines = ["id,ra,dec,radius"]
    for i in range(100):
        lines.append("gs://nope/x.fits,1,2,0.1" if i % 10 == 0 else GOOD.strip())
    parsed = outcome(("\n".join(lines) + "\n").encode())
    assert len(parsed.tasks) == 90
    assert [b.line for b in parsed.bad] == [2 + 10 * k for k in range(10)]


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(
        st.dictionaries(
            st.sampled_from(["id", "ra", "dec", "radius", "circle", "label", "pol", "band", "x"]),
            st.one_of(st.text(max_size=20), st.floats(), st.integers(), st.none()),
            max_size=6,
        ),
        max_size=10,
    )
)
def test_jsonl_and_votable_with_wrong_columns(values):
    outcome("\n".join(json.dumps(v) for v in values).encode(), "a.jsonl")
    if values:
        table = Table(
            rows=[[str(v.get(k)) for k in ("id", "ra")] for v in values], names=["id", "ra"]
        )
        buffer = io.BytesIO()
        table.write(buffer, format="votable")
        outcome(buffer.getvalue(), "a.xml")
