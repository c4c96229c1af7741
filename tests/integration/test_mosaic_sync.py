"""``<base>/mosaic/sync`` end to end: index → range reads → mosaic → results bucket → 303.

The mosaics are checked against ``reproject.mosaicking.reproject_and_coadd``
run here on the same sample files (read whole from local disk) onto the
grid the service wrote.
"""

from __future__ import annotations

import io
import re
import subprocess
import warnings

import numpy as np
import pytest
import requests
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from lxml import etree
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image
from reproject import reproject_interp
from reproject.mosaicking import reproject_and_coadd

from emulators.stack import REPO
from skycut.mosaic.preview import render_rgb_preview
from tests.integration.uws_client import phase_of, wait_until

pytestmark = pytest.mark.integration

# Across the overlap of the COSMOS-like field's two r calexps (RA 150.08-150.106)
REGION = "RANGE 150.07 150.12 2.2 2.25"
PIXSCALE = "0.0002"  # 0.72": a 251 x 251 mosaic
R_BAND = "6.2e-7 6.2e-7"  # inside r (0.552-0.691 um), outside g and i
UNCOVERED = "CIRCLE 10 -60 0.01"


def mosaic(http: requests.Session, url: str, method: str = "GET", **params: str | list[str]):
    """Ask for a mosaic; return the 303 answer and the result it leads to."""
    send = http.get if method == "GET" else http.post
    key = "params" if method == "GET" else "data"
    response = send(url, **{key: params}, allow_redirects=False, timeout=120)
    assert response.status_code == 303, response.text
    result = http.get(response.headers["Location"], timeout=60)
    assert result.status_code == 200
    return response, result


def expected_mosaic(sample_dir, names, header):
    """reproject_and_coadd of the named sample files onto the grid of ``header``."""
    inputs = []
    for name in names:
        with fits.open(sample_dir / name) as hdul, warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            image = hdul["IMAGE"]
            inputs.append((image.data.astype(np.float64), WCS(image.header)))
    wcs = WCS(header)
    shape = (header["NAXIS2"], header["NAXIS1"])
    return reproject_and_coadd(
        inputs, wcs, shape_out=shape, reproject_function=reproject_interp, combine_function="mean"
    )


def check_against_reproject(fits_bytes, sample_dir, names):
    """Assert the mosaic agrees with reproject_and_coadd to 1e-4 wherever it has values."""
    with fits.open(io.BytesIO(fits_bytes)) as hdul:
        got = hdul[0].data.astype(np.float64)
        header = hdul[0].header
        listed = sorted(str(i).rsplit("/", 1)[1] for i in hdul["PROVENANCE"].data["ID"])
    assert listed == sorted(names)
    expected, footprint = expected_mosaic(sample_dir, names, header)
    covered = footprint > 0
    assert covered.mean() > 0.99, "the region lies inside the inputs"
    assert_array_equal_nan(np.isfinite(got), covered)
    assert_allclose(got[covered], expected[covered], rtol=1e-4)
    return header


def assert_array_equal_nan(a, b):
    assert (a == b).all(), f"{int((a != b).sum())} pixels differ in coverage"


def test_a_region_across_two_images_matches_reproject_and_coadd(base_url, http, sample_dir):
    _, result = mosaic(
        http,
        f"{base_url}/mosaic/sync",
        POS=REGION,
        PIXSCALE=PIXSCALE,
        COLLECTION="calexp",
        BAND=R_BAND,
        DETAIL="coverage,count",
    )
    assert result.headers["Content-Type"].startswith("application/fits")
    # the index finds every r calexp covering the region: the two exposures, and the
    # tile-compressed copy of the second (read tile by tile)
    names = ["calexp-r-0001.fits", "calexp-r-0002.fits", "calexp-r-0002-rice.fits"]
    header = check_against_reproject(result.content, sample_dir, names)
    assert header["SC_REGN"] == f"POS={REGION}"
    assert header["SC_NIN"] == 3
    with fits.open(io.BytesIO(result.content)) as hdul:
        count = hdul["COUNT"].data
        # r-0001 alone in the west, both exposures (and the copy) in the overlap, r-0002 east
        assert set(np.unique(count)) == {1, 2, 3}
        assert (hdul["PROVENANCE"].data["GENERATION"] > 0).all()


def test_explicit_ids_and_a_grid_by_post(base_url, http, stack, sample_dir):
    bucket = stack.config.sources_bucket
    names = ["calexp-r-0001.fits", "calexp-r-0002.fits"]
    _, result = mosaic(
        http,
        f"{base_url}/mosaic/sync",
        method="POST",
        ID=[f"gs://{bucket}/sample/{n}" for n in names],
        CRVAL="150.095 2.225",
        WIDTH="200",
        HEIGHT="150",
        PIXSCALE=PIXSCALE,
        ROTATION="20",
    )
    header = check_against_reproject(result.content, sample_dir, names)
    assert (header["NAXIS1"], header["NAXIS2"]) == (200, 150)


def test_a_preview(base_url, http):
    _, result = mosaic(
        http,
        f"{base_url}/mosaic/sync",
        POS=REGION,
        PIXSCALE=PIXSCALE,
        COLLECTION="calexp",
        BAND=R_BAND,
        RESPONSEFORMAT="png",
    )
    assert result.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(result.content)).size == (251, 251)


# the sample's variable star, observed in g, r, i and z (the ECDFS-like field's epochs)
STAR = (53.1, -27.8)
G_BAND, I_BAND = "4.8e-7 4.8e-7", "7.5e-7 7.5e-7"  # and R_BAND


