"""Bulk jobs from files dropped in the drop bucket, through fake-gcs-server's events."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from astropy.io import fits
from astropy.io.votable import parse_single_table
from astropy.table import Table
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1, storage

from skycut.bulk.drops import DropObject, bulk_job_id
from tests.integration.helpers import check_cutout_against_source
from tests.integration.uws_client import NS, phase_of, valid_xml

pytestmark = pytest.mark.integration

IMAGES = ["deepcoadd-i-0001.fits", "calexp-r-0001.fits", "calexp-g-0003.fits"]


class JobEvents:
    """Reads the job-events topic through a pull subscription, keeping what it has seen."""

    def __init__(self, subscriber, subscription):
        self._subscriber = subscriber
        self._subscription = subscription
        self._seen: list[dict] = []

    def __call__(self, job_id, *, wait=10.0):
        """The job's events, once it has one (and duplicates had 2 s more to come)."""
        return self.of_jobs([job_id], wait=wait)[job_id]

    def of_jobs(self, job_ids, *, wait=10.0):
        """Each job's events, once every job has one (and duplicates had 2 s more to come)."""
        start = time.monotonic()
        while time.monotonic() < start + wait:
            response = self._subscriber.pull(
                subscription=self._subscription, max_messages=50, timeout=5
            )
            if response.received_messages:
                self._subscriber.acknowledge(
                    subscription=self._subscription,
                    ack_ids=[m.ack_id for m in response.received_messages],
                )
                self._seen.extend(json.loads(m.message.data) for m in response.received_messages)
            announced = {e["job_id"] for e in self._seen}
            if announced >= set(job_ids) and time.monotonic() > start + 2:
                break  # waited a little for duplicates too
        return {j: [e for e in self._seen if e["job_id"] == j] for j in job_ids}


@pytest.fixture(scope="module")
def events(stack):
    """A pull subscription on the job-events topic, and a way to read a job's events."""
    cfg = stack.config
    subscriber = pubsub_v1.SubscriberClient()
    name = subscriber.subscription_path(cfg.project_id, "test-job-events")
    with contextlib.suppress(gexc.AlreadyExists):
        subscriber.create_subscription(
            name=name, topic=f"projects/{cfg.project_id}/topics/{cfg.job_events_topic}"
        )
    yield JobEvents(subscriber, name)
    subscriber.close()


def drop(stack, name, data, *, content_type="text/csv", metadata=None):
    blob = storage.Client().bucket(stack.config.drop_bucket).blob(f"incoming/dev/{name}")
    if metadata:
        blob.metadata = metadata
    blob.upload_from_string(data, content_type=content_type)
    return bulk_job_id(DropObject(stack.config.drop_bucket, blob.name, str(blob.generation)))


