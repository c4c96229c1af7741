"""The local stack keeps a polling client's connection open: no request is dropped."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = pytest.mark.integration

CLIENTS = 10
POLL_SECONDS = 26.0


def _poll(url: str, *, interval: float, start: float, until: float) -> tuple[int, int, list[str]]:
    """Poll ``url`` every ``interval`` s on one connection; return polls, connections, failures."""
    failures = []
    polls = 0
    with requests.Session() as session:
        time.sleep(max(0.0, start - time.monotonic()))
        session.get(url, timeout=30).raise_for_status()
        while time.monotonic() < until:
            time.sleep(interval)
            polls += 1
            try:
                session.get(url, timeout=30).raise_for_status()
            except requests.ConnectionError as e:
                failures.append(f"poll {polls} every {interval:.4f} s: {e}")
        # connections opened to serve every poll: one, if the server kept it
        pools = session.get_adapter(url).poolmanager.pools
        # urllib3's pool container refuses iteration; keys() is its way
        connections = sum(pools[key].num_connections for key in pools.keys())  # noqa: SIM118
    return polls, connections, failures


def test_clients_polling_on_one_connection_lose_no_request(base_url):
    # Users waiting for a job poll with one requests.Session (pyvo does too). Every 2 s is
    # the worst case for functions-framework's server, whose default keep-alive of 2 s
    # closed the connection just as the next request was sent (about one in twenty failed).
    # Clients at slightly different intervals and start times cover that moment.
    url = f"{base_url}/async?LAST=1"
    now = time.monotonic()
    until = now + POLL_SECONDS
    with ThreadPoolExecutor(CLIENTS) as pool:
        runs = [
            pool.submit(_poll, url, interval=1.999 + 0.0004 * i, start=now + 0.137 * i, until=until)
            for i in range(CLIENTS)
        ]
        results = [run.result() for run in runs]
    failures = [f for _, _, fs in results for f in fs]
    assert failures == [], f"{len(failures)} of {sum(p for p, _, _ in results)} polls failed"
    assert [connections for _, connections, _ in results] == [1] * CLIENTS
