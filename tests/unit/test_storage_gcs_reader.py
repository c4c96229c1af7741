"""GcsRangeReader against a stand-in for Cloud Storage's JSON API (found via STORAGE_EMULATOR_HOST).

What a user notices: how many requests a cutout's reads cost (each one is a
round trip), and that bytes of two versions of an object are never mixed.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pytest
import requests
from astropy.io import fits
from astropy.wcs import WCS
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage  # type: ignore[attr-defined]

from skycut.config import Settings
from skycut.cutout.fitsindex import named_image, scan_fits, select_image_hdu
from skycut.cutout.reader import ReadStats
from skycut.cutout.selection import Detail
from skycut.cutout.stencil import Circle
from skycut.errors import ServiceUnavailableError, SourceChangedError, UsageError
from skycut.soda.ids import SourceRef
from skycut.soda.params import CutoutSpec, SodaRequest
from skycut.storage.gcs import GcsRangeReader
from skycut.worker.cutter import Cutter

BUCKET = "sources"
NAME = "dir/image one.fits"


@dataclass
class FakeStore:
    """One object, its generation, the requests seen, and failures to inject."""

    data: bytes = b""
    generation: int = 1
    requests: list[tuple[str, str]] = field(default_factory=list)  # (kind, Range header)
    connections: set[int] = field(default_factory=set)  # client ports seen: one per connection
    fail_with: list[int] = field(default_factory=list)  # statuses answered before the object


def _handler(store: FakeStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            media = url.path.startswith("/download/")
            store.requests.append(("media" if media else "metadata", self.headers["Range"] or ""))
            store.connections.add(self.client_address[1])
            if store.fail_with:
                self._send(store.fail_with.pop(0), b"{}")
                return
            expected = f"/b/{BUCKET}/o/{NAME}"
            if (
                unquote(url.path.removeprefix("/download/storage/v1").removeprefix("/storage/v1"))
                != expected
            ):
                self._send(404, b"{}")
                return
            wanted = query.get("generation") or query.get("ifGenerationMatch")
            if wanted is not None and int(wanted) != store.generation:
                self._send(404 if "generation" in query else 412, b"{}")
                return
            headers = {"x-goog-generation": str(store.generation)}
            if not media:
                meta = {"name": NAME, "bucket": BUCKET, "size": str(len(store.data)),
                        "generation": str(store.generation)}  # fmt: skip
                self._send(200, json.dumps(meta).encode(), headers)
                return
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers["Range"] or "")
            if match is None:
                self._send(200, store.data, headers)
                return
            start, last = int(match[1]), min(int(match[2]), len(store.data) - 1)
            if start >= len(store.data):
                self._send(416, b"")
                return
            headers["Content-Range"] = f"bytes {start}-{last}/{len(store.data)}"
            self._send(206, store.data[start : last + 1], headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStore]:
    fake = FakeStore()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _reader(generation: int | None = None) -> GcsRangeReader:
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    return GcsRangeReader(client=client, source=SourceRef(BUCKET, NAME), generation=generation)


def _single_hdu_fits() -> bytes:
    """A small image in the primary HDU: no HDU named IMAGE, so the scan reads to the end."""
    buffer = io.BytesIO()
    fits.PrimaryHDU(np.arange(100 * 120, dtype=np.float32).reshape(100, 120)).writeto(buffer)
    return buffer.getvalue()


def test_a_read_tells_the_size_and_generation_without_a_metadata_request(store: FakeStore) -> None:
    store.data, store.generation = bytes(range(256)) * 40, 7
    reader = _reader()
    assert reader.read_range(10, 20) == bytes(range(10, 20))
    assert reader.size() == 10240
    assert reader.generation == 7
    assert reader.confirm().generation == 7
    assert [kind for kind, _ in store.requests] == ["media"]
    assert store.requests[0][1] == "bytes=10-19"


def test_indexing_a_file_without_an_image_extension_is_one_request(store: FakeStore) -> None:
    store.data = _single_hdu_fits()
    index = scan_fits(_reader(), stop_after=named_image)
    assert select_image_hdu(index).index == 0
    assert index.complete
    assert [kind for kind, _ in store.requests] == ["media"]


def test_a_read_past_the_end_is_cut_short(store: FakeStore) -> None:
    store.data = b"x" * 100
    reader = _reader()
    assert reader.read_range(90, 200) == b"x" * 10
    assert reader.size() == 100


def test_a_replacement_between_reads_is_never_mixed_in(store: FakeStore) -> None:
    store.data, store.generation = b"a" * 100, 3
    reader = _reader()
    assert reader.read_range(0, 10) == b"a" * 10
    store.data, store.generation = b"b" * 100, 4
    with pytest.raises(SourceChangedError, match="generation 3"):
        reader.read_range(10, 20)


def test_a_pinned_generation_is_asked_for_and_a_gone_one_is_refused(store: FakeStore) -> None:
    store.data, store.generation = b"a" * 100, 5
    assert _reader(generation=5).read_range(0, 4) == b"aaaa"
    with pytest.raises(SourceChangedError):
        _reader(generation=4).read_range(0, 4)


def test_a_missing_object_is_the_users_error(store: FakeStore) -> None:
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    reader = GcsRangeReader(client=client, source=SourceRef(BUCKET, "nothing.fits"))
    with pytest.raises(UsageError, match="does not exist"):
        reader.read_range(0, 10)


def test_a_passing_outage_is_retried_and_a_lasting_one_is_transient(store: FakeStore) -> None:
    store.data = b"z" * 50
    store.fail_with = [503]
    assert _reader().read_range(0, 5) == b"zzzzz"
    store.fail_with = [503, 503, 503]
    with pytest.raises(ServiceUnavailableError):
        _reader().read_range(0, 5)


def test_concurrent_reads_keep_their_connections(store: FakeStore) -> None:
    """16 reads at once, three times: 16 connections opened once, none again for each round."""
    store.data = bytes(range(256)) * 64
    reader = _reader()
    gate = threading.Barrier(16, timeout=10)

    def read(i: int) -> bytes:
        gate.wait()  # all 16 in flight together
        data = reader.read_range(i * 100, i * 100 + 50)
        time.sleep(0.02)
        return data

    with ThreadPoolExecutor(16) as pool:
        for _ in range(3):
            assert list(pool.map(read, range(16))) == [
                store.data[i * 100 : i * 100 + 50] for i in range(16)
            ]
    assert len(store.requests) == 48
    assert len(store.connections) <= 16


def test_the_environment_is_read_once_per_client_not_per_request(
    store: FakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxy and CA settings are looked up for the endpoint once, not on every range GET."""
    looked_up = []
    original = requests.sessions.get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> dict[str, str]:
        looked_up.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    store.data = b"q" * 1000
    reader = _reader()
    for i in range(10):
        assert reader.read_range(i, i + 5) == b"q" * 5
    assert len(looked_up) <= 1


