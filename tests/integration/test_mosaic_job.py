"""The asynchronous mosaic job (``<base>/mosaic``) on the real emulators.

End to end through the stack: POST with PHASE=RUN → plan → Pub/Sub fan-out
over the ``mosaic_worker`` function → COMPLETED, the FITS compared with the
in-process `make_mosaic` on the same inputs and tiling (read whole from the
local sample files). Then the counting and the stage transitions under
redelivered and concurrent messages, and ABORT mid-run, with the real
worker, store and queue on the emulators: the job's stage messages go to a
topic of the test's own, pulled by the test, which delivers each one twice.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import pytest
import requests
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from lxml import etree
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from emulators.stack import REPO
from skycut.clients import Clients
from skycut.config import Settings
from skycut.cutout.geometry import PixelBox
from skycut.errors import ServiceUnavailableError
from skycut.mosaic.assemble import InputRecord, stream_mosaic
from skycut.mosaic.background import Plane, correct
from skycut.mosaic.coadd import coadd_tile
from skycut.mosaic.grid import grid_from_template
from skycut.mosaic.inprocess import make_mosaic
from skycut.mosaic.intermediate import decode_tile_plane
from skycut.mosaic.job.factory import jobs_for, objects_for, worker_for
from skycut.mosaic.job.messages import MosaicMessage, unit_id
from skycut.mosaic.plan import InputImage
from skycut.mosaic.request import parse_mosaic_request
from skycut.mosaic.tiles import Tiling
from skycut.soda.params import group_params
from skycut.uws.model import ExecutionPhase
from skycut.worker.factory import sweeper_for
from tests.integration.uws_client import NS, phase_of, valid_xml, wait_until

pytestmark = pytest.mark.integration

REGION = "RANGE 150.07 150.12 2.2 2.25"  # across the two r calexps' overlap
PIXSCALE = "0.0002"  # a 251 x 251 mosaic: 3 x 3 tiles of 96 (the test stack's tile size)
R_BAND = "6.2e-7 6.2e-7"
TILE = 96
NAMES = ["calexp-r-0001.fits", "calexp-r-0002.fits"]
PROVENANCE_CARDS = (
    "SC_KIND",
    "SC_REGN",
    "SC_METH",
    "SC_COMB",
    "SC_BKG",
    "SC_NIN",
    "SC_VERS",
    "DATE",
)


def in_process(sample_dir: Any, header: fits.Header, names: list[str], *, match: bool) -> Any:
    """`make_mosaic` of the named sample files, read whole from disk, onto ``header``'s grid."""
    inputs, pixels = [], {}
    for name in names:
        with fits.open(sample_dir / name) as hdul, warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            image = hdul["IMAGE"]
            data = image.data.astype(np.float64)
            key = f"gs://skycut-sources/sample/{name}"
            inputs.append(InputImage(key, WCS(image.header, naxis=2), data.shape))
            pixels[key] = data
    grid = grid_from_template(header.tostring())

    def read(image: InputImage, box: PixelBox) -> Any:
        return pixels[image.id][box.slices]

    return make_mosaic(grid, inputs, read, tile_size=TILE, match_background=match)


def test_a_mosaic_job_runs_to_completed_and_agrees_with_the_in_process_mosaic(
    base_url: str, http: requests.Session, sample_dir: Any, stack: Any
) -> None:
    response = http.post(
        f"{base_url}/mosaic",
        data={
            "POS": REGION,
            "PIXSCALE": PIXSCALE,
            "ID": [f"gs://{stack.config.sources_bucket}/sample/{n}" for n in NAMES],
            "BACKGROUND": "match",
            "DETAIL": "coverage,count",
            "PHASE": "RUN",
        },
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 303, response.text
    job_url = response.headers["Location"]
    assert job_url.startswith(f"{base_url}/mosaic/")
    job_id = job_url.rsplit("/", 1)[1]
    doc = wait_until(http, job_url, {"COMPLETED", "ERROR", "ABORTED"}, seconds=120)
    assert phase_of(doc) == "COMPLETED", doc.findtext("uws:errorSummary/uws:message", namespaces=NS)
    results = {
        r.get("id"): r.get("{http://www.w3.org/1999/xlink}href")
        for r in doc.iterfind("uws:results/uws:result", NS)
    }
    assert set(results) == {"mosaic", "preview"}
    got = http.get(results["mosaic"], timeout=60)  # 303 to the file, followed
    assert got.status_code == 200

    with fits.open(io.BytesIO(got.content)) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "COVERAGE", "COUNT", "PROVENANCE"]
        header = hdul[0].header
        data = hdul[0].data.astype(np.float64)
        coverage, count = hdul["COVERAGE"].data, hdul["COUNT"].data
        table = hdul["PROVENANCE"].data
        backgrounds = {
            str(i): (a, c)
            for i, a, c in zip(table["ID"], table["BG_A"], table["BG_C"], strict=True)
        }
        assert (table["GENERATION"] > 0).all()
    assert (header["NAXIS1"], header["NAXIS2"]) == (251, 251)
    assert header["SC_BKG"] == "match"
    expected = in_process(sample_dir, header, NAMES, match=True)
    assert_array_equal(np.isfinite(data), np.isfinite(expected.data))
    covered = np.isfinite(data)
    assert covered.mean() > 0.99
    scale = float(np.nanmedian(np.abs(expected.data)))
    assert_allclose(data[covered], expected.data[covered], rtol=1e-4, atol=1e-4 * scale)
    assert_allclose(coverage, expected.coverage, atol=1e-6)
    assert_array_equal(count, expected.count)
    assert set(np.unique(count)) == {1, 2}  # the mosaic crosses the images' edge
    for name, plane in expected.backgrounds.items():
        assert_allclose(backgrounds[name], (plane.a, plane.c), rtol=1e-3, atol=1e-6 * scale)

    # progress: every unit of every stage counted once; the intermediates are gone
    record = Clients(Settings()).jobs.load(job_id)
    assert record is not None
    assert record.job.progress is not None
    assert record.job.progress.done == record.job.progress.total
    state = record.mosaic
    assert state is not None
    assert len(state.tiles) == 9
    assert state.bands == 3
    assert record.job.progress.total == len(state.tasks) + 9 + 3 + 1
    # the file was joined from its bands by compose, and keeps the job's destruction time
    from google.cloud import storage  # type: ignore[attr-defined]

    bucket = storage.Client().bucket(stack.config.results_bucket)
    stored = bucket.get_blob(f"jobs/{job_id}/mosaic.fits")
    assert stored.custom_time == record.job.destruction
    assert stored.size == len(got.content)
    assert objects_for(Clients(Settings())).work_names(job_id) == []


