"""The web page in a real browser, on the local stack: search, look, submit, my jobs."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from astropy.io import fits
from astropy.wcs import WCS

from emulators.stack import REPO
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


def test_a_bulk_file_with_a_bad_row_is_checked_runs_to_100_percent_and_gives_its_manifest(
    browser: Any, base_url: str, stack: Any, tmp_path: Path, downloads: Path
) -> None:
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    rows = tmp_path / "stamps.csv"
    rows.write_text(
        "id,ra,dec,radius,label\n"
        f"{source},150.05,2.24,0.001,good-1\n"
        f"{source},150.05,95,0.001,bad-dec\n"
        f",{TARGET[0]},{TARGET[1]},0.0014,every-epoch\n"
    )
    expected = 1 + len(covering_files(stack.config.sample_dir, *TARGET))
    browser.get(f"{base_url}/ui/#submit")
    by_css(browser, "#submit-form input[name=file]")[0].send_keys(str(rows))
    by_css(browser, "#check-button")[0].click()
    lines = wait_for(lambda: by_css(browser, "#check-table tbody tr"), what="the row check")
    cells = [[td.text for td in tr.find_elements("css selector", "td")] for tr in lines]
    assert [c[:4] for c in cells] == [
        ["2", "good-1", "ok", "1"],
        ["3", "bad-dec", "error", "0"],
        ["4", "every-epoch", "ok", str(expected - 1)],
    ]
    assert "latitude" in cells[1][4]
    screenshot(browser, "submit-check")

    by_css(browser, "#submit-form button[type=submit]")[0].click()
    wait_for(
        lambda: by_css(browser, "#job-phase")[0].text in ("COMPLETED", "ERROR"),
        seconds=120,
        what="the job's end",
    )
    assert by_css(browser, "#job-phase")[0].text == "COMPLETED"
    bar = by_css(browser, "#job-progress")[0]
    assert bar.get_attribute("value") == bar.get_attribute("max") == str(expected + 1)
    assert "(100 %)" in by_css(browser, "#job-counts")[0].text
    screenshot(browser, "submit-done")
    (manifest,) = [
        b for b in by_css(browser, "#job-results button") if b.text == "Download manifest-csv"
    ]
    manifest.click()
    saved = wait_for(lambda: list(downloads.glob("manifest-csv*")), what="the manifest download")
    text = wait_for(lambda: saved[0].read_text() if saved[0].stat().st_size else "")
    assert text.startswith("row,label,id,collection,band,mjd")
    assert "bad-dec" in text
    assert text.count("every-epoch") == expected - 1


@pytest.fixture
def gateway(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The API as deployed behind API Gateway, with a stand-in for the gateway in front.

    The stand-in does what the gateway does with a checked token: it drops any
    identity header the client sent and passes the token's subject as
    ``X-Apigateway-Api-Userinfo`` (here the bearer token *is* the subject).
    """
    from functions_framework import create_app
    from werkzeug.serving import make_server

    app: dict[str, Any] = {}

    def stand_in(environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop("HTTP_X_APIGATEWAY_API_USERINFO", None)
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.startswith("Bearer "):
            claims = json.dumps({"email": auth.removeprefix("Bearer ").strip()}).encode()
            environ["HTTP_X_APIGATEWAY_API_USERINFO"] = base64.urlsafe_b64encode(claims).decode()
        return app["api"](environ, start_response)

    server = make_server("127.0.0.1", 0, stand_in, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}{stack.config.base_path}"
    monkeypatch.setenv("SKYCUT_TRUST_GATEWAY_IDENTITY", "true")
    monkeypatch.setenv("SKYCUT_PUBLIC_BASE_URL", url)  # the links the API writes are the gateway's
    app["api"] = create_app("soda_api", str(REPO / "functions" / "soda_api" / "main.py"), "http")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()


def sign_in(browser: Any, who: str) -> None:
    if by_css(browser, ".identity")[0].get_attribute("open") is None:
        by_css(browser, ".identity summary")[0].click()
    field = by_css(browser, "#token")[0]
    field.clear()
    field.send_keys(who + "\t")  # the change event stores it for this tab


def test_my_jobs_shows_the_callers_jobs_and_never_another_users(
    browser: Any, gateway: str, stack: Any
) -> None:
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    alice = requests.Session()
    alice.headers["Authorization"] = "Bearer alice@example.org"
    mine = set()
    for k in range(2):
        created = alice.post(
            f"{gateway}/async",
            data={"ID": source, "CIRCLE": "150.05 2.24 0.001", "RUNID": f"alice-{k}"},
            allow_redirects=False,
            timeout=30,
        )
        assert created.status_code == 303, created.text
        mine.add(created.headers["Location"].rsplit("/", 1)[-1])

    browser.get(f"{gateway}/ui/")
    sign_in(browser, "alice@example.org")
    by_css(browser, "nav button[data-page=jobs]")[0].click()
    rows = wait_for(lambda: by_css(browser, "#jobs-table tbody tr"), what="alice's jobs")
    listed = {r.find_element("css selector", "td").text for r in rows}
    assert listed == mine
    assert {r.find_elements("css selector", "td")[2].text for r in rows} == {"PENDING"}
    screenshot(browser, "my-jobs")
    # deleting one through the page removes it from the list
    rows[0].find_element("xpath", ".//button[text()='Delete']").click()
    wait_for(lambda: len(by_css(browser, "#jobs-table tbody tr")) == 1, what="the deletion")

    sign_in(browser, "bob@example.org")
    by_css(browser, "#jobs-form button[type=submit]")[0].click()
    wait_for(lambda: by_css(browser, "#jobs-status")[0].text == "0 jobs", what="bob's empty list")
    assert by_css(browser, "#jobs-table tbody tr") == []
    # without a token the gateway passes no identity: the page shows the service's refusal
    sign_in(browser, "")
    by_css(browser, "#jobs-form button[type=submit]")[0].click()
    status = wait_for(
        lambda: (
            "AuthenticationError" in by_css(browser, "#jobs-status")[0].text
            and by_css(browser, "#jobs-status")[0].text
        ),
        what="the refusal",
    )
    assert "no authenticated identity" in status


def test_api_help_gives_examples_for_this_deployments_url(browser: Any, base_url: str) -> None:
    browser.get(f"{base_url}/ui/#help")
    blocks = wait_for(lambda: by_css(browser, "#help-body pre code"), what="the examples")
    text = "\n".join(b.text for b in blocks)
    for endpoint in (
        "/sia/query?",
        "/sync?ID=",
        "/async",
        "/bulk/check",
        "/links?ID=",
        "SIA2Service",
    ):
        assert f"{base_url}{endpoint}" in text or endpoint in text
    assert f'SIA2Service("{base_url}")' in text
    # the SIA example, pasted as it is, answers
    (sia,) = [line for line in text.splitlines() if "/sia/query?" in line]
    url = sia.split('"')[1]
    assert requests.get(url, timeout=30).text.count("<TR>") >= 1
    screenshot(browser, "api-help")


def test_the_mosaic_form_previews_and_saves_a_mosaic_across_two_exposures(
    browser: Any, base_url: str, downloads: Path
) -> None:
    browser.get(f"{base_url}/ui/#mosaic")
    form = by_css(browser, "#mosaic-form")[0]
    form.find_element("name", "position").send_keys("150.095 2.225")
    form.find_element("name", "collection").send_keys("calexp")
    from selenium.webdriver.support.select import Select

    band = form.find_element("name", "band")
    # the menu offers the deployment's filter table (ui/filters.json) once it has come
    wait_for(lambda: band.find_elements("css selector", "option[value=r]"), what="the filters")
    Select(band).select_by_visible_text("r")
    form.find_element("css selector", "button[type=submit]").click()
    preview = by_css(browser, "#mosaic-preview")[0]
    wait_for(
        lambda: preview.get_attribute("naturalWidth") not in ("0", None),
        seconds=120,
        what="the mosaic preview",
    )
    status = by_css(browser, "#mosaic-status")[0].text
    assert status.startswith("167\u00d7167 pixels, TAN"), status
    screenshot(browser, "mosaic")
    by_css(browser, "#mosaic-fits")[0].click()
    saved = wait_for(lambda: list(downloads.glob("mosaic*.fits")), seconds=120, what="the FITS")
    data = wait_for(lambda: saved[0].read_bytes() if saved[0].stat().st_size else b"")
    with fits.open(io.BytesIO(data)) as mosaic:
        image = mosaic[0] if mosaic[0].data is not None else mosaic[1]
        assert image.data.shape == (167, 167)
        centre = WCS(image.header).all_pix2world([[83, 83]], 0)[0]
        assert centre == pytest.approx([150.095, 2.225], abs=0.72 / 3600)
        assert "COVERAGE" in mosaic
        covered = mosaic["COVERAGE"].data > 0
        assert covered.mean() > 0.5
        assert np.isfinite(image.data[covered]).all()


def test_the_page_works_from_the_keyboard(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{base_url}/ui/")
    # Tab from the top reaches the page buttons, then the form; Enter in a field searches
    body = by_css(browser, "body")[0]
    body.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.text == "Search"
    (position,) = by_css(browser, "#search-form input[name=position]")
    position.send_keys(f"{TARGET[0]} {TARGET[1]}" + Keys.ENTER)
    wait_for(lambda: by_css(browser, "#filmstrip li button"), what="the stamps")
    first = by_css(browser, "#filmstrip li button")[0]
    browser.execute_script("arguments[0].focus()", first)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(lambda: by_css(browser, "#viewer[open]"), what="the viewer")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_for(lambda: not by_css(browser, "#viewer[open]"), what="the viewer to close")
    # the page buttons switch pages from the keyboard too
    jobs = by_css(browser, "nav button[data-page=jobs]")[0]
    browser.execute_script("arguments[0].focus()", jobs)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(lambda: by_css(browser, "#page-jobs:not([hidden])"), what="the jobs page")