def wait_for_job(http, job_url, *, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = http.get(job_url, params={"WAIT": 10}, timeout=30)
        if response.status_code == 200:
            doc = valid_xml(response)
            if phase_of(doc) in ("COMPLETED", "ERROR", "ABORTED"):
                return doc
        else:
            time.sleep(0.2)  # the drop event has not created the job yet
    pytest.fail(f"{job_url} did not finish in {seconds} s")


def progress_of(doc):
    ns = {**NS, "p": "https://skycut.dev/xml/progress/v1"}
    progress = doc.find("uws:jobInfo/p:progress", namespaces=ns)
    return tuple(
        int(progress.findtext(f"p:{k}", namespaces=ns)) for k in ("total", "done", "failed")
    )


def results_of(doc):
    return {
        r.get("id"): r.get(f"{{{NS['xlink']}}}href")
        for r in doc.findall("uws:results/uws:result", namespaces=NS)
    }


def positions(stack, *, bad=True):
    sources = stack.config.sources_bucket
    rows = [
        {
            "id": f"gs://{sources}/sample/{name}",
            "ra": 150.1,
            "dec": 2.2,
            "radius": 0.001,
            "label": name,
        }
        for name in IMAGES
    ]
    if bad:
        rows.append(
            {
                "id": "gs://not-allowed/x.fits",
                "ra": 150.1,
                "dec": 2.2,
                "radius": 0.001,
                "label": "bad",
            }
        )
    return rows


def check_manifest(http, results, sample_dir, *, expect_bad_line):
    manifest = list(csv.DictReader(io.StringIO(http.get(results["manifest-csv"], timeout=30).text)))
    ok = [m for m in manifest if m["status"] == "ok"]
    assert [m["label"] for m in ok] == IMAGES, "file order"
    for entry in ok:
        assert entry["stencil"] == "CIRCLE=150.1 2.2 0.001", "the row's own cutout"
        check_cutout_against_source(
            http.get(entry["url"], timeout=30).content, sample_dir / entry["label"]
        )
    table = parse_single_table(
        io.BytesIO(http.get(results["manifest-votable"], timeout=30).content)
    ).to_table()
    assert list(table["label"]) == [m["label"] for m in manifest]
    assert list(table["row"]) == [int(m["row"]) for m in manifest]
    if expect_bad_line is None:
        assert manifest == ok
    else:
        # the refused row is in the manifest too, in its place, with the reason
        (refused,) = [m for m in manifest if m["status"] != "ok"]
        assert (refused["row"], refused["status"], refused["label"]) == (
            str(expect_bad_line),
            "error",
            "bad",
        )
        assert refused["id"] == "gs://not-allowed/x.fits"
        assert "outside the allowed buckets" in refused["error"]
        assert refused["url"] == refused["result_id"] == ""
        report = list(csv.DictReader(io.StringIO(http.get(results["errors"], timeout=30).text)))
        assert [r["line"] for r in report] == [str(expect_bad_line)]
        assert "outside the allowed buckets" in report[0]["reason"]
    return manifest


def test_dropped_csv_runs_good_rows_reports_bad_ones_and_announces_completion(
    base_url, http, stack, sample_dir, events
):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["id", "ra", "dec", "radius", "label"])
    writer.writeheader()
    writer.writerows(positions(stack))
    job_id = drop(stack, "positions.csv", buffer.getvalue())
    job = wait_for_job(http, f"{base_url}/async/{job_id}")
    assert phase_of(job) == "COMPLETED"
    assert job.findtext("uws:ownerId", namespaces=NS) == "dev"
    assert progress_of(job) == (4, 3, 1), "the refused row counts as failed"
    results = results_of(job)
    assert {"errors", "manifest-csv", "manifest-votable"} <= set(results)
    check_manifest(http, results, sample_dir, expect_bad_line=5)
    announced = events(job_id)
    assert len(announced) == 1, "one completion event"
    assert announced[0]["phase"] == "COMPLETED"
    assert (announced[0]["total"], announced[0]["done"], announced[0]["failed"]) == (4, 3, 1)
    assert announced[0]["manifest_url"] == results["manifest-csv"]


def test_dropped_votable_and_jsonl_give_the_same_manifest(base_url, http, stack, sample_dir):
    table = Table(
        rows=[
            (r["id"], r["ra"], r["dec"], r["radius"], r["label"])
            for r in positions(stack, bad=False)
        ],
        names=["id", "ra", "dec", "radius", "label"],
    )
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    votable_job = drop(
        stack, "positions.xml", buffer.getvalue(), content_type="application/x-votable+xml"
    )
    jsonl = "\n".join(json.dumps(r) for r in positions(stack, bad=False))
    jsonl_job = drop(stack, "positions.jsonl", jsonl, content_type="application/x-ndjson")
    for job_id in (votable_job, jsonl_job):
        job = wait_for_job(http, f"{base_url}/async/{job_id}")
        assert phase_of(job) == "COMPLETED"
        results = results_of(job)
        assert "errors" not in results
        check_manifest(http, results, sample_dir, expect_bad_line=None)


def test_duplicate_finalize_events_change_nothing(base_url, http, stack, events):
    cfg = stack.config
    rows = "id,circle\n" + "".join(
        f"gs://{cfg.sources_bucket}/sample/calexp-r-0001.fits,150.05 {2.24 + i / 1e4} 0.001\n"
        for i in range(5)
    )
    job_id = drop(stack, "twice.csv", rows)
    job = wait_for_job(http, f"{base_url}/async/{job_id}")
    assert phase_of(job) == "COMPLETED"
    # the same notification again, as Pub/Sub's at-least-once delivery may do
    blob = storage.Client().bucket(cfg.drop_bucket).get_blob("incoming/dev/twice.csv")
    publisher = pubsub_v1.PublisherClient()
    topic = f"projects/{cfg.project_id}/topics/{cfg.storage_topic}"
    for _ in range(2):
        publisher.publish(
            topic,
            b"{}",
            eventType="OBJECT_FINALIZE",
            bucketId=cfg.drop_bucket,
            objectId=blob.name,
            objectGeneration=str(blob.generation),
        ).result()
    time.sleep(3)
    again = valid_xml(http.get(f"{base_url}/async/{job_id}", timeout=30))
    assert phase_of(again) == "COMPLETED"
    assert len(results_of(again)) == len(results_of(job)) == 7  # 5 cutouts + 2 manifests
    listing = http.get(f"{base_url}/async", params={"AFTER": "2000-01-01"}, timeout=30).text
    assert listing.count(f'id="{job_id}"') == 1
    assert len(events(job_id)) == 1, "still one completion event"