def test_a_region_no_image_covers_is_refused_and_nothing_is_stored(
    base_url: str, http: requests.Session
) -> None:
    before = valid_xml(http.get(f"{base_url}/mosaic", timeout=30))
    response = http.post(
        f"{base_url}/mosaic",
        data={
            "POS": "CIRCLE 10 -60 0.01",
            "PIXSCALE": PIXSCALE,
            "COLLECTION": "calexp",
            "PHASE": "RUN",
        },
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 400
    assert response.text.startswith("UsageError: no indexed image (COLLECTION calexp) covers")
    assert "POS=CIRCLE 10.0 -60.0 0.01" in response.text
    bad = http.post(
        f"{base_url}/mosaic", data={"POS": REGION, "PIXSCALE": "0.0002", "METHOD": "nearest"},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert bad.status_code == 400
    assert "METHOD 'nearest' is not supported" in bad.text
    after = valid_xml(http.get(f"{base_url}/mosaic", timeout=30))
    assert len(after.findall("uws:jobref", NS)) == len(before.findall("uws:jobref", NS))


def test_mosaic_jobs_and_cutout_jobs_are_in_their_own_trees(
    base_url: str, http: requests.Session, stack: Any
) -> None:
    created = http.post(
        f"{base_url}/mosaic",
        data={"POS": REGION, "PIXSCALE": PIXSCALE, "COLLECTION": "calexp", "BAND": R_BAND},
        allow_redirects=False,
        timeout=60,
    )
    assert created.status_code == 303, created.text
    job_id = created.headers["Location"].rsplit("/", 1)[1]
    doc = valid_xml(http.get(created.headers["Location"], timeout=30))
    assert phase_of(doc) == "PENDING"
    assert http.get(f"{base_url}/async/{job_id}", timeout=30).status_code == 404
    listed = valid_xml(http.get(f"{base_url}/async", timeout=30))
    assert job_id not in {j.get("id") for j in listed.iterfind("uws:jobref", NS)}
    mine = valid_xml(http.get(f"{base_url}/mosaic", timeout=30))
    assert job_id in {j.get("id") for j in mine.iterfind("uws:jobref", NS)}
    params = valid_xml(http.get(f"{base_url}/mosaic/{job_id}/parameters", timeout=30))
    assert {p.get("id") for p in params.iterfind("uws:parameter", NS)} >= {"POS", "PIXSCALE"}
    assert (
        http.delete(f"{base_url}/mosaic/{job_id}", allow_redirects=False, timeout=30).status_code
        == 303
    )
    assert http.get(f"{base_url}/mosaic/{job_id}", timeout=30).status_code == 404
    capabilities = http.get(f"{base_url}/capabilities", timeout=30)
    urls = {u.text for u in etree.fromstring(capabilities.content).iter("accessURL")}
    assert {f"{base_url}/mosaic", f"{base_url}/mosaic/sync"} <= urls


# -- the fan-out's counting and transitions, delivered by the test --------------------------
class Deliveries:
    """A topic of the test's own with a pull subscription: what the job publishes, pulled."""

    def __init__(self, project: str) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self.topic = f"mosaic-test-{uuid.uuid4().hex[:8]}"
        self._publisher = pubsub_v1.PublisherClient()
        self._subscriber = pubsub_v1.SubscriberClient()
        topic_path = self._topic_path = self._publisher.topic_path(project, self.topic)
        self._publisher.create_topic(name=topic_path)
        self._sub = self._subscriber.subscription_path(project, self.topic)
        self._subscriber.create_subscription(request={"name": self._sub, "topic": topic_path})

    def pull(self, count: int, *, seconds: float = 20) -> list[MosaicMessage]:
        """Return the next ``count`` messages (fails if fewer come, or more are waiting)."""
        got: list[MosaicMessage] = []
        deadline = time.monotonic() + seconds
        while len(got) < count and time.monotonic() < deadline:
            got += [MosaicMessage.model_validate_json(data) for data in self._take()]
        assert len(got) == count, f"{len(got)} messages published, expected {count}"
        return got

    def nothing_more(self) -> None:
        """Assert nothing more was published: a marker published now is pulled alone.

        Whatever was published before the marker is delivered with it or before it; a pull
        that waited for nothing would have to wait out its whole timeout instead.
        """
        marker = uuid.uuid4().hex.encode()
        self._publisher.publish(self._topic_path, marker).result(timeout=30)
        pulled: list[bytes] = []
        deadline = time.monotonic() + 20
        while marker not in pulled and time.monotonic() < deadline:
            pulled += self._take()
        assert pulled == [marker], f"{len(pulled) - 1} more messages published"

    def _take(self) -> list[bytes]:
        """Pull what is waiting (up to 5 s for something to come) and acknowledge it."""
        answer = self._subscriber.pull(
            request={"subscription": self._sub, "max_messages": 100}, timeout=5
        )
        if answer.received_messages:
            self._subscriber.acknowledge(
                request={"subscription": self._sub,
                         "ack_ids": [m.ack_id for m in answer.received_messages]}
            )  # fmt: skip
        return [m.message.data for m in answer.received_messages]


@pytest.fixture
def fanout(stack: Any) -> Iterator[tuple[Clients, Deliveries]]:
    deliveries = Deliveries(stack.config.project_id)
    clients = Clients(Settings(mosaic_topic=deliveries.topic, mosaic_units_per_message=2))
    return clients, deliveries


def _request(stack: Any, **extra: str) -> Any:
    pairs = [
        ("POS", REGION),
        ("PIXSCALE", PIXSCALE),
        *[("ID", f"gs://{stack.config.sources_bucket}/sample/{n}") for n in NAMES],
        *extra.items(),
    ]
    parsed = parse_mosaic_request(
        group_params(pairs), allowed_buckets=[stack.config.sources_bucket],
        max_pixels=10**7, max_inputs=8,
    )  # fmt: skip
    return parsed, pairs


def deliver(worker: Any, message: MosaicMessage) -> None:
    """Deliver as Pub/Sub does: again after a transient error (``ServiceUnavailable``)."""
    for _ in range(4):
        try:
            worker.handle(message)
            return
        except ServiceUnavailableError:
            time.sleep(0.2)
    worker.handle(message)


def _no_finder() -> Any:
    raise AssertionError("the job names its IDs")


def test_units_are_counted_once_and_stages_move_once_under_redelivery(
    stack: Any, fanout: tuple[Clients, Deliveries]
) -> None:
    clients, deliveries = fanout
    jobs, worker = jobs_for(clients, finder=_no_finder), worker_for(clients)
    parsed, pairs = _request(stack, BACKGROUND="match")
    record = jobs.create_job(parsed, pairs, owner="dev", run=True)
    job_id = record.job.job_id
    state = record.mosaic
    assert state is not None
    total = state.total
    for stage, messages_of_stage in (
        ("reproject", math.ceil(len(state.tasks) / 2)),  # two reprojections a message
        ("overlaps", 9),  # a tile a message
        ("assemble", 3),  # a row of tiles coadded into its band of the file a message;
    ):  # the delivery counting the last band finishes the job
        units = len(state.tasks) if stage == "reproject" else messages_of_stage
        messages = deliveries.pull(messages_of_stage)
        assert {m.stage for m in messages} == {stage}
        assert sorted(u for m in messages for u in m.units) == list(range(units))
        *first, last = messages
        for message in first:
            worker.handle(message)
            worker.handle(message)  # a redelivery: nothing runs or counts again
        # the last message delivered twice at once: both run, one counts each unit, one moves on
        both = [threading.Thread(target=deliver, args=(worker, last)) for _ in range(2)]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join()
        worker.handle(first[0] if first else last)  # an earlier message again, after the move
        current = clients.jobs.load(job_id)
        assert current is not None
        assert current.job.progress is not None
        done = state.done_before(stage) + state.units(stage)  # type: ignore[arg-type]
        if stage == "assemble":
            done = total  # and the finish, run by the delivery that counted the last band
        assert current.job.progress.done == done, (stage, current.job.progress)
    deliveries.nothing_more()  # every stage was published once
    final = clients.jobs.load(job_id)
    assert final is not None
    assert final.job.phase == ExecutionPhase.COMPLETED
    assert final.job.progress is not None
    assert final.job.progress.done == total
    assert [r.result_id for r in clients.jobs.results(job_id)] == ["mosaic", "preview"]
    assert objects_for(clients).work_names(job_id) == []


def test_abort_mid_run_stops_the_tasks_and_leaves_nothing(
    base_url: str, http: requests.Session, stack: Any, fanout: tuple[Clients, Deliveries]
) -> None:
    clients, deliveries = fanout
    jobs, worker = jobs_for(clients, finder=_no_finder), worker_for(clients)
    parsed, pairs = _request(stack)
    record = jobs.create_job(parsed, pairs, owner="dev", run=True)
    job_id = record.job.job_id
    assert record.mosaic is not None
    first, second, *rest = deliveries.pull(math.ceil(len(record.mosaic.tasks) / 2))
    worker.handle(first)
    objects = objects_for(clients)
    assert len(objects.work_names(job_id)) == len(first.units)  # planes stored under the job
    aborted = http.post(
        f"{base_url}/mosaic/{job_id}/phase", data={"PHASE": "ABORT"}, allow_redirects=False,
        timeout=30,
    )  # fmt: skip
    assert aborted.status_code == 303, aborted.text
    for message in (second, *rest, first):
        worker.handle(message)  # delivered after the ABORT: nothing runs, is stored or counted
    final = clients.jobs.load(job_id)
    assert final is not None
    assert final.job.phase == ExecutionPhase.ABORTED
    assert final.job.progress is not None
    assert final.job.progress.done == len(first.units)
    assert objects.work_names(job_id) == []
    assert clients.jobs.results(job_id) == []
    deliveries.nothing_more()


def test_the_readme_example_works_as_pasted(base_url: str, tmp_path: Any) -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("### Mosaic jobs (asynchronous)")
    block = re.compile(r"```sh\n(.*?)```", re.DOTALL).search(readme, start)
    assert block is not None
    script = block.group(1).replace("http://127.0.0.1:8080/api/image/soda", base_url)
    done = subprocess.run(
        ["bash", "-eu", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "job COMPLETED" in done.stdout
    assert "mosaic: HTTP 200" in done.stdout
    with fits.open(tmp_path / "mosaic-job.fits") as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "COVERAGE", "COUNT", "PROVENANCE"]
        assert hdul[0].header["SC_BKG"] == "match"
        assert len(hdul["PROVENANCE"].data) == 3  # the two exposures and the compressed copy


def test_the_command_line_runs_a_mosaic_with_a_progress_bar_and_saves_it(
    stack: Any, tmp_path: Any
) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "skycut.cli.main", "--env-file",
            str(stack.config.state_dir / "env"), "mosaic", f"POS={REGION}",
            f"PIXSCALE={PIXSCALE}", "COLLECTION=calexp", f"BAND={R_BAND}",
            "--out", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()[0]) == 32  # the job id, then the files saved
    assert "COMPLETED" in done.stderr, "the progress was shown"
    assert "/" in done.stderr.splitlines()[-1], "as a bar with the units done of all"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mosaic.fits", "preview.png"]
    with fits.open(tmp_path / "mosaic.fits") as hdul:
        assert hdul[0].data.shape == (251, 251)
    bad = subprocess.run(
        [sys.executable, "-m", "skycut.cli.main", "--env-file",
         str(stack.config.state_dir / "env"), "mosaic", "POS=CIRCLE 10 -60 0.01",
         f"PIXSCALE={PIXSCALE}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "no indexed image covers" in bad.stderr


def test_a_job_past_its_execution_duration_is_aborted_by_its_next_unit(
    stack: Any, fanout: tuple[Clients, Deliveries]
) -> None:
    clients, deliveries = fanout
    clients = Clients(clients.settings.model_copy(update={"execution_duration_seconds": 4}))
    jobs, worker = jobs_for(clients, finder=_no_finder), worker_for(clients)
    parsed, pairs = _request(stack)
    record = jobs.create_job(parsed, pairs, owner="dev", run=True)
    job_id = record.job.job_id
    assert record.mosaic is not None
    first, second, *_ = deliveries.pull(math.ceil(len(record.mosaic.tasks) / 2))
    worker.handle(first)  # starts the job: its 4 s of run time begin
    running = clients.jobs.load(job_id)
    assert running is not None
    assert running.job.phase == ExecutionPhase.EXECUTING
    assert running.job.start_time is not None
    assert running.job.progress is not None
    assert running.job.progress.done == len(first.units)
    time.sleep(max(0.0, (running.job.start_time - datetime.now(UTC)).total_seconds() + 4.2))
    worker.handle(second)
    final = clients.jobs.load(job_id)
    assert final is not None
    assert final.job.phase == ExecutionPhase.ABORTED
    assert final.job.error is not None
    assert "execution duration" in final.job.error.message
    assert final.job.progress is not None
    assert final.job.progress.done == len(first.units)
    assert objects_for(clients).work_names(job_id) == []


def test_an_input_replaced_after_planning_ends_the_job_in_error_naming_it(
    stack: Any, fanout: tuple[Clients, Deliveries], sample_dir: Any
) -> None:
    from google.cloud import storage  # type: ignore[attr-defined]

    clients, deliveries = fanout
    # a copy of a sample exposure moved to an empty part of the sky, so no other test finds it
    with fits.open(sample_dir / NAMES[0]) as hdul:
        hdul["IMAGE"].header["CRVAL1"], hdul["IMAGE"].header["CRVAL2"] = 300.0, -80.0
        buffer = io.BytesIO()
        hdul.writeto(buffer)
    name = f"test-mosaic/{uuid.uuid4().hex}.fits"
    blob = storage.Client().bucket(stack.config.sources_bucket).blob(name)
    blob.upload_from_string(buffer.getvalue())
    try:
        pairs = [
            ("POS", "CIRCLE 300 -80 0.005"),
            ("PIXSCALE", PIXSCALE),
            ("ID", f"gs://{stack.config.sources_bucket}/{name}"),
        ]
        parsed = parse_mosaic_request(
            group_params(pairs), allowed_buckets=[stack.config.sources_bucket],
            max_pixels=10**7, max_inputs=8,
        )  # fmt: skip
        jobs, worker = jobs_for(clients, finder=_no_finder), worker_for(clients)
        record = jobs.create_job(parsed, pairs, owner="dev", run=True)
        messages = deliveries.pull(1)
        blob.upload_from_string(buffer.getvalue())  # a new generation of the same object
        worker.handle(messages[0])
        final = clients.jobs.load(record.job.job_id)
        assert final is not None
        assert final.job.phase == ExecutionPhase.ERROR
        assert final.job.error is not None
        assert name in final.job.error.message
        assert "changed after the mosaic was planned" in final.job.error.message
        assert objects_for(clients).work_names(record.job.job_id) == []
    finally:
        blob.delete()


def test_a_pending_job_takes_parameters_refuses_a_run_it_cannot_make_and_is_mended(
    base_url: str, http: requests.Session
) -> None:
    created = http.post(
        f"{base_url}/mosaic",
        data={"POS": "CIRCLE 10 -60 0.01", "PIXSCALE": PIXSCALE},
        allow_redirects=False,
        timeout=30,
    )
    assert created.status_code == 303, created.text
    job_url = created.headers["Location"]
    added = http.post(
        f"{job_url}/parameters", data={"COLLECTION": "calexp"}, allow_redirects=False, timeout=30
    )
    assert added.status_code == 303, added.text
    params = valid_xml(http.get(f"{job_url}/parameters", timeout=30))
    assert {p.get("id") for p in params.iterfind("uws:parameter", NS)} >= {"POS", "COLLECTION"}
    refused = http.post(
        f"{job_url}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=60
    )
    assert refused.status_code == 400
    assert "no indexed image (COLLECTION calexp) covers POS=CIRCLE 10.0 -60.0 0.01" in refused.text
    assert http.get(f"{job_url}/phase", timeout=30).text == "PENDING"
    # a region images cover replaces the one none covers: the job runs (POS is given once)
    mended = http.post(
        f"{job_url}/parameters", data={"POS": REGION}, allow_redirects=False, timeout=30
    )
    assert mended.status_code == 303, mended.text
    params = valid_xml(http.get(f"{job_url}/parameters", timeout=30))
    assert [p.text for p in params.iterfind("uws:parameter[@id='POS']", NS)] == [REGION]
    ran = http.post(f"{job_url}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=60)
    assert ran.status_code == 303, ran.text
    assert http.get(f"{job_url}/phase", timeout=30).text != "PENDING"


def test_a_png_mosaic_job_gives_the_preview_as_its_result(
    base_url: str, http: requests.Session, stack: Any
) -> None:
    response = http.post(
        f"{base_url}/mosaic",
        data={
            "CRVAL": "150.095 2.225", "WIDTH": "200", "HEIGHT": "150", "PIXSCALE": PIXSCALE,
            "ID": [f"gs://{stack.config.sources_bucket}/sample/{n}" for n in NAMES],
            "RESPONSEFORMAT": "image/png", "PHASE": "RUN",
        },
        allow_redirects=False, timeout=60,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    doc = wait_until(http, response.headers["Location"], {"COMPLETED", "ERROR"}, seconds=120)
    assert phase_of(doc) == "COMPLETED"
    (result,) = doc.iterfind("uws:results/uws:result", NS)
    assert result.get("id") == "mosaic"
    got = http.get(result.get("{http://www.w3.org/1999/xlink}href"), timeout=60)
    assert got.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).size == (200, 150)


def test_the_sweep_publishes_a_stalled_stage_again(
    stack: Any, fanout: tuple[Clients, Deliveries]
) -> None:
    clients, deliveries = fanout
    jobs, worker = jobs_for(clients, finder=_no_finder), worker_for(clients)
    recover = sweeper_for(clients).mosaic_recover  # what the sweep's take-over calls
    parsed, pairs = _request(stack)
    record = jobs.create_job(parsed, pairs, owner="dev", run=True)
    job_id = record.job.job_id
    state = record.mosaic
    assert state is not None
    first, *lost = deliveries.pull(math.ceil(len(state.tasks) / 2))
    worker.handle(first)  # the other messages are lost
    stalled = clients.jobs.load(job_id)
    assert stalled is not None
    assert recover(stalled) == len(lost)
    again = deliveries.pull(len(lost))
    assert sorted(u for m in again for u in m.units) == sorted(u for m in lost for u in m.units)
    # the units of a stage all counted but the job not moved on (its last delivery died):
    # the take-over publishes its last unit again, whose delivery moves the job on as the
    # dead one would have, and publishes the next stage
    for unit in range(len(state.tasks)):
        clients.jobs.record_and_count(job_id, [], unit_id("reproject", unit), done=1, failed=0)
    stalled = clients.jobs.load(job_id)
    assert stalled is not None
    assert recover(stalled) == 1
    (last,) = deliveries.pull(1)
    assert (last.stage, last.units) == ("reproject", [len(state.tasks) - 1])
    worker.handle(last)
    bands = deliveries.pull(3)
    assert {m.stage for m in bands} == {"assemble"}
    moved = clients.jobs.load(job_id)
    assert moved is not None
    assert moved.mosaic is not None
    assert (moved.mosaic.stage, moved.mosaic.published) == ("assemble", True)
    assert moved.job.progress is not None
    assert moved.job.progress.done == len(state.tasks)
    clients.jobs.abort(job_id)


def test_the_job_and_mosaic_sync_make_the_same_mosaic_of_the_same_request(
    base_url: str, http: requests.Session
) -> None:
    params = {
        "POS": REGION, "PIXSCALE": PIXSCALE, "COLLECTION": "calexp", "BAND": R_BAND,
        "COMBINE": "median", "DETAIL": "coverage,count",
    }  # fmt: skip
    synced = http.get(f"{base_url}/mosaic/sync", params=params, timeout=120)
    assert synced.status_code == 200, synced.text
    created = http.post(
        f"{base_url}/mosaic", data={**params, "PHASE": "RUN"}, allow_redirects=False, timeout=60
    )
    assert created.status_code == 303, created.text
    doc = wait_until(http, created.headers["Location"], {"COMPLETED", "ERROR"}, seconds=120)
    assert phase_of(doc) == "COMPLETED"
    job = http.get(f"{created.headers['Location']}/results/mosaic", timeout=60)
    with fits.open(io.BytesIO(synced.content)) as one, fits.open(io.BytesIO(job.content)) as other:
        assert [h.name for h in one] == [h.name for h in other]
        assert_array_equal(np.isfinite(one[0].data), np.isfinite(other[0].data))
        finite = np.isfinite(one[0].data)
        assert_allclose(other[0].data[finite], one[0].data[finite], rtol=1e-6)
        assert_allclose(other["COVERAGE"].data, one["COVERAGE"].data, atol=1e-6)
        assert_array_equal(other["COUNT"].data, one["COUNT"].data)
        assert list(other["PROVENANCE"].data["ID"]) == list(one["PROVENANCE"].data["ID"])
        for key in ("SC_REGN", "SC_METH", "SC_COMB", "SC_BKG", "SC_NIN", "CRVAL1", "CRVAL2"):
            assert other[0].header[key] == one[0].header[key]


# -- the assembly in bands, joined by compose -----------------------------------------------
def _run_stage(worker: Any, deliveries: Deliveries, stage: str, messages: int) -> None:
    got = deliveries.pull(messages)
    assert {m.stage for m in got} == {stage}
    for message in got:
        deliver(worker, message)


class _AtAssembly(NamedTuple):
    """A job run up to its assembly, and what ran it."""

    worker: Any
    job_id: str
    state: Any
    request: Any
    bands: list[MosaicMessage]


def _run_to_assembly(
    stack: Any, clients: Clients, deliveries: Deliveries, **extra: str
) -> _AtAssembly:
    """Create a job (no background matching) and run it up to its assembly's band messages."""
    jobs, worker = jobs_for(clients, finder=_no_finder), worker_for(clients)
    parsed, pairs = _request(stack, **extra)
    record = jobs.create_job(parsed, pairs, owner="dev", run=True)
    state = record.mosaic
    assert state is not None
    _run_stage(worker, deliveries, "reproject", math.ceil(len(state.tasks) / 2))
    bands = deliveries.pull(state.bands)
    assert [m.units for m in bands] == [[b] for b in range(state.bands)]
    return _AtAssembly(worker, record.job.job_id, state, parsed, bands)


def _result_bytes(clients: Clients, job_id: str) -> bytes:
    (mosaic,) = [r for r in clients.jobs.results(job_id) if r.result_id == "mosaic"]
    return objects_for(clients).read(mosaic.object_name)


def test_the_bands_joined_are_the_single_writers_file_byte_for_byte(
    stack: Any, fanout: tuple[Clients, Deliveries]
) -> None:
    clients, deliveries = fanout
    worker, job_id, state, parsed, bands = _run_to_assembly(
        stack, clients, deliveries, DETAIL="coverage,count"
    )
    # the tiles coadded from the job's reprojected planes, as its coadd stage did before the
    # one writer read them back to stream the file
    objects = objects_for(clients)
    tiling = Tiling(parsed.grid, TILE)
    coadds: dict[str, list[Any]] = {"MOSAIC": [], "COVERAGE": [], "COUNT": []}
    for row in range(tiling.rows):
        parts: dict[str, list[Any]] = {"MOSAIC": [], "COVERAGE": [], "COUNT": []}
        for col in range(tiling.cols):
            tile = tiling.tile(row, col)
            planes = [
                correct(
                    decode_tile_plane(objects.get(job_id, f"plane-r{row}c{col}-{t.input:05d}.npz")),
                    Plane(),
                    box=tile.box,
                )
                for t in state.tasks
                if t.tile == (row, col)
            ]  # every tile has an input
            coadd = coadd_tile(planes, shape=tile.shape, combine="mean")
            parts["MOSAIC"].append(coadd.data.astype(np.float32))
            parts["COVERAGE"].append(coadd.coverage.astype(np.float32))
            parts["COUNT"].append(coadd.count.astype(np.int16))
        for plane, tiles in parts.items():
            coadds[plane].append(np.hstack(tiles))
    for message in bands:
        worker.handle(message)
    final = clients.jobs.load(job_id)
    assert final is not None
    assert final.job.phase == ExecutionPhase.COMPLETED
    joined = _result_bytes(clients, job_id)
    with fits.open(io.BytesIO(joined)) as hdul:
        header = hdul[0].header.copy()
    streamed = io.BytesIO()
    stream_mosaic(
        streamed,
        parsed.grid,
        lambda plane: coadds[plane],
        planes=("COVERAGE", "COUNT"),
        cards={k: header[k] for k in PROVENANCE_CARDS},  # its DATE is the time it was written
        inputs=[InputRecord(i.id, generation=i.generation) for i in state.inputs],
    )
    assert joined == streamed.getvalue()
    assert objects.work_names(job_id) == []
    deliveries.nothing_more()


class Died(BaseException):
    """A worker killed: nothing it would have done after this happens."""


class DiesOnFinish:
    """The job store of a worker that dies just after moving its job to the finish."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def mark_mosaic_published(self, job_id: str, stage: str) -> None:
        if stage == "finish":
            raise Died(job_id)
        self._store.mark_mosaic_published(job_id, stage)


def test_redelivered_bands_and_finishes_change_nothing_and_the_sweep_finishes_a_dead_ones_job(
    stack: Any, fanout: tuple[Clients, Deliveries]
) -> None:
    clients, deliveries = fanout
    worker, job_id, state, _, (*first, last) = _run_to_assembly(stack, clients, deliveries)
    for message in first:
        worker.handle(message)
        worker.handle(message)  # a band delivered again: not written or counted again
    dying = dataclasses.replace(worker, store=DiesOnFinish(clients.jobs))
    with pytest.raises(Died):
        dying.handle(last)  # counts the last band, moves the job to its finish, and dies
    stalled = clients.jobs.load(job_id)
    assert stalled is not None
    assert stalled.job.phase == ExecutionPhase.EXECUTING
    assert stalled.mosaic is not None
    assert stalled.mosaic.stage == "finish"
    assert stalled.job.progress is not None
    assert stalled.job.progress.done == state.total - 1
    worker.handle(last)  # a band delivered again after the move: nothing
    deliveries.nothing_more()
    assert sweeper_for(clients).mosaic_recover(stalled) == 1  # the sweep publishes the finish
    (finish,) = deliveries.pull(1)
    assert (finish.stage, finish.units) == ("finish", [0])
    both = [threading.Thread(target=deliver, args=(worker, finish)) for _ in range(2)]
    for thread in both:  # delivered twice at once: one completes the job, with one file
        thread.start()
    for thread in both:
        thread.join()
    final = clients.jobs.load(job_id)
    assert final is not None
    assert final.job.phase == ExecutionPhase.COMPLETED
    assert final.job.progress is not None
    assert final.job.progress.done == final.job.progress.total == state.total
    assert [r.result_id for r in clients.jobs.results(job_id)] == ["mosaic", "preview"]
    joined = _result_bytes(clients, job_id)
    worker.handle(finish)  # and again, after the end: nothing changes
    assert _result_bytes(clients, job_id) == joined
    with fits.open(io.BytesIO(joined)) as hdul:
        assert hdul[0].data.shape == (251, 251)
        assert np.isfinite(hdul[0].data).mean() > 0.99
    assert objects_for(clients).work_names(job_id) == []
    deliveries.nothing_more()


def test_abort_during_the_bands_leaves_nothing(
    base_url: str, http: requests.Session, stack: Any, fanout: tuple[Clients, Deliveries]
) -> None:
    clients, deliveries = fanout
    worker, job_id, state, _, (first, *rest) = _run_to_assembly(
        stack, clients, deliveries, DETAIL="coverage"
    )
    worker.handle(first)
    objects = objects_for(clients)
    # the band's two planes and its preview, beside the reprojected planes
    assert {n for n in objects.work_names(job_id) if n.endswith("r0.bin") or "-r0." in n} == {
        "band-MOSAIC-r0.bin", "band-COVERAGE-r0.bin", "preview-r0.npz",
    }  # fmt: skip
    aborted = http.post(
        f"{base_url}/mosaic/{job_id}/phase", data={"PHASE": "ABORT"}, allow_redirects=False,
        timeout=30,
    )  # fmt: skip
    assert aborted.status_code == 303, aborted.text
    for message in rest:
        worker.handle(message)  # after the ABORT: nothing written, counted or finished
    final = clients.jobs.load(job_id)
    assert final is not None
    assert final.job.phase == ExecutionPhase.ABORTED
    assert final.job.progress is not None
    assert final.job.progress.done == state.done_before("assemble") + 1
    assert objects.work_names(job_id) == []
    assert clients.jobs.results(job_id) == []
    from google.cloud import storage  # type: ignore[attr-defined]

    left = storage.Client().bucket(stack.config.results_bucket).list_blobs(prefix=f"jobs/{job_id}/")
    assert [b.name for b in left] == []
    deliveries.nothing_more()


def test_more_parts_than_one_compose_takes_are_joined_in_a_tree(stack: Any) -> None:
    from google.cloud import storage  # type: ignore[attr-defined]

    objects = objects_for(Clients(Settings()))
    job_id = f"test-compose-{uuid.uuid4().hex}"
    rng = np.random.default_rng(4)
    parts = [rng.bytes(int(n)) for n in rng.integers(0, 3000, size=70)]  # 3 groups, then 1
    for k, part in enumerate(parts):
        objects.put(job_id, f"part-{k}", part, expires=None)
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    name = f"jobs/{job_id}/joined.fits"
    size = objects.compose(
        job_id, [f"part-{k}" for k in range(70)], name, content_type="application/fits",
        expires=expires,
    )  # fmt: skip
    blob = storage.Client().bucket(stack.config.results_bucket).get_blob(name)
    assert blob.download_as_bytes() == b"".join(parts)
    assert size == blob.size == sum(len(p) for p in parts)
    assert blob.custom_time == expires
    assert blob.content_type == "application/fits"
    objects.delete_work(job_id)
    # its parts deleted (by an ABORT): an error the worker checks the job after
    with pytest.raises(ServiceUnavailableError, match=r"joined\.fits"):
        objects.compose(job_id, ["part-0"], name, content_type="x", expires=None)
    objects.delete([name])


class AbortsOnRecord:
    """The job store of a worker whose job is aborted by its owner as its results are recorded."""

    def __init__(self, store: Any, abort: Any) -> None:
        self._store = store
        self._abort = abort

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def attach_result(self, job_id: str, result: Any) -> None:
        self._abort(job_id)
        self._store.attach_result(job_id, result)


def test_abort_during_the_finish_keeps_no_result(
    base_url: str, http: requests.Session, stack: Any, fanout: tuple[Clients, Deliveries]
) -> None:
    from google.cloud import storage  # type: ignore[attr-defined]

    clients, deliveries = fanout
    worker, job_id, _, _, (*first, last) = _run_to_assembly(stack, clients, deliveries)
    for message in first:
        worker.handle(message)

    def abort(job_id: str) -> None:
        response = http.post(
            f"{base_url}/mosaic/{job_id}/phase", data={"PHASE": "ABORT"}, allow_redirects=False,
            timeout=30,
        )  # fmt: skip
        assert response.status_code == 303, response.text

    # the last band's delivery joins the file and renders the preview; as it records them
    # the owner aborts the job: the files and their records go, as everything else does
    aborting = dataclasses.replace(worker, store=AbortsOnRecord(clients.jobs, abort))
    aborting.handle(last)
    final = clients.jobs.load(job_id)
    assert final is not None
    assert final.job.phase == ExecutionPhase.ABORTED
    assert clients.jobs.results(job_id) == []
    left = storage.Client().bucket(stack.config.results_bucket).list_blobs(prefix=f"jobs/{job_id}/")
    assert [b.name for b in left] == []
    deliveries.nothing_more()
