"""The web page in a real browser, on the local stack: search, look, submit, my jobs."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from astropy.io import fits
from astropy.wcs import WCS
from selenium.common.exceptions import StaleElementReferenceException

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
    assert {r.find_elements("css selector", "td")[3].text for r in rows} == {"PENDING"}
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
    # so does the mosaic job's: its creation, pasted into a shell, answers 303 to the job
    (job,) = [b.text for b in blocks if f'"{base_url}/mosaic"' in b.text]
    create = "\n".join(job.splitlines()[:2])
    created = subprocess.run(
        ["bash", "-c", create], capture_output=True, text=True, timeout=120, check=False
    )
    assert created.stdout.startswith("HTTP/1.1 303"), created.stdout + created.stderr
    (location,) = [h for h in created.stdout.splitlines() if h.lower().startswith("location:")]
    job_url = location.split(":", 1)[1].strip()
    assert job_url.startswith(f"{base_url}/mosaic/")
    assert requests.delete(job_url, timeout=30).ok  # it ran; it is not needed
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


# -- mosaic jobs on the page --------------------------------------------------------------
MOSAIC_REGION = "RANGE 150.07 150.12 2.2 2.25"  # across the two r calexps' overlap
R_CALEXPS = ["calexp-r-0001.fits", "calexp-r-0002.fits"]


def create_mosaic_job(url: str, who: str, stack: Any, **params: str) -> str:
    """Create a mosaic job of the two r calexps as ``who``; return its URL."""
    created = requests.post(
        f"{url}/mosaic",
        data={
            "POS": MOSAIC_REGION,
            "PIXSCALE": "0.0002",
            "ID": [f"gs://{stack.config.sources_bucket}/sample/{n}" for n in R_CALEXPS],
            **params,
        },
        headers={"Authorization": f"Bearer {who}"},
        allow_redirects=False,
        timeout=60,
    )
    assert created.status_code == 303, created.text
    return str(created.headers["Location"])


def job_phase(job_url: str, who: str) -> str:
    answer = requests.get(
        f"{job_url}/phase", headers={"Authorization": f"Bearer {who}"}, timeout=30
    )
    return answer.text.strip() if answer.ok else f"HTTP {answer.status_code}"


def row_of(browser: Any, job_id: str) -> Any:
    """The My jobs row of a job, looked up afresh (each refresh rebuilds the table).

    A table rebuilt while it is read (after a Delete, say) is read again.
    """
    for _ in range(20):
        try:
            for row in by_css(browser, "#jobs-table tbody tr"):
                cells = row.find_elements("css selector", "td")
                if cells and cells[0].text == job_id:
                    return row
            return None
        except StaleElementReferenceException:
            time.sleep(0.1)
    raise AssertionError("the jobs table was rebuilt each time it was read")


def test_my_jobs_fits_a_1280_pixel_window_whatever_its_jobs(
    browser: Any, gateway: str, stack: Any
) -> None:
    """Long names, results, errors and every button: the table never scrolls sideways."""
    who = "carol-wide@example.org"
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    headers = {"Authorization": f"Bearer {who}"}
    jobs = {}
    missing = f"gs://{stack.config.sources_bucket}/sample/missing.fits"
    for name, params in (
        ("done", {"ID": source, "PHASE": "RUN"}),
        ("failed", {"ID": missing, "PHASE": "RUN"}),  # its error shown in the row
        ("waiting", {"ID": source}),
    ):
        runid = f"{name}-a-run-name-as-long-as-the-service-allows-it-xxxxxxxxxxxxxxxxx"[:64]
        created = requests.post(
            f"{gateway}/async",
            data={"CIRCLE": "150.05 2.24 0.001", "RUNID": runid, **params},
            headers=headers,
            allow_redirects=False,
            timeout=30,
        )
        assert created.status_code == 303, created.text
        jobs[name] = created.headers["Location"]
    mosaic = create_mosaic_job(gateway, who, stack, PHASE="RUN", RUNID="m" * 64)
    for url in (jobs["done"], jobs["failed"], mosaic):
        wait_for(
            lambda url=url: job_phase(url, who) in ("COMPLETED", "ERROR", "ABORTED"),
            seconds=150,
            what=f"{url}'s end",
        )
    assert job_phase(jobs["failed"], who) == "ERROR"

    browser.get(f"{gateway}/ui/")
    sign_in(browser, who)
    by_css(browser, "nav button[data-page=jobs]")[0].click()
    wait_for(lambda: len(by_css(browser, "#jobs-table tbody tr")) == 4, what="carol's jobs")
    thumb = wait_for(lambda: by_css(browser, "#jobs-table img.thumb"), what="the preview")[0]
    wait_for(lambda: thumb.get_attribute("naturalWidth") not in ("0", None), what="the preview")
    screenshot(browser, "my-jobs-wide")
    wrap = by_css(browser, "#page-jobs .table-wrap")[0]
    inner, outer = (int(wrap.get_property(k)) for k in ("scrollWidth", "clientWidth"))
    assert inner <= outer, f"the table is {inner} px wide in {outer} px: it scrolls sideways"
    page = browser.execute_script("return [document.documentElement.scrollWidth, innerWidth]")
    assert page[0] <= page[1]


def test_my_jobs_lists_mosaic_jobs_beside_cutout_jobs_with_their_preview_and_fits(
    browser: Any, gateway: str, stack: Any, downloads: Path
) -> None:
    alice = "alice-mosaics@example.org"
    source = f"gs://{stack.config.sources_bucket}/sample/calexp-r-0001.fits"
    cutout = requests.post(
        f"{gateway}/async",
        data={"ID": source, "CIRCLE": "150.05 2.24 0.001", "RUNID": "a cutout"},
        headers={"Authorization": f"Bearer {alice}"},
        allow_redirects=False,
        timeout=30,
    )
    assert cutout.status_code == 303, cutout.text
    cutout_id = cutout.headers["Location"].rsplit("/", 1)[-1]
    mosaic_url = create_mosaic_job(gateway, alice, stack, PHASE="RUN", RUNID="seam")
    mosaic_id = mosaic_url.rsplit("/", 1)[-1]
    others = create_mosaic_job(gateway, "bob-mosaics@example.org", stack)
    wait_for(
        lambda: job_phase(mosaic_url, alice) in ("COMPLETED", "ERROR", "ABORTED"),
        seconds=150,
        what="alice's mosaic job's end",
    )
    assert job_phase(mosaic_url, alice) == "COMPLETED"

    browser.get(f"{gateway}/ui/")
    sign_in(browser, alice)
    by_css(browser, "nav button[data-page=jobs]")[0].click()
    rows = wait_for(lambda: by_css(browser, "#jobs-table tbody tr"), what="alice's jobs")
    cells = {
        r.find_elements("css selector", "td")[0].text: [
            td.text for td in r.find_elements("css selector", "td")
        ]
        for r in rows
    }
    assert set(cells) == {cutout_id, mosaic_id}  # bob's mosaic job is not alice's
    assert others.rsplit("/", 1)[-1] not in cells
    assert cells[cutout_id][1:4] == ["cutout", "a cutout", "PENDING"]
    assert cells[mosaic_id][1:4] == ["mosaic", "seam", "COMPLETED"]
    done, total = cells[mosaic_id][5].split("/")
    assert int(done) == int(total) > 2  # every step of the fan-out counted
    # the preview is shown in the row, drawn from the job's preview result
    thumb = row_of(browser, mosaic_id).find_element("css selector", "img.thumb")
    wait_for(lambda: thumb.get_attribute("naturalWidth") not in ("0", None), what="the preview")
    assert int(thumb.get_attribute("naturalWidth")) == 251
    screenshot(browser, "my-jobs-mosaic")
    row_of(browser, mosaic_id).find_element("xpath", ".//button[text()='Get FITS']").click()
    saved = wait_for(lambda: list(downloads.glob("mosaic-*.fits")), what="the FITS download")
    data = wait_for(lambda: saved[0].read_bytes() if saved[0].stat().st_size else b"")
    with fits.open(io.BytesIO(data)) as mosaic:
        assert mosaic[0].data.shape == (251, 251)
        assert mosaic[0].header["SC_NIN"] == 2
    # deleting the mosaic job through the page removes it, under /mosaic
    row_of(browser, mosaic_id).find_element("xpath", ".//button[text()='Delete']").click()
    wait_for(lambda: row_of(browser, mosaic_id) is None, what="the deletion")
    assert job_phase(mosaic_url, alice) == "HTTP 404"
    assert row_of(browser, cutout_id) is not None


def test_a_mosaic_too_large_to_make_at_once_runs_as_a_job_from_the_form_to_its_preview(
    browser: Any, small_sync_gateway: str, stack: Any, downloads: Path
) -> None:
    url, carol = small_sync_gateway, "carol@example.org"
    browser.get(f"{url}/ui/#mosaic")
    sign_in(browser, carol)
    form = by_css(browser, "#mosaic-form")[0]
    form.find_element("name", "position").send_keys("150.095 2.225")
    form.find_element("name", "collection").send_keys("calexp")
    from selenium.webdriver.support.select import Select

    band = form.find_element("name", "band")
    wait_for(lambda: band.find_elements("css selector", "option[value=r]"), what="the filters")
    Select(band).select_by_visible_text("r")
    note = by_css(browser, "#mosaic-size")[0]
    wait_for(lambda: "made at once" in note.text, what="the deployment's limits")
    # few pixels over a wide sky are a job too: 4' at 2.16" a pixel, 0.0044 square degrees
    pixel = form.find_element("name", "pixscale")
    chosen = pixel.get_attribute("value")
    for name, value in (("pixscale", "2.16"), ("width", "4"), ("height", "4")):
        field = form.find_element("name", name)
        field.clear()
        field.send_keys(value)
    assert note.text == (
        "111\u00d7111 = 12,321 pixels: more than the 0.002 square degrees made at once, "
        "so it runs as a job"
    )
    pixel.clear()
    pixel.send_keys(chosen)
    for side in ("width", "height"):  # 3' at 0.72" a pixel: 250 x 250, over 200²
        field = form.find_element("name", side)
        field.clear()
        field.send_keys("3")
    assert note.text == (
        "250\u00d7250 = 62,500 pixels: more than the 40,000 pixels made at once, "
        "so it runs as a job"
    )
    screenshot(browser, "mosaic-job-form")
    # the service would refuse it at once, with the limit in its words
    refused = requests.get(
        f"{url}/mosaic/sync",
        params={"CRVAL": "150.095 2.225", "WIDTH": 250, "HEIGHT": 250, "PIXSCALE": 0.0002},
        headers={"Authorization": f"Bearer {carol}"},
        timeout=60,
    )
    assert refused.status_code == 400
    assert "exceeds the limit of 40000 pixels" in refused.text

    form.find_element("id", "mosaic-make").click()
    phases = set()

    def ended() -> bool:
        phase = by_css(browser, "#mosaic-job-phase")[0].text
        phases.add(phase)
        return phase in ("COMPLETED", "ERROR", "ABORTED")

    wait_for(ended, seconds=150, what="the mosaic job's end")
    job_id = by_css(browser, "#mosaic-job-id")[0].text
    assert by_css(browser, "#mosaic-job-phase")[0].text == "COMPLETED", by_css(
        browser, "#mosaic-status"
    )[0].text
    assert phases & {"QUEUED", "EXECUTING"}, "the job's progress was shown while it ran"
    counts = by_css(browser, "#mosaic-job-counts")[0].text
    assert counts.endswith("steps done (100 %)"), counts
    bar = by_css(browser, "#mosaic-job-progress")[0]
    assert bar.get_attribute("value") == bar.get_attribute("max") != "1"
    status = wait_for(
        lambda: (
            "made by job" in by_css(browser, "#mosaic-status")[0].text
            and by_css(browser, "#mosaic-status")[0].text
        ),
        what="the result",
    )
    assert status == f"250\u00d7250 pixels, TAN, made by job {job_id}"
    preview = by_css(browser, "#mosaic-preview")[0]
    wait_for(lambda: preview.get_attribute("naturalWidth") not in ("0", None), what="the preview")
    assert int(preview.get_attribute("naturalWidth")) == 250
    screenshot(browser, "mosaic-job-done")
    assert job_phase(f"{url}/mosaic/{job_id}", carol) == "COMPLETED"
    by_css(browser, "#mosaic-fits")[0].click()
    saved = wait_for(lambda: list(downloads.glob("mosaic*.fits")), seconds=60, what="the FITS")
    data = wait_for(lambda: saved[0].read_bytes() if saved[0].stat().st_size else b"")
    with fits.open(io.BytesIO(data)) as mosaic:
        assert mosaic[0].data.shape == (250, 250)
        assert "COVERAGE" in mosaic
        centre = WCS(mosaic[0].header).all_pix2world([[124.5, 124.5]], 0)[0]
        assert centre == pytest.approx([150.095, 2.225], abs=0.72 / 3600)


def preview_pixels(browser: Any) -> Any:
    """The mosaic preview's pixels as the page shows them, an RGB array."""
    width, height, rgba = browser.execute_script(
        "const img = document.getElementById('mosaic-preview');"
        "const c = document.createElement('canvas'); c.width = img.naturalWidth;"
        "c.height = img.naturalHeight; const g = c.getContext('2d'); g.drawImage(img, 0, 0);"
        "return [c.width, c.height, Array.from(g.getImageData(0, 0, c.width, c.height).data)];"
    )
    return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[..., :3].astype(int)