def mixed_rows(sources):
    """A drop file's rows: good ones, with rows refused at validation or failing when cut."""
    image = f"gs://{sources}/sample/calexp-r-0001.fits"
    missing = f"gs://{sources}/sample/missing"
    bad = {
        # refused before anything runs, with (part of) the reason
        3: ("gs://not-allowed/x.fits,150.05,2.24,0.0008,,,refused-bucket", "allowed buckets"),
        6: (",,,,,,refused-no-id-no-position", "no position"),
        9: (f"{image},150.05,2.24,,,,refused-no-radius", "go together"),
        12: (f"{image},150.05,2.24,0.0008,150.05 2.24 0.001,,refused-two", "one stencil"),
        15: (f"{image},150.05,2.24,-1,,,refused-radius", "radius"),
        18: (f"{image},150.05,95,0.0008,,,refused-dec", "latitude"),
        21: (f"{image},150.05,2.24,0.0008,,text/html,refused-format", "RESPONSEFORMAT"),
        24: (f"{image},150.05,2.24", "3 values for 7 columns"),
        # valid requests whose cut fails: the image is not there
        27: (f"{missing}-1.fits,150.05,2.24,0.0008,,,cut-missing-1", "does not exist"),
        30: (f"{missing}-2.fits,150.05,2.24,0.0008,,,cut-missing-2", "does not exist"),
    }
    lines = ["id,ra,dec,radius,circle,format,label"]
    for line in range(2, 33):
        if line in bad:
            lines.append(bad[line][0])
        elif line == 32:
            lines.append(f"{image},10.0,10.0,0.0008,,,no-overlap")
        else:
            lines.append(f"{image},150.05,{2.24 + line / 1e4},0.0008,,,good-{line}")
    return "\n".join(lines) + "\n", {line: reason for line, (_, reason) in bad.items()}


def test_manifest_accounts_for_every_row_once_in_file_order(base_url, http, stack, events):
    text, bad = mixed_rows(stack.config.sources_bucket)
    job_id = drop(stack, "mixed.csv", text)
    job = wait_for_job(http, f"{base_url}/async/{job_id}")
    assert phase_of(job) == "COMPLETED"
    rows = 31
    # 20 cut, 1 without overlap (answered, so done), 8 refused and 2 failed when cut
    assert progress_of(job) == (rows, 21, 10)
    (event,) = events(job_id)
    assert (event["total"], event["done"], event["failed"]) == (rows, 21, 10)
    results = results_of(job)
    manifest = list(csv.DictReader(io.StringIO(http.get(results["manifest-csv"], timeout=30).text)))
    assert [int(m["row"]) for m in manifest] == list(range(2, 2 + rows)), "each row once, in order"
    for entry in manifest:
        line = int(entry["row"])
        if line in bad:
            assert entry["status"] == "error", entry
            assert bad[line] in entry["error"], entry
            assert entry["url"] == ""
        elif entry["label"] == "no-overlap":
            assert entry["status"] == "no_overlap"
        else:
            assert (entry["status"], entry["label"]) == ("ok", f"good-{line}")
            assert entry["url"]
            assert not entry["error"]
    table = parse_single_table(
        io.BytesIO(http.get(results["manifest-votable"], timeout=30).content)
    ).to_table()
    assert list(table["row"]) == list(range(2, 2 + rows))
    assert list(table["status"]) == [m["status"] for m in manifest]
    report = list(csv.DictReader(io.StringIO(http.get(results["errors"], timeout=30).text)))
    assert [int(r["line"]) for r in report] == sorted(line for line in bad if line < 27)


