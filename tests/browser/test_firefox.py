"""The web page in Firefox too (headless, over its own Marionette protocol): search and look."""

from __future__ import annotations

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