def test_a_colour_mosaic_of_three_bands_is_made_at_once_or_as_a_job_and_saved_as_png(
    browser: Any, small_sync_gateway: str, downloads: Path
) -> None:
    browser.get(f"{small_sync_gateway}/ui/#mosaic")
    sign_in(browser, "carol@example.org")
    form = by_css(browser, "#mosaic-form")[0]
    from selenium.webdriver.support.select import Select

    form.find_element("name", "position").send_keys(f"{TARGET[0]} {TARGET[1]}")
    form.find_element("name", "collection").send_keys("calexp")
    for name, value in (("width", "0.48"), ("height", "0.48"), ("pixscale", "0.144")):
        field = form.find_element("name", name)
        field.clear()
        field.send_keys(value)
    Select(form.find_element("name", "background")).select_by_visible_text("match")
    Select(form.find_element("name", "color")).select_by_value("rgb")
    red = form.find_element("name", "red")
    wait_for(lambda: red.get_attribute("value") == "i", what="the colour bands' filters")
    assert not form.find_element("name", "band").is_displayed()
    # two bands alike: the page says so before asking the service
    Select(form.find_element("name", "green")).select_by_visible_text("i")
    form.find_element("id", "mosaic-make").click()
    status = by_css(browser, "#mosaic-status")[0]
    wait_for(lambda: "three different bands" in status.text, what="the refusal")
    Select(form.find_element("name", "green")).select_by_visible_text("r")
    # in any order of the menus, the service shows the reddest red, and the page says so
    Select(form.find_element("name", "red")).select_by_visible_text("g")
    Select(form.find_element("name", "blue")).select_by_visible_text("i")
    form.find_element("id", "mosaic-make").click()
    wait_for(lambda: "red" in status.text, seconds=120, what="the colour preview")
    assert status.text == "200\u00d7200 pixels, TAN, i red, r green, g blue"
    image = preview_pixels(browser)
    assert image.shape == (200, 200, 3)
    assert (image[..., 0] != image[..., 1]).mean() > 0.2  # in colour, not grey
    screenshot(browser, "mosaic-colour")
    save = by_css(browser, "#mosaic-fits")[0]
    assert save.text == "Download mosaic.png"  # a colour mosaic is its preview
    save.click()
    saved = wait_for(lambda: list(downloads.glob("mosaic*.png")), what="the PNG download")
    data = wait_for(lambda: saved[0].read_bytes() if saved[0].stat().st_size else b"")
    assert data.startswith(b"\x89PNG")

    # larger than this deployment makes at once: a colour job, followed to its preview
    field = form.find_element("name", "width")
    field.clear()
    field.send_keys("1")
    note = by_css(browser, "#mosaic-size")[0].text
    assert note.startswith("417\u00d7200 = 83,400 pixels: more than the 40,000"), note
    form.find_element("id", "mosaic-make").click()
    wait_for(lambda: "made by job" in status.text, seconds=180, what="the colour job")
    job_id = by_css(browser, "#mosaic-job-id")[0].text
    assert status.text == f"417\u00d7200 pixels, TAN, i red, r green, g blue, made by job {job_id}"
    preview = by_css(browser, "#mosaic-preview")[0]
    wait_for(lambda: preview.get_attribute("naturalWidth") == "417", what="the job's preview")
    image = preview_pixels(browser)
    assert image.shape == (200, 417, 3)
    assert (image[..., 0] != image[..., 1]).mean() > 0.2
    assert by_css(browser, "#mosaic-fits")[0].text == "Download mosaic.png"
    screenshot(browser, "mosaic-colour-job")


