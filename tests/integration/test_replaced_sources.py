"""A source replaced under the same name is never cut from what was known of the old one.

Every answer names the version of the object it was cut from (``SC_GEN``)
and holds exactly that version's pixels: between cutouts (the workers'
cached headers are of the old version) and during them (the object is
replaced while a job reads it).
"""

from __future__ import annotations

import csv
import io
import threading
import time

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from google.cloud import storage
from numpy.testing import assert_array_equal

from skycut.bulk.drops import DropObject, bulk_job_id
from tests.integration.uws_client import NS, create_job, phase_of, wait_until

pytestmark = pytest.mark.integration

SIZE = 600
SCALE = 0.2 / 3600  # deg per pixel
FIRST_CENTRE = (30.0, -5.0)
MOVED_CENTRE = (30.5, -5.0)  # the replacement lies elsewhere on the sky


def image_version(k: int, centre: tuple[float, float]) -> tuple[bytes, np.ndarray]:
    """A FITS file whose every pixel says which version it is (k) and where it is."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = centre
    w.wcs.crpix = [SIZE / 2 + 0.5, SIZE / 2 + 0.5]
    w.wcs.cdelt = [-SCALE, SCALE]
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    data = (k * 1_000_000 + y * 1000 + x).astype(np.float32)
    hdu = fits.ImageHDU(data, header=w.to_header(), name="IMAGE")
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
    return buffer.getvalue(), data


class Versions:
    """Uploads versions of one object and remembers each one's pixels by generation."""

    def __init__(self, stack, name: str) -> None:
        self.bucket = stack.config.sources_bucket
        self.name = name
        self.id = f"gs://{self.bucket}/{name}"
        self.pixels: dict[int, np.ndarray] = {}
        self._blob_bucket = storage.Client().bucket(self.bucket)

    def upload(self, k: int, centre: tuple[float, float]) -> int:
        content, data = image_version(k, centre)
        blob = self._blob_bucket.blob(self.name)
        blob.upload_from_string(content, content_type="application/fits")
        self.pixels[int(blob.generation)] = data
        return int(blob.generation)

    def check(self, content: bytes) -> int:
        """Assert a cutout holds exactly the pixels of the version it names; return it."""
        with fits.open(io.BytesIO(content)) as cut:
            generation = int(cut[0].header["SC_GEN"])
            assert cut[0].header["SC_ID"] == self.id
            image = cut["IMAGE"]
            x0, y0 = round(-image.header["LTV1"]), round(-image.header["LTV2"])
            ny, nx = image.data.shape
            assert generation in self.pixels, "a version that was never uploaded"
            assert_array_equal(image.data, self.pixels[generation][y0 : y0 + ny, x0 : x0 + nx])
        return generation


def circle(centre: tuple[float, float], dx: float = 0.0, dy: float = 0.0) -> str:
    return f"{centre[0] + dx} {centre[1] + dy} 0.001"


def sync_cut(http, base_url: str, source_id: str, pos: str):
    return http.get(
        f"{base_url}/sync",
        params={"ID": source_id, "POS": f"CIRCLE {pos}"},
        allow_redirects=True,
        timeout=60,
    )


def results_of(doc) -> list[str]:
    return [
        r.get(f"{{{NS['xlink']}}}href")
        for r in doc.findall("uws:results/uws:result", namespaces=NS)
    ]


def test_replacement_between_cutouts_is_cut_from_the_new_version(stack, base_url, http):
    versions = Versions(stack, "replaced/between.fits")
    first = versions.upload(1, FIRST_CENTRE)
    for _ in range(4):  # both worker processes learn the first version's headers
        response = sync_cut(http, base_url, versions.id, circle(FIRST_CENTRE))
        assert response.status_code == 200, response.text
        assert versions.check(response.content) == first

    second = versions.upload(2, MOVED_CENTRE)
    for _ in range(4):  # sync, whichever worker process takes it
        response = sync_cut(http, base_url, versions.id, circle(MOVED_CENTRE))
        assert response.status_code == 200, response.text
        assert versions.check(response.content) == second
        # the old footprint is no longer in the file: no overlap, not a read error
        gone = sync_cut(http, base_url, versions.id, circle(FIRST_CENTRE))
        assert gone.status_code == 204, gone.text

    # async, one image, several stencils: planned and fetched together
    job = create_job(
        http,
        base_url,
        [("ID", versions.id), ("PHASE", "RUN")]
        + [("CIRCLE", circle(MOVED_CENTRE, dx=0.002 * k)) for k in range(5)],
    )
    doc = wait_until(http, job, {"COMPLETED", "ERROR"})
    assert phase_of(doc) == "COMPLETED"
    third = versions.upload(3, MOVED_CENTRE)
    urls = results_of(doc)
    assert len(urls) == 5
    for url in urls:
        assert versions.check(http.get(url, timeout=30).content) == second

    # bulk rows of one image (grouped), after yet another replacement
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["id", "ra", "dec", "radius"])
    for k in range(6):
        writer.writerow([versions.id, MOVED_CENTRE[0] - 0.002 * k, MOVED_CENTRE[1], 0.001])
    drop = storage.Client().bucket(stack.config.drop_bucket).blob("incoming/dev/replaced.csv")
    drop.upload_from_string(rows.getvalue(), content_type="text/csv")
    job_id = bulk_job_id(DropObject(stack.config.drop_bucket, drop.name, str(drop.generation)))
    deadline = time.monotonic() + 60
    while http.get(f"{base_url}/async/{job_id}", timeout=30).status_code == 404:
        assert time.monotonic() < deadline, "the drop made no job"
        time.sleep(0.2)
    doc = wait_until(http, f"{base_url}/async/{job_id}", {"COMPLETED", "ERROR"})
    assert phase_of(doc) == "COMPLETED"
    stamps = [u for u in results_of(doc) if "/cutout-" in u]
    assert len(stamps) == 6
    for url in stamps:
        assert versions.check(http.get(url, timeout=30).content) == third


def test_replacement_during_a_job_never_mixes_versions(stack, base_url, http):
    versions = Versions(stack, "replaced/during.fits")
    versions.upload(10, MOVED_CENTRE)
    rng = np.random.default_rng(5)
    offsets = rng.uniform(-0.012, 0.012, size=(100, 2))
    job = create_job(
        http,
        base_url,
        [("ID", versions.id)]
        + [("CIRCLE", circle(MOVED_CENTRE, dx=dx, dy=dy)) for dx, dy in offsets],
    )
    stop = threading.Event()

    def keep_replacing() -> None:
        k = 11
        while not stop.wait(0.15):
            versions.upload(k, MOVED_CENTRE)  # same sky, other pixels
            k += 1

    # replaced from before the job runs until it has ended (at least 3 s): every cut of it
    # overlaps replacements, however quickly the machine makes them
    replacer = threading.Thread(target=keep_replacing)
    started = time.monotonic()
    replacer.start()
    try:
        response = http.post(f"{job}/phase", data={"PHASE": "RUN"}, timeout=30)
        assert response.status_code in (200, 303)
        doc = wait_until(http, job, {"COMPLETED", "ERROR"}, seconds=120)
        time.sleep(max(0.0, 3 - (time.monotonic() - started)))
    finally:
        stop.set()
        replacer.join()
    assert phase_of(doc) == "COMPLETED"
    urls = results_of(doc)
    assert len(urls) == 100
    seen = {versions.check(http.get(url, timeout=30).content) for url in urls}
    assert len(versions.pixels) > 5, "the object was replaced during the job"
    assert seen <= set(versions.pixels)
