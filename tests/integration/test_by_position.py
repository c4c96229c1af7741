"""Cutouts from a position alone: every indexed image covering it, an epochs package, no gaps."""

from __future__ import annotations

import csv
import fnmatch
import io
import warnings

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from numpy.testing import assert_array_equal
from PIL import Image

from skycut.sample.epochs import EPOCH_NAME_PATTERN, TARGET, TARGET_CURVE
from tests.integration.test_bulk import drop, progress_of, results_of, wait_for_job
from tests.integration.uws_client import NS, create_job, valid_xml, wait_until

pytestmark = pytest.mark.integration

RADIUS = 0.0014  # a 51-pixel stamp at 0.2"/px, full scale
FAR = (10.0, -60.0)


def covering_files(sample_dir, ra, dec, *, mjd_range=None):
    """The sample files under (ra, dec), by each file's own WCS (brute force)."""
    out = {}
    point = SkyCoord(ra, dec, unit="deg")
    for path in sorted(sample_dir.glob("*.fits")):
        with fits.open(path) as hdul, warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            image = hdul["IMAGE"] if "IMAGE" in hdul else hdul[0]
            if image.data is None or not WCS(image.header).footprint_contains(point):
                continue
            mjd = hdul[0].header.get("MJD-OBS")
            if mjd_range and not (mjd is not None and mjd_range[0] <= mjd <= mjd_range[1]):
                continue
            out[path.name] = mjd
    return out


def check_stamp(hdu, source_path):
    """The stamp's pixels are the source's, at the offset its header says."""
    with fits.open(source_path) as src:
        x0, y0 = round(-hdu.header["LTV1"]), round(-hdu.header["LTV2"])
        ny, nx = hdu.data.shape
        assert_array_equal(hdu.data, src["IMAGE"].data[y0 : y0 + ny, x0 : x0 + nx])


def test_an_id_less_bulk_file_cuts_every_epoch_and_packages_them_in_time_order(
    base_url, http, stack, sample_dir
):
    sources = stack.config.sources_bucket
    expected = covering_files(sample_dir, *TARGET)
    epochs = {n for n in expected if fnmatch.fnmatchcase(n, EPOCH_NAME_PATTERN)}
    assert len(epochs) >= 30, "the sample's field has 30+ epochs"
    data = (
        "ra,dec,radius,label\n"
        f"{TARGET[0]},{TARGET[1]},{RADIUS},variable\n"
        f"{FAR[0]},{FAR[1]},{RADIUS},nowhere\n"
    )
    job_id = drop(stack, "epochs.csv", data.encode(), metadata={"package": "epochs"})
    doc = wait_for_job(http, f"{base_url}/async/{job_id}", seconds=180)
    assert doc.findtext("uws:phase", namespaces=NS) == "COMPLETED"
    assert progress_of(doc) == (len(expected) + 1, len(expected), 1)
    results = results_of(doc)

    manifest = list(csv.DictReader(io.StringIO(http.get(results["manifest-csv"]).text)))
    cut = [m for m in manifest if m["row"] == "2"]
    assert sorted(m["id"] for m in cut) == sorted(f"gs://{sources}/sample/{n}" for n in expected)
    assert {m["status"] for m in cut} == {"ok"}
    assert {m["label"] for m in cut} == {"variable"}
    for m in cut:
        name = m["id"].rsplit("/", 1)[-1]
        assert m["collection"] == name.split("-")[0]  # calexp-* and deepcoadd-* (the defaults)
        assert m["band"] == name.split("-")[1]
        if expected[name] is not None:
            assert float(m["mjd"]) == pytest.approx(expected[name], abs=1e-6)
    (nowhere,) = [m for m in manifest if m["row"] == "3"]
    assert (nowhere["status"], nowhere["label"]) == ("no_image", "nowhere")
    assert "no indexed image covers CIRCLE 10" in nowhere["error"]

    package = http.get(results["epochs-000002"], timeout=60)
    with fits.open(io.BytesIO(package.content)) as hdul:
        assert hdul[0].header["NEPOCHS"] == len(expected)
        assert hdul[0].header["RA"] == pytest.approx(TARGET[0])
        stamps = hdul[1:]
        mjds = [h.header["MJD-OBS"] for h in stamps if "MJD-OBS" in h.header]
        assert mjds == sorted(mjds), "oldest first"
        assert [h.name for h in stamps] == [f"EPOCH{k:03d}" for k in range(1, len(stamps) + 1)]
        flux, model = [], []
        for hdu in stamps:
            name = hdu.header["SC_SRC"].rsplit("/", 1)[-1]
            assert hdu.header["FILTER"] == name.split("-")[1]
            check_stamp(hdu, sample_dir / name)
            assert WCS(hdu.header).footprint_contains(SkyCoord(*TARGET, unit="deg"))
            if name in epochs and hdu.header["FILTER"] == "r":
                x, y = WCS(hdu.header).all_world2pix(*TARGET, 0)
                core = hdu.data[
                    round(float(y)) - 2 : round(float(y)) + 3,
                    round(float(x)) - 2 : round(float(x)) + 3,
                ]
                flux.append(float(core.sum() - 25 * np.median(hdu.data)))
                model.append(10 ** (-0.4 * TARGET_CURVE.magnitude(hdu.header["MJD-OBS"])))
        # the variable star brightens and fades in the stamps as its light curve says
        assert len(flux) >= 5
        assert np.corrcoef(flux, model)[0, 1] > 0.9
    film = Image.open(io.BytesIO(http.get(results["filmstrip-000002"], timeout=30).content))
    assert film.format == "PNG"
    assert film.width >= 10 * 2  # ten stamps per line
    assert "epochs-000003" not in results, "nothing covers the second row: no package"