def row_cells(browser: Any, job_id: str) -> list[str] | None:
    """The texts of a job's My jobs row, read at once (the row is rebuilt as the job moves)."""
    cells: list[str] | None = browser.execute_script(
        "const row = [...document.querySelectorAll('#jobs-table tbody tr')]"
        "  .find((r) => r.cells[0].textContent === arguments[0]);"
        "return row ? [...row.cells].map((c) => c.textContent.trim()) : null;",
        job_id,
    )
    return cells


def click_in_row(browser: Any, job_id: str, label: str) -> None:
    """Press a button of a job's row, found and pressed at once."""
    pressed = browser.execute_script(
        "const row = [...document.querySelectorAll('#jobs-table tbody tr')]"
        "  .find((r) => r.cells[0].textContent === arguments[0]);"
        "const b = row && [...row.querySelectorAll('button')].find("
        "  (b) => b.textContent === arguments[1]);"
        "if (b) b.click(); return Boolean(b);",
        job_id,
        label,
    )
    assert pressed, f"no {label} button for {job_id}"


def test_a_running_mosaic_job_shows_its_progress_in_my_jobs_and_is_aborted_there(
    browser: Any, small_sync_gateway: str, stack: Any
) -> None:
    dave = "dave@example.org"
    # 1001 x 1001 in tiles of 96: hundreds of steps, so it is still running when aborted
    job_url = create_mosaic_job(small_sync_gateway, dave, stack, PIXSCALE="0.00005", PHASE="RUN")
    job_id = job_url.rsplit("/", 1)[-1]
    browser.get(f"{small_sync_gateway}/ui/")
    sign_in(browser, dave)
    by_css(browser, "nav button[data-page=jobs]")[0].click()
    first = wait_for(lambda: row_cells(browser, job_id), what="dave's job")
    assert first[1] == "mosaic"
    assert first[3] in ("QUEUED", "EXECUTING")
    # its progress moves on the page by itself, without a refresh
    moved = wait_for(
        lambda: (
            (cells := row_cells(browser, job_id))
            and cells[3] == "EXECUTING"
            and cells[5] != first[5]
            and cells
        ),
        what="the progress to move",
    )
    done, total = (int(n) for n in moved[5].split("/"))
    assert 0 < done < total
    click_in_row(browser, job_id, "Abort")
    wait_for(
        lambda: (cells := row_cells(browser, job_id)) and cells[3] == "ABORTED",
        what="the aborted job",
    )
    assert job_phase(job_url, dave) == "ABORTED"
    row = row_of(browser, job_id)
    assert row.find_elements("xpath", ".//button[text()='Abort']") == []
    done, total = (int(n) for n in row.find_elements("css selector", "td")[5].text.split("/"))
    assert done < total
    screenshot(browser, "my-jobs-aborted")


