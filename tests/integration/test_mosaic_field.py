"""``<base>/mosaic/sync`` over the sample's mosaic field: four exposures, four skies, one sky.

The field (`skycut.sample.mosaic_field`) is four adjacent r calexps across
RA = 0 whose sky levels differ by 120 to 380 adu. The service finds them by
position, reads their boxes by range requests and matches their backgrounds;
the planes it reports in the PROVENANCE table are checked here against the
inputs read whole from local disk and reprojected by ``reproject`` itself:
with them, the inputs agree over every overlap to a small fraction of the
noise; without them they do not.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pytest
import requests
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from reproject import reproject_interp

from skycut.sample.mosaic_field import MOSAIC_EXPOSURES

pytestmark = pytest.mark.integration

NAMES = [e.name for e in MOSAIC_EXPOSURES]
NEIGHBOURS = [(0, 1), (2, 3), (0, 2), (1, 3)]  # SW-SE, NW-NE, SW-NW, SE-NE
REGION = "RANGE 359.96 0.04 19.97 20.03"  # the field's middle, across RA = 0
PIXSCALE = "0.0002"


def test_a_mosaic_across_four_skies_has_no_seams(base_url, http: requests.Session, sample_dir):
    response = http.get(
        f"{base_url}/mosaic/sync",
        params={
            "POS": REGION,
            "PIXSCALE": PIXSCALE,
            "COLLECTION": "calexp",
            "BAND": "6.2e-7 6.2e-7",
            "BACKGROUND": "match",
            "DETAIL": "count",
        },
        allow_redirects=False,
        timeout=120,
    )
    assert response.status_code == 303, response.text
    result = http.get(response.headers["Location"], timeout=60)
    assert result.status_code == 200
    with fits.open(io.BytesIO(result.content)) as hdul:
        header = hdul[0].header
        count = hdul["COUNT"].data
        table = hdul["PROVENANCE"].data
        planes = {
            str(i).rsplit("/", 1)[1]: (a, b, c)
            for i, a, b, c in zip(
                table["ID"], table["BG_A"], table["BG_B"], table["BG_C"], strict=True
            )
        }
    assert sorted(planes) == NAMES
    assert count.max() == 4
    wcs, shape = WCS(header), (header["NAXIS2"], header["NAXIS1"])
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    on_grid, noise = {}, {}
    for name in NAMES:
        with fits.open(sample_dir / name) as hdul, warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            image = hdul["IMAGE"]
            data, footprint = reproject_interp(
                (image.data.astype(np.float64), WCS(image.header)), wcs, shape_out=shape
            )
            noise[name] = math.sqrt(float(np.median(hdul["VARIANCE"].data)))
        a, b, c = planes[name]
        on_grid[name] = (data, data - (a * x + b * y + c), footprint > 0)
    for first, second in ((NAMES[a], NAMES[b]) for a, b in NEIGHBOURS):
        raw_a, matched_a, on_a = on_grid[first]
        raw_b, matched_b, on_b = on_grid[second]
        both = on_a & on_b & np.isfinite(raw_a) & np.isfinite(raw_b)
        assert both.sum() > 3000
        sigma = min(noise[first], noise[second])
        assert abs(float(np.median(raw_a[both] - raw_b[both]))) > 3 * sigma, (first, second)
        assert abs(float(np.median(matched_a[both] - matched_b[both]))) < 0.1 * sigma
