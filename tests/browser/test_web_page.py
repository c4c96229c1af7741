"""The web page in a real browser, on the local stack: search, look, submit, my jobs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from astropy.wcs import WCS

from skycut.sample.epochs import TARGET
from tests.browser.conftest import screenshot
from tests.integration.test_by_position import covering_files

pytestmark = pytest.mark.integration


def wait_for(predicate, *, seconds: float = 60.0, what: str = "the page") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen in {seconds:.0f} s")


def by_css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def test_search_lists_the_covering_images_and_shows_one_stamp_each(
    browser: Any, base_url: str, sample_dir: Path
) -> None:
    expected = covering_files(sample_dir, *TARGET)
    browser.get(f"{base_url}/ui/")
    (position,) = by_css(browser, "#search-form input[name=position]")
    position.send_keys(f"{TARGET[0]} {TARGET[1]}")
    by_css(browser, "#search-form button[type=submit]")[0].click()
    rows = wait_for(lambda: by_css(browser, "#images tbody tr"), what="the image table")
    listed = [r.find_element("css selector", "td").text.rsplit("/", 1)[-1] for r in rows]
    assert sorted(listed) == sorted(expected)
    assert "cover 53.1 -27.8" in by_css(browser, "#search-status")[0].text
    stamps = by_css(browser, "#filmstrip li")
    assert len(stamps) == len(expected)
    wait_for(
        lambda: len(by_css(browser, "#filmstrip li[data-loaded=true]")) == len(expected),
        what="every stamp's preview",
    )
    # in time order, band and date under each
    captions = [s.text for s in stamps]
    dates = [c.split()[1] for c in captions]
    assert dates == sorted(dates)
    assert len(by_css(browser, "#sketch polygon")) == len(expected)
    screenshot(browser, "search")

    stamps[0].find_element("css selector", "button").click()
    wait_for(lambda: "pixels" in by_css(browser, "#viewer-status")[0].text, what="the viewer")
    canvas = by_css(browser, "#viewer-canvas")[0]
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).move_to_element(canvas).perform()
    readout = wait_for(
        lambda: by_css(browser, "#viewer-pointer")[0].text, what="the pointer readout"
    )
    ra, dec = float(readout.split("RA ")[1].split()[0]), float(readout.split("Dec ")[1].split()[0])
    assert abs(ra - TARGET[0]) < 2 / 3600  # the stamp's centre
    assert abs(dec - TARGET[1]) < 2 / 3600
    # the page's own WCS (TAN-SIP in JavaScript) agrees with astropy's at that pixel of the image
    x, y = (int(v) for v in readout.split("pixel (")[1].split(")")[0].split(", "))
    name = by_css(browser, "#viewer-title")[0].text.split(" — ")[0].rsplit("/", 1)[-1]
    with fits.open(sample_dir / name) as source:
        value = float(source["IMAGE"].data[y, x])
        sky = WCS(source["IMAGE"].header).all_pix2world([[x, y]], 0)[0]
    assert (ra, dec) == (pytest.approx(sky[0], abs=2e-6), pytest.approx(sky[1], abs=2e-6))
    assert float(readout.split("value ")[1].split(";")[0]) == pytest.approx(value, rel=1e-5)
    screenshot(browser, "viewer")
