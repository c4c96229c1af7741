"""A latency-injecting, bandwidth-throttling HTTP proxy, and a client for it.

Run as its own process (so its threads do not share a GIL with the client
being measured)::

    python -m bench.netsim --upstream 127.0.0.1:4443 --port 8999 --delay 0.025 --bandwidth 100e6

Every request waits ``delay`` seconds before it is forwarded (the round trip
to a distant server), then its response body is sent no faster than
``bandwidth`` bytes per second (each response on its own, as one stream of
a real network is limited). Connections are kept alive. ``GET /__netsim/log``
returns the requests seen so far as JSON; ``POST /__netsim/reset`` clears them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ProxyLog", "RequestRecord", "main", "round_trips"]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RequestRecord:
    """One proxied request, as the proxy saw it.

    Attributes
    ----------
    start, end
        Arrival of the request and end of its response, seconds on the proxy's clock.
    method, path, range
        What was asked (``range`` is the ``Range`` header or empty).
    status
        The upstream status.
    nbytes
        Response body bytes sent.

    """

    start: float
    end: float
    method: str
    path: str
    range: str
    status: int
    nbytes: int


def round_trips(records: list[RequestRecord]) -> int:
    """Return how many sequential rounds the requests formed (overlapping ones count once)."""
    rounds, reach = 0, -1.0
    for r in sorted(records, key=lambda r: r.start):
        if r.start >= reach:
            rounds += 1
        reach = max(reach, r.end)
    return rounds


class ProxyLog:
    """Reads and clears a running proxy's request log."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def reset(self) -> None:
        """Forget the requests seen so far."""
        request = urllib.request.Request(f"{self.url}/__netsim/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def records(self) -> list[RequestRecord]:
        """Return the requests seen since the last reset."""
        with urllib.request.urlopen(f"{self.url}/__netsim/log", timeout=10) as response:
            return [RequestRecord(**r) for r in json.load(response)]


class _State:
    def __init__(
        self, upstream: str, delay: float, bandwidth: float, *, connect_delay: bool = False
    ) -> None:
        self.upstream = upstream
        self.connect_delay = connect_delay
        self.connections = 0
        self.delay = delay
        self.bandwidth = bandwidth
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.active = 0

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no forwarded request is in progress (its record is written)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.active == 0:
                    return
            time.sleep(0.001)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    state: _State

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; the log endpoint has the requests."""

    def do_GET(self) -> None:
        if self.path == "/__netsim/log":
            # A client may ask as soon as it has a response's last byte, before
            # the handler that sent it has written its record.
            self.state.wait_idle()
            with self.state.lock:
                body = json.dumps(self.state.records).encode()
            self._reply(200, body)
            return
        self._forward()

    def do_POST(self) -> None:
        if self.path == "/__netsim/reset":
            self._read_body()
            self.state.wait_idle()
            with self.state.lock:
                self.state.records.clear()
            self._reply(204, b"")
            return
        self._forward()

    def do_PUT(self) -> None:
        self._forward()

    def do_PATCH(self) -> None:
        self._forward()

    def do_DELETE(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _throttled(self, chunks: Iterable[bytes]) -> int:
        """Write ``chunks`` no faster than the bandwidth; return the bytes sent."""
        sent = 0
        began = time.perf_counter()
        for chunk in chunks:
            self.wfile.write(chunk)
            sent += len(chunk)
            ahead = began + sent / self.state.bandwidth - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        return sent

    def handle(self) -> None:
        """Serve one connection, after the round trip that opening it costs."""
        if self.state.connect_delay:
            time.sleep(self.state.delay)  # SYN, SYN-ACK: one round trip before the first request
            with self.state.lock:
                self.state.connections += 1
        super().handle()

    def _forward(self) -> None:
        with self.state.lock:
            self.state.active += 1
        try:
            self._forward_counted()
        finally:
            with self.state.lock:
                self.state.active -= 1

    def _forward_counted(self) -> None:
        start = time.time()
        body = self._read_body()
        time.sleep(self.state.delay)
        upstream = http.client.HTTPConnection(self.state.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = self.state.upstream
        sent = 0
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            no_body = self.command == "HEAD" or response.status in (204, 304)
            length = response.getheader("Content-Length")
            if no_body:
                data = response.read()
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif length is None:  # chunked upstream: read it all to know its length
                data = response.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                sent = self._throttled([data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)])
            else:
                # streamed as it arrives, so a large body is not held before it is sent
                self.send_header("Content-Length", length)
                self.end_headers()
                sent = self._throttled(iter(partial(response.read, _CHUNK), b""))
        finally:
            upstream.close()
        self.wfile.flush()
        record = {
            "start": start,
            "end": time.time(),
            "method": self.command,
            "path": self.path,
            "range": self.headers.get("Range", ""),
            "status": response.status,
            "nbytes": sent,
        }
        with self.state.lock:
            self.state.records.append(record)


def main(argv: list[str] | None = None) -> None:
    """Run the proxy until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True, help="host:port to forward to")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.025, help="seconds per request")
    parser.add_argument("--bandwidth", type=float, default=100e6, help="bytes/s per response")
    parser.add_argument(
        "--connect-delay", action="store_true", help="a new connection costs one delay too"
    )
    args = parser.parse_args(argv)
    state = _State(args.upstream, args.delay, args.bandwidth, connect_delay=args.connect_delay)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
