"""A headless Chromium (the distribution's, through its chromedriver) for the web page's tests.

Without ``chromium`` and ``chromium-driver`` (Debian's packages) the tests
skip and say which to install; ``make test`` installs them when it can.
Screenshots of each page go to ``.skycut/screenshots/`` (test artifacts).
The API can also be served in the test process, behind a stand-in for API
Gateway (``gateway``), with a deployment's settings of the test's own.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulators.stack import REPO

SCREENSHOTS = REPO / ".skycut" / "screenshots"
SYNC_MAX_PIXELS = 200 * 200  # the largest mosaic small_sync_gateway makes at once
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


@pytest.fixture
def gateway(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The API as deployed behind API Gateway, with a stand-in for the gateway in front."""
    yield from _behind_gateway(stack, monkeypatch, {})


@pytest.fixture
def small_sync_gateway(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """As `gateway`, in a deployment that makes mosaics of up to 200² pixels at once.

    And of up to 0.002 square degrees. Larger mosaics are jobs, planned in
    tiles of 96 pixels (as the test stack's), so a small one still has steps
    to count.
    """
    yield from _behind_gateway(
        stack,
        monkeypatch,
        {
            "SKYCUT_MOSAIC_SYNC_MAX_PIXELS": str(SYNC_MAX_PIXELS),
            "SKYCUT_MOSAIC_SYNC_MAX_AREA": "0.002",
            "SKYCUT_MOSAIC_TILE_SIZE": "96",
        },
    )


def _behind_gateway(
    stack: Any, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> Iterator[str]:
    """Serve the API with the settings ``env`` and a stand-in for API Gateway in front.

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
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app["api"] = create_app("soda_api", str(REPO / "functions" / "soda_api" / "main.py"), "http")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
