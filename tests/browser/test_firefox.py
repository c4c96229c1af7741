"""The web page in Firefox too (headless, over Marionette): search, look, run a mosaic job."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skycut.sample.epochs import TARGET
from tests.browser.marionette import Firefox
from tests.integration.test_by_position import covering_files

pytestmark = pytest.mark.integration


@pytest.fixture
def firefox() -> Iterator[Firefox]:
    binary = shutil.which("firefox-esr") or shutil.which("firefox")
    if binary is None:
        pytest.skip(
            "no Firefox: install the distribution's package (Debian: apt-get install firefox-esr)"
        )
    browser = Firefox(binary)
    try:
        yield browser
    finally:
        browser.close()


def test_search_and_filmstrip_work_in_firefox(
    firefox: Firefox, base_url: str, sample_dir: Path
) -> None:
    expected = covering_files(sample_dir, *TARGET)
    firefox.navigate(f"{base_url}/ui/")
    firefox.wait("return document.querySelector('#help-body pre') !== null")  # the modules ran
    firefox.run(
        "const form = document.getElementById('search-form');"
        "form.position.value = arguments[0]; form.requestSubmit();",
        f"{TARGET[0]} {TARGET[1]}",
    )
    listed: Any = firefox.wait(
        "const cells = [...document.querySelectorAll('#images tbody tr td:first-child')];"
        "return cells.length ? cells.map((c) => c.textContent) : null;"
    )
    assert sorted(i.rsplit("/", 1)[-1] for i in listed) == sorted(expected)
    loaded = firefox.wait(
        "const n = document.querySelectorAll('#filmstrip li[data-loaded=true]').length;"
        f"return n === {len(expected)} ? n : null;",
        seconds=90,
    )
    assert loaded == len(expected)
    # the viewer draws the FITS pixels and reads the position under the pointer
    firefox.run("document.querySelector('#filmstrip li button').click();")
    firefox.wait("return document.getElementById('viewer-status').textContent.includes('pixels')")
    readout = firefox.run(
        "const canvas = document.getElementById('viewer-canvas');"
        "const box = canvas.getBoundingClientRect();"
        "canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: box.left + box.width / 2,"
        " clientY: box.top + box.height / 2, bubbles: true}));"
        "return document.getElementById('viewer-pointer').textContent;"
    )
    ra = float(readout.split("RA ")[1].split()[0])
    dec = float(readout.split("Dec ")[1].split()[0])
    assert abs(ra - TARGET[0]) < 2 / 3600
    assert abs(dec - TARGET[1]) < 2 / 3600


def test_a_mosaic_runs_as_a_job_from_the_form_and_is_listed_in_my_jobs_in_firefox(
    firefox: Firefox, small_sync_gateway: str
) -> None:
    who = "erin@example.org"
    firefox.navigate(f"{small_sync_gateway}/ui/#mosaic")
    firefox.wait("return document.querySelector('#help-body pre') !== null")  # the modules ran
    firefox.run(
        "const token = document.getElementById('token'); token.value = arguments[0];"
        "token.dispatchEvent(new Event('change'));",
        who,
    )
    firefox.wait("return document.getElementById('mosaic-size').textContent.includes('at once')")
    firefox.wait("return document.querySelector('#mosaic-form select[name=band] option[value=r]')")
    # 3' at 0.72" a pixel: 250 x 250, more than this deployment makes at once
    note = firefox.run(
        "const form = document.getElementById('mosaic-form');"
        "form.position.value = '150.095 2.225'; form.collection.value = 'calexp';"
        "form.band.value = 'r';"
        "form.width.value = '3'; form.height.value = '3';"
        "form.dispatchEvent(new Event('input'));"
        "form.requestSubmit(document.getElementById('mosaic-make'));"
        "return document.getElementById('mosaic-size').textContent;"
    )
    assert "so it runs as a job" in note
    status = firefox.wait(
        "const s = document.getElementById('mosaic-status').textContent;"
        "return s.includes('made by job') || s.includes('Error') ? s : null;",
        seconds=150,
    )
    assert str(status).startswith("250\u00d7250 pixels, TAN, made by job "), status
    job_id = str(status).rsplit(" ", 1)[-1]
    width = firefox.wait("return document.getElementById('mosaic-preview').naturalWidth || null;")
    assert width == 250
    firefox.run("document.querySelector('nav button[data-page=jobs]').click();")
    row: Any = firefox.wait(
        "const row = [...document.querySelectorAll('#jobs-table tbody tr')].find("
        f"  (r) => r.cells[0].textContent === {json.dumps(job_id)});"
        "const thumb = row && row.querySelector('img.thumb');"
        "return thumb && thumb.naturalWidth ?"
        "  [[...row.cells].slice(0, 6).map((c) => c.textContent), thumb.naturalWidth] : null;"
    )
    cells, thumb_width = row
    assert cells[1] == "mosaic"
    assert cells[3] == "COMPLETED"
    assert thumb_width == 250