def test_run_as_a_job_makes_a_job_of_any_mosaic_and_its_panel_aborts_it(
    browser: Any, base_url: str
) -> None:
    browser.get(f"{base_url}/ui/#mosaic")
    form = by_css(browser, "#mosaic-form")[0]
    form.find_element("name", "position").send_keys("150.095 2.225")
    for name, value in (("width", "5"), ("height", "5"), ("pixscale", "0.36")):
        field = form.find_element("name", name)
        field.clear()
        field.send_keys(value)
    note = by_css(browser, "#mosaic-size")[0]
    # 833 x 833: this deployment would make it at once; the button asks for a job
    wait_for(lambda: note.text.endswith("made at once, or run as a job"), what="the size line")
    form.find_element("id", "mosaic-run-job").click()
    phase = by_css(browser, "#mosaic-job-phase")[0]
    wait_for(lambda: phase.text == "EXECUTING", seconds=90, what="the job running")
    job_id = by_css(browser, "#mosaic-job-id")[0].text
    by_css(browser, "#mosaic-job-abort")[0].click()
    wait_for(lambda: phase.text == "ABORTED", what="the job aborted")
    status = by_css(browser, "#mosaic-status")[0]
    assert status.text == f"Mosaic job {job_id} was aborted."
    assert "error" in (status.get_attribute("class") or "")
    assert not by_css(browser, "#mosaic-job-abort")[0].is_displayed()
    assert not by_css(browser, "#mosaic-fits")[0].is_displayed()
    assert requests.get(f"{base_url}/mosaic/{job_id}/phase", timeout=30).text == "ABORTED"
