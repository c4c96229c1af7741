"""The local stack keeps a polling client's connection open: no request is dropped."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = pytest.mark.integration

# Ten clients polling about every 2 s, where the old default keep-alive (2 s) closed the
# connection just as the next request was sent, and one idle for longer (3.5 s) than the old
# default kept any connection (its check runs each second).
INTERVALS = [1.999 + 0.0004 * i for i in range(10)] + [3.5]
POLL_SECONDS = 8.0


def _poll(
    url: str, *, interval: float, start: float, until: float
) -> tuple[int, set[int], list[str]]:
    """Poll ``url`` every ``interval`` s on one session; return polls, local ports, failures.

    A connection the server closed while idle is reopened by urllib3 without a word (from
    another local port), unless the close races the next request, which then fails.
    """
    failures = []
    ports = set()
    polls = 0

    def get(session: requests.Session) -> None:
        with session.get(url, timeout=30, stream=True) as response:
            response.raise_for_status()
            ports.add(response.raw.connection.sock.getsockname()[1])
            _ = response.content

    with requests.Session() as session:
        time.sleep(max(0.0, start - time.monotonic()))
        get(session)
        while time.monotonic() < until:
            time.sleep(interval)
            polls += 1
            try:
                get(session)
            except requests.ConnectionError as e:
                failures.append(f"poll {polls} every {interval:.4f} s: {e}")
    return polls, ports, failures


def test_clients_polling_on_one_connection_lose_no_request(base_url):
    # Users waiting for a job poll with one requests.Session (pyvo does too). Every 2 s is
    # the worst case for functions-framework's server, whose default keep-alive of 2 s
    # closed the connection just as the next request was sent (about one in twenty failed).
    # Clients at slightly different intervals and start times cover that moment. A close
    # that loses that race goes unseen (urllib3 reconnects), so each client's requests must
    # also all have gone over its first connection.
    url = f"{base_url}/async?LAST=1"
    now = time.monotonic()
    until = now + POLL_SECONDS
    with ThreadPoolExecutor(len(INTERVALS)) as pool:
        runs = [
            pool.submit(_poll, url, interval=interval, start=now + 0.137 * i, until=until)
            for i, interval in enumerate(INTERVALS)
        ]
        results = [run.result() for run in runs]
    failures = [f for _, _, fs in results for f in fs]
    assert failures == [], f"{len(failures)} of {sum(p for p, _, _ in results)} polls failed"
    reopened = {
        f"every {i:.4f} s": len(p) - 1
        for i, (_, p, _) in zip(INTERVALS, results, strict=True)
        if len(p) > 1
    }
    assert reopened == {}, "the server closed idle connections"