def test_an_async_job_naming_a_collection_cuts_each_covering_image_of_it(
    base_url, http, stack, sample_dir
):
    window = (61043.0, 61060.0)
    expected = {
        n for n in covering_files(sample_dir, *TARGET, mjd_range=window) if n.startswith("calexp-")
    }
    assert len(expected) >= 3
    job_url = create_job(
        http,
        base_url,
        {
            "COLLECTION": "calexp",
            "CIRCLE": f"{TARGET[0]} {TARGET[1]} {RADIUS}",
            "TIME": f"{window[0]} {window[1]}",
            "PHASE": "RUN",
        },
    )
    doc = wait_until(http, job_url, {"COMPLETED", "ERROR"}, seconds=90)
    assert doc.findtext("uws:phase", namespaces=NS) == "COMPLETED"
    hrefs = [
        r.get(f"{{{NS['xlink']}}}href")
        for r in doc.findall("uws:results/uws:result", namespaces=NS)
    ]
    assert len(hrefs) == len(expected)
    seen = set()
    for href in hrefs:
        with fits.open(io.BytesIO(http.get(href, timeout=30).content)) as cut:
            name = cut[0].header["SC_ID"].rsplit("/", 1)[-1]
            seen.add(name)
            check_stamp(cut["IMAGE"], sample_dir / name)
    assert seen == expected

    # nothing of the collection there: refused at once, naming the position
    refused = http.post(
        f"{base_url}/async",
        data={"COLLECTION": "calexp", "CIRCLE": f"{FAR[0]} {FAR[1]} {RADIUS}", "PHASE": "RUN"},
        allow_redirects=False,
        timeout=30,
    )
    assert refused.status_code == 400
    assert "no indexed image of collection calexp covers CIRCLE 10" in refused.text
    # sync makes one cutout: it says to use async
    sync = http.get(
        f"{base_url}/sync",
        params={"COLLECTION": "calexp", "CIRCLE": f"{TARGET[0]} {TARGET[1]} {RADIUS}"},
        timeout=30,
    )
    assert sync.status_code == 400
    assert "use async" in sync.text
    valid_xml(http.get(job_url, timeout=30))
