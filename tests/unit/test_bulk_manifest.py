"""The manifest lists every row of a drop file once, in file order, ran or refused."""

from __future__ import annotations

import csv
import io

from astropy.io.votable import parse_single_table

from skycut.bulk.formats import read_rows
from skycut.bulk.manifest import manifest_csv, manifest_rows, manifest_votable
from skycut.bulk.report import errors_report, read_errors_report
from skycut.bulk.rows import ParsedRows, tasks_from_rows
from skycut.jobs.records import StoredResult

IMAGE = "gs://skycut-sources/sample/calexp-r-0001.fits"
FILE = (
    "id,ra,dec,radius,label\n"
    f"{IMAGE},150.05,2.24,0.001,first\n"
    "gs://elsewhere/x.fits,150.05,2.24,0.001,outside\n"
    f"{IMAGE},150.05,2.25,0.001,second\n"
    "\n"
    f"{IMAGE},150.05,2.26\n"
    f"{IMAGE},150.05,2.27,0.001,missing image\n"
)


def _result(task_index: int, row: int, label: str, *, ok: bool) -> StoredResult:
    return StoredResult(
        result_id=f"cutout-{task_index:06d}",
        index=task_index,
        status="ok" if ok else "error",
        bucket="results",
        object_name=f"jobs/j/cutout-{task_index:06d}.fits",
        mime_type="application/fits",
        size=10,
        message=None if ok else "NotFound: no object",
        label=label,
        source_id=IMAGE,
        query="CIRCLE=150.05 2.24 0.001",
        row=row,
    )


def _parsed() -> ParsedRows:
    return tasks_from_rows(
        read_rows(FILE.encode(), "csv", max_rows=100),
        allowed_buckets=["skycut-sources"],
        options={},
    )


def _manifest() -> list[dict[str, str]]:
    parsed = _parsed()
    # what the job stores: the cutouts (one failed when cut), a report, and the
    # refused rows as written to and read back from its errors report
    results = [
        _result(t.index, t.row or 0, t.label or "", ok=t.label != "missing image")
        for t in parsed.tasks
    ]
    results.append(
        StoredResult(
            result_id="errors",
            index=-1,
            status="error",
            bucket="results",
            object_name="jobs/j/errors.csv",
            mime_type="text/csv",
            size=1,
        )
    )
    refused = read_errors_report(errors_report(parsed.bad))
    rows = manifest_rows(
        results, refused=refused, url_of={r.result_id: f"url/{r.result_id}" for r in results}
    )
    return list(csv.DictReader(io.StringIO(manifest_csv(rows).decode())))


def test_every_data_row_appears_once_in_file_order():
    manifest = _manifest()
    assert [m["row"] for m in manifest] == ["2", "3", "4", "6", "7"], "the blank line is no row"
    assert [m["status"] for m in manifest] == ["ok", "error", "ok", "error", "error"]


def test_refused_rows_name_their_image_label_and_reason():
    refused = {m["row"]: m for m in _manifest()}
    assert refused["3"]["id"] == "gs://elsewhere/x.fits"
    assert refused["3"]["label"] == "outside"
    assert "outside the allowed buckets" in refused["3"]["error"]
    assert refused["3"]["url"] == refused["3"]["result_id"] == ""
    assert refused["6"]["error"] == "UsageError: 3 values for 5 columns"


def test_cut_failures_and_cutouts_keep_their_results():
    by_row = {m["row"]: m for m in _manifest()}
    assert (by_row["7"]["label"], by_row["7"]["error"]) == ("missing image", "NotFound: no object")
    assert by_row["7"]["url"] == ""
    assert by_row["2"]["url"] == f"url/{by_row['2']['result_id']}"
    assert by_row["2"]["error"] == ""


def test_votable_manifest_has_the_same_rows():
    rows = manifest_rows([], refused=_parsed().bad, url_of={})
    table = parse_single_table(io.BytesIO(manifest_votable(rows))).to_table()
    assert list(table["row"]) == [3, 6]
    assert list(table["status"]) == ["error", "error"]


def test_errors_report_without_id_and_label_columns_is_still_read():
    # reports written before they carried id and label
    old = b'line,row,reason\n5,"a,b",UsageError: nope\n'
    (row,) = read_errors_report(old)
    assert (row.line, row.row, row.reason) == (5, "a,b", "UsageError: nope")
    assert row.id == row.label == ""