def test_packages_on_request(base_url, http, stack):
    cfg = stack.config
    rows = "id,circle,label\n" + "".join(
        f"gs://{cfg.sources_bucket}/sample/calexp-g-0003.fits,150.1 {2.15 + i / 1e4} 0.001,s{i}\n"
        for i in range(5)
    )
    zip_job = drop(stack, "zipped.csv", rows, metadata={"package": "zip"})
    mef_job = drop(stack, "mef.csv", rows, metadata={"package": "mef", "package_size": "2"})
    zipped = results_of(wait_for_job(http, f"{base_url}/async/{zip_job}"))
    with zipfile.ZipFile(io.BytesIO(http.get(zipped["package"], timeout=30).content)) as z:
        assert len(z.namelist()) == 5
        assert all(z.read(n)[:9] == b"SIMPLE  =" for n in z.namelist())
    mef = results_of(wait_for_job(http, f"{base_url}/async/{mef_job}"))
    files = sorted(k for k in mef if k.startswith("package-"))
    assert files == ["package-0001", "package-0002", "package-0003"]
    with fits.open(io.BytesIO(http.get(mef["package-0001"], timeout=30).content)) as first:
        assert [h.name for h in first[1:]] == ["CUT0", "CUT1"]
        assert first[1].header["SC_LABEL"] == "s0"


def test_unreadable_and_empty_files_become_jobs_in_error(base_url, http, stack, events):
    binary = drop(
        stack, "binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", content_type="text/csv"
    )
    no_rows = drop(stack, "bad-only.csv", "id,ra,dec,radius\ngs://nope/a.fits,1,2,3\n")
    header_only = drop(stack, "header-only.csv", "id,ra,dec,radius\n")
    expected = {
        binary: "not UTF-8",
        no_rows: "none of the 1 rows",
        header_only: "the file has a header and no rows",  # no errors result to point at
    }
    for job_id, text in expected.items():
        job = wait_for_job(http, f"{base_url}/async/{job_id}")
        assert phase_of(job) == "ERROR"
        message = job.findtext("uws:errorSummary/uws:message", namespaces=NS)
        assert message.startswith("UsageError: ")
        assert text in message
    # whoever dropped the file and waits for its event hears why it failed
    announced = events.of_jobs(list(expected))
    for job_id, text in expected.items():
        (event,) = announced[job_id]
        assert event["phase"] == "ERROR"
        assert text in event["error"]


def test_abort_stops_the_remaining_work(base_url, http, stack, events):
    cfg = stack.config
    rows = "id,circle\n" + "".join(
        f"gs://{cfg.sources_bucket}/sample/deepcoadd-i-0001.fits,150.1 {2.2 + i / 1e3} 0.06\n"
        for i in range(200)
    )
    job_id = drop(stack, "long.csv", rows)
    job_url = f"{base_url}/async/{job_id}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = http.get(job_url, timeout=30)
        if response.status_code == 200 and phase_of(valid_xml(response)) == "EXECUTING":
            break
        time.sleep(0.2)
    aborted = http.post(
        f"{job_url}/phase", data={"PHASE": "ABORT"}, allow_redirects=False, timeout=30
    )
    assert aborted.status_code == 303
    time.sleep(3)
    job = valid_xml(http.get(job_url, timeout=30))
    assert phase_of(job) == "ABORTED"
    assert results_of(job) == {}
    assert progress_of(job)[1] < 200, "the remaining rows did not run"
    assert [e["phase"] for e in events(job_id)] == ["ABORTED"]


def test_ten_files_dropped_at_once_each_complete_once(base_url, http, stack, events):
    cfg = stack.config
    source = f"gs://{cfg.sources_bucket}/sample/calexp-r-0001.fits"
    rows = 12
    names = [f"load{u}" for u in range(10)]

    def drop_named(name):
        body = "id,circle,label\n" + "".join(
            f"{source},150.04 {2.23 + k / 2000} 0.0008,{name}-{k}\n" for k in range(rows)
        )
        return drop(stack, f"{name}.csv", body)

    with ThreadPoolExecutor(max_workers=10) as pool:
        job_ids = list(pool.map(drop_named, names))
    assert len(set(job_ids)) == 10
    for name, job_id in zip(names, job_ids, strict=True):
        doc = wait_for_job(http, f"{base_url}/async/{job_id}", seconds=120)
        assert phase_of(doc) == "COMPLETED"
        assert progress_of(doc) == (rows, rows, 0)
        manifest = list(
            csv.DictReader(io.StringIO(http.get(results_of(doc)["manifest-csv"], timeout=30).text))
        )
        assert sorted(m["label"] for m in manifest) == sorted(f"{name}-{k}" for k in range(rows))
    # every job's events at once: one wait for duplicates, not one per job
    announced = events.of_jobs(job_ids)
    for job_id in job_ids:
        assert [e["phase"] for e in announced[job_id]] == ["COMPLETED"], "one event per job"