def _exposure_fits() -> bytes:
    """An exposure: IMAGE, MASK and VARIANCE planes of 300² pixels with a TAN WCS."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [150.5, 150.5]
    wcs.wcs.cdelt = [-0.2 / 3600, 0.2 / 3600]
    header = wcs.to_header()
    rng = np.random.default_rng(3)
    planes = [
        fits.ImageHDU(rng.normal(size=(300, 300)).astype(np.float32), header, name="IMAGE"),
        fits.ImageHDU(rng.integers(0, 8, (300, 300)).astype(np.int32), header, name="MASK"),
        fits.ImageHDU(rng.random((300, 300)).astype(np.float32), header, name="VARIANCE"),
    ]
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), *planes]).writeto(buffer)
    return buffer.getvalue()


class _NoWatch:
    def check(self, *, force: bool = False) -> None:
        """Nothing to check."""


def test_a_detail_cut_after_an_image_cut_asks_for_no_metadata(store: FakeStore) -> None:
    """The header index cached by an image-only cut says where the file ends: no size request."""
    store.data = _exposure_fits()
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    cutter = Cutter.from_settings(
        Settings(source_buckets=[BUCKET]),
        lambda source, generation: GcsRangeReader(
            client=client, source=source, generation=generation
        ),
    )
    source = SourceRef(BUCKET, NAME)

    def cut(detail: Detail, ra: float) -> fits.HDUList:
        circle = Circle(ra, 2.0, 4 / 3600)
        request = SodaRequest(sources=(source,), stencils=(circle,), detail=detail)
        spec = CutoutSpec(source=source, stencil=circle)
        cutout, _ = cutter.cut(request, spec, None, ReadStats(), _NoWatch(), None)  # type: ignore[arg-type]
        return fits.open(io.BytesIO(cutout.content))

    assert [h.name for h in cut("image", 150.0)[1:]] == ["IMAGE"]
    store.requests.clear()
    out = cut("image,mask,variance", 150.0002)
    assert [h.name for h in out[1:]] == ["IMAGE", "MASK", "VARIANCE"]
    with fits.open(io.BytesIO(store.data)) as src:
        x0, y0 = -int(out[2].header["LTV1"]), -int(out[2].header["LTV2"])
        ny, nx = out[2].data.shape
        np.testing.assert_array_equal(out[2].data, src["MASK"].data[y0 : y0 + ny, x0 : x0 + nx])
    assert [kind for kind, _ in store.requests if kind != "media"] == []