def test_three_bands_make_one_colour_preview_each_band_in_its_colour(base_url, http):
    grid = {
        "CRVAL": f"{STAR[0]} {STAR[1]}", "WIDTH": "120", "HEIGHT": "100",
        "PIXSCALE": "0.00005", "COLLECTION": "calexp",
    }  # fmt: skip
    url = f"{base_url}/mosaic/sync"
    three = [G_BAND, I_BAND, R_BAND]  # in any order
    _, colour = mosaic(http, url, **grid, BAND=three, COLOR="rgb", RESPONSEFORMAT="png")
    image = Image.open(io.BytesIO(colour.content))
    assert (image.mode, image.size) == ("RGBA", (120, 100))
    rgba = np.asarray(image).astype(float)
    covered = rgba[..., 3] == 255
    assert covered.mean() > 0.9
    # the colours are the three bands' own mosaics (each as mosaic/sync makes it alone)
    # drawn by Lupton et al.'s stretch, reddest band red: i, r, g
    bands = {}
    for name, band in (("i", I_BAND), ("r", R_BAND), ("g", G_BAND)):
        _, made = mosaic(http, url, **grid, BAND=band)
        with fits.open(io.BytesIO(made.content)) as hdul:
            bands[name] = hdul[0].data.astype(np.float64)
    drawn = {
        order: np.asarray(
            Image.open(io.BytesIO(render_rgb_preview(*(bands[b] for b in order))))
        ).astype(float)
        for order in (("i", "r", "g"), ("g", "r", "i"))
    }
    assert np.abs(rgba - drawn["i", "r", "g"]).max() <= 1  # float32 in the FITS files
    assert np.abs(rgba - drawn["g", "r", "i"])[covered].mean() > 5


def test_a_colour_job_makes_the_colour_preview_mosaic_sync_makes(base_url, http):
    params = {
        "CRVAL": f"{STAR[0]} {STAR[1]}", "WIDTH": "150", "HEIGHT": "130",
        "PIXSCALE": "0.00005", "COLLECTION": "calexp", "BAND": [R_BAND, G_BAND, I_BAND],
        "BACKGROUND": "match", "COLOR": "rgb", "RESPONSEFORMAT": "png",
    }  # fmt: skip
    _, synced = mosaic(http, f"{base_url}/mosaic/sync", "POST", **params)
    created = http.post(
        f"{base_url}/mosaic", data={**params, "PHASE": "RUN"}, allow_redirects=False, timeout=60
    )
    assert created.status_code == 303, created.text
    job = created.headers["Location"]
    doc = wait_until(http, job, {"COMPLETED", "ERROR"}, seconds=180)
    assert phase_of(doc) == "COMPLETED", etree.tostring(doc)
    made = http.get(f"{job}/results/mosaic", timeout=60)
    assert made.headers["Content-Type"] == "image/png"
    one, other = (np.asarray(Image.open(io.BytesIO(r.content))).astype(float)
                  for r in (synced, made))  # fmt: skip
    assert one.shape == other.shape == (130, 150, 4)
    covered = one[..., 3] == 255
    assert covered.mean() > 0.9
    assert_array_equal(one[..., 3], other[..., 3])
    # the job's coadds pass through float32 intermediates: a level may differ by one
    assert np.abs(one - other).max() <= 1


def test_a_region_no_image_covers_is_a_400_naming_it(base_url, http):
    response = http.get(
        f"{base_url}/mosaic/sync",
        params={"POS": UNCOVERED, "PIXSCALE": PIXSCALE, "COLLECTION": "calexp"},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 400
    assert response.text.startswith("UsageError: no indexed image (COLLECTION calexp) covers")
    assert "POS=CIRCLE 10.0 -60.0 0.01" in response.text


def test_a_bad_request_is_a_400_saying_why(base_url, http):
    response = http.get(
        f"{base_url}/mosaic/sync",
        params={"POS": REGION, "PIXSCALE": "0.000001"},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 400
    assert "exceeds the limit of 4194304 pixels" in response.text


def test_the_readme_example_works_as_pasted(base_url, tmp_path):
    readme = (REPO / "README.md").read_text()
    start = readme.index("### Mosaics (synchronous, first step)")
    block = re.compile(r"```sh\n(.*?)```", re.DOTALL).search(readme, start)
    assert block is not None
    script = block.group(1).replace("http://127.0.0.1:8080/api/image/soda", base_url)
    done = subprocess.run(
        ["bash", "-eu", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "mosaic: HTTP 200" in done.stdout
    assert "preview: HTTP 200" in done.stdout
    assert "UsageError: no indexed image covers POS=CIRCLE 10.0 -60.0 0.01" in done.stdout
    with fits.open(tmp_path / "mosaic.fits") as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "COVERAGE", "COUNT", "PROVENANCE"]
    with Image.open(tmp_path / "mosaic.png") as preview:
        assert preview.size == (400, 300)
    assert "colour: HTTP 200" in done.stdout
    with Image.open(tmp_path / "colour.png") as colour:
        assert (colour.mode, colour.size) == ("RGBA", (200, 200))


def test_the_capabilities_advertise_the_mosaic(base_url, http):
    response = http.get(f"{base_url}/capabilities", timeout=30)
    assert response.status_code == 200
    urls = {u.text for u in etree.fromstring(response.content).iter("accessURL")}
    assert f"{base_url}/mosaic/sync" in urls
