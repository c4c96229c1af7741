"""A CSV dropped in the drop bucket becomes a bulk job (through fake-gcs-server's event)."""

from __future__ import annotations

import csv
import io
import time

import pytest
from google.cloud import storage
from lxml import etree

from skycut.bulk.submit import DropObject, bulk_job_id
from tests.integration.helpers import check_cutout_against_source

pytestmark = pytest.mark.integration

NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0", "xlink": "http://www.w3.org/1999/xlink"}


def wait_for_job(http, job_url, *, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = http.get(job_url, params={"WAIT": 10}, timeout=30)
        if response.status_code == 200:
            doc = etree.fromstring(response.content)
            if doc.findtext("uws:phase", namespaces=NS) in ("COMPLETED", "ERROR"):
                return doc
        else:
            time.sleep(0.2)  # the drop event has not created the job yet
    pytest.fail(f"{job_url} did not finish in {seconds} s")


def test_dropped_csv_runs_every_good_row_and_reports_bad_ones(base_url, http, stack, sample_dir):
    cfg = stack.config
    images = ["deepcoadd-i-0001.fits", "calexp-r-0001.fits", "calexp-g-0003.fits"]
    rows = [("id", "ra", "dec", "radius", "label")]
    rows += [
        (f"gs://{cfg.sources_bucket}/sample/{name}", "150.1", "2.2", "0.001", name)
        for name in images
    ]
    rows.append(("gs://not-allowed/x.fits", "150.1", "2.2", "0.001", "bad"))
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    blob = storage.Client().bucket(cfg.drop_bucket).blob("incoming/dev/positions.csv")
    blob.upload_from_string(buffer.getvalue(), content_type="text/csv")

    job_id = bulk_job_id(DropObject(cfg.drop_bucket, blob.name, str(blob.generation)))
    job = wait_for_job(http, f"{base_url}/async/{job_id}", seconds=60)
    assert job.findtext("uws:phase", namespaces=NS) == "COMPLETED"
    assert job.findtext("uws:ownerId", namespaces=NS) == "dev"
    results = {
        r.get("id"): r.get(f"{{{NS['xlink']}}}href")
        for r in job.findall("uws:results/uws:result", namespaces=NS)
    }
    assert len(results) == 4  # three cutouts and the errors report
    report = list(csv.DictReader(io.StringIO(http.get(results.pop("errors"), timeout=30).text)))
    assert [r["line"] for r in report] == ["5"]
    assert "outside the allowed buckets" in report[0]["reason"]
    for (result_id, href), name in zip(sorted(results.items()), images, strict=True):
        cutout = http.get(href, timeout=30)
        assert cutout.status_code == 200, result_id
        check_cutout_against_source(cutout.content, sample_dir / name)
