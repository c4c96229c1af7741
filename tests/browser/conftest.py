"""A headless Chromium (the distribution's, through its chromedriver) for the web page's tests.

Without ``chromium`` and ``chromium-driver`` (Debian's packages) the tests
skip and say which to install; ``make test`` installs them when it can.
Screenshots of each page go to ``.skycut/screenshots/`` (test artifacts).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.stack import REPO

SCREENSHOTS = REPO / ".skycut" / "screenshots"
_CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def _binary() -> tuple[str | None, str | None]:
    browser = next((shutil.which(b) for b in _CHROMIUM if shutil.which(b)), None)
    return browser, shutil.which("chromedriver")


@pytest.fixture(scope="session")
def browser_paths() -> tuple[str, str]:
    browser, driver = _binary()
    if browser is None or driver is None:
        pytest.skip(
            "no headless Chromium: install the distribution's packages "
            "(Debian/Ubuntu: apt-get install chromium chromium-driver)"
        )
    return browser, driver


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    """Where the browser saves what the page downloads."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(browser_paths: tuple[str, str], downloads: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = browser_paths
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.set_page_load_timeout(60)
    try:
        yield chrome
    finally:
        chrome.quit()


def screenshot(driver: object, name: str) -> Path:
    """Save the window as ``.skycut/screenshots/<name>.png`` and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path
