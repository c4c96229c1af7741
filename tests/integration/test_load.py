"""``make load FILES=...`` against the stack's fake-gcs-server, as a user loads files."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from google.cloud import storage
from numpy.testing import assert_array_equal

from emulators.load import main as make_load

pytestmark = pytest.mark.integration

CENTRE = (40.0, -8.0)


def image(version: int) -> tuple[bytes, np.ndarray]:
    """A FITS image whose pixels say which version it is; every version has the same size."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = CENTRE
    w.wcs.crpix = [50.5, 50.5]
    w.wcs.cdelt = [-0.2 / 3600, 0.2 / 3600]
    y, x = np.mgrid[0:100, 0:100]
    data = (version * 100_000 + y * 100 + x).astype(np.float32)
    out = io.BytesIO()
    fits.PrimaryHDU(data, header=w.to_header()).writeto(out)
    return out.getvalue(), data


def cut_version(http, base_url: str, source_id: str, versions: dict[int, np.ndarray]) -> int:
    """Return the version whose pixels a cutout holds, after checking it holds exactly them."""
    response = http.get(
        f"{base_url}/sync",
        params={"ID": source_id, "POS": f"CIRCLE {CENTRE[0]} {CENTRE[1]} 0.002"},
        allow_redirects=True,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    with fits.open(io.BytesIO(response.content)) as cut:
        image = cut[1]  # the primary HDU carries the provenance
        x0, y0 = round(-image.header["LTV1"]), round(-image.header["LTV2"])
        ny, nx = image.data.shape
        version = int(image.data[0, 0]) // 100_000
        assert_array_equal(image.data, versions[version][y0 : y0 + ny, x0 : x0 + nx])
        generation = int(cut[0].header["SC_GEN"])
    blob = storage.Client().bucket(source_id.split("/")[2]).blob(source_id.split("/", 3)[3])
    blob.reload()
    assert generation == blob.generation, "the cutout names the stored version"
    return version


def test_a_replacement_of_the_same_size_is_uploaded_and_cut(stack, base_url, http, tmp_path):
    prefix = f"user/load-{uuid.uuid4().hex[:8]}/"
    load = ["--env-file", str(stack.config.state_dir / "env"), "--prefix", prefix]
    files, pixels = {}, {}
    for k in (1, 2):
        content, pixels[k] = image(k)
        files[k] = tmp_path / f"v{k}" / "x.fits"
        files[k].parent.mkdir()
        files[k].write_bytes(content)
    assert files[1].stat().st_size == files[2].stat().st_size
    source_id = f"gs://{stack.config.sources_bucket}/{prefix}x.fits"
    bucket = storage.Client().bucket(stack.config.sources_bucket)

    def stored() -> bytes:
        return bucket.blob(f"{prefix}x.fits").download_as_bytes()  # its latest version

    assert make_load([*load, str(files[1])]) == 0
    assert cut_version(http, base_url, source_id, pixels) == 1

    assert make_load([*load, str(files[2])]) == 0
    assert stored() == files[2].read_bytes()
    assert cut_version(http, base_url, source_id, pixels) == 2

    # the same file again is announced, not changed
    assert make_load([*load, str(files[2])]) == 0
    assert stored() == files[2].read_bytes()
    assert cut_version(http, base_url, source_id, pixels) == 2
