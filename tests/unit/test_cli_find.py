"""``skycut find`` against a local HTTP server answering with SIA 2.0 VOTables built here."""

from __future__ import annotations

import csv
import io
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from astropy.io import votable
from astropy.io.votable.tree import Field, Info, Resource, TableElement, VOTableFile

from skycut.cli.find import band_label
from skycut.cli.main import main
from skycut.cli.sia import POINT_RADIUS, ImageSearch
from skycut.index.bands import DEFAULT_FILTERS

# (name, datatype, arraysize) of the ObsCore columns an SIA 2.0 response carries
OBSCORE = [
    ("dataproduct_type", "char", "*"),
    ("calib_level", "int", None),
    ("obs_collection", "char", "*"),
    ("obs_id", "char", "*"),
    ("obs_publisher_did", "char", "*"),
    ("access_url", "char", "*"),
    ("access_format", "char", "*"),
    ("access_estsize", "long", None),
    ("target_name", "char", "*"),
    ("s_ra", "double", None),
    ("s_dec", "double", None),
    ("s_fov", "double", None),
    ("s_region", "double", "*"),
    ("s_resolution", "double", None),
    ("s_xel1", "long", None),
    ("s_xel2", "long", None),
    ("t_min", "double", None),
    ("t_max", "double", None),
    ("t_exptime", "double", None),
    ("t_resolution", "double", None),
    ("t_xel", "long", None),
    ("em_min", "double", None),
    ("em_max", "double", None),
    ("em_res_power", "double", None),
    ("em_xel", "long", None),
    ("o_ucd", "char", "*"),
    ("pol_states", "char", "*"),
    ("pol_xel", "long", None),
    ("facility_name", "char", "*"),
    ("instrument_name", "char", "*"),
]


def image(name: str, *, t_min: float | None, band: str | None, collection: str) -> dict[str, Any]:
    em = DEFAULT_FILTERS[band] if band else (None, None)
    return {
        "dataproduct_type": "image",
        "calib_level": 2,
        "obs_collection": collection,
        "obs_id": f"sample/{name}",
        "obs_publisher_did": f"gs://skycut-sources/sample/{name}",
        "access_url": f"http://service/links?ID=gs://skycut-sources/sample/{name}",
        "access_format": "application/x-votable+xml;content=datalink",
        "access_estsize": 1234,
        "s_ra": 150.1,
        "s_dec": 2.2,
        "s_fov": 0.0912,
        "s_region": np.array([150.0, 2.1, 150.2, 2.1, 150.2, 2.3, 150.0, 2.3]),
        "s_resolution": 0.2,
        "s_xel1": 400,
        "s_xel2": 300,
        "t_min": t_min,
        "t_max": None if t_min is None else t_min + 30 / 86400,
        "t_exptime": 30.0,
        "em_min": em[0],
        "em_max": em[1],
        "facility_name": "Rubin",
    }


def obscore_votable(
    rows: list[dict[str, Any]],
    *,
    status: str = "OK",
    message: str | None = None,
    serialization: str = "tabledata",
) -> bytes:
    """An SIA 2.0 response: a results RESOURCE with QUERY_STATUS, rows of ObsCore columns."""
    document = VOTableFile()
    resource = Resource(type="results")
    document.resources.append(resource)
    info = Info(name="QUERY_STATUS", value=status)
    info.content = message
    resource.infos.append(info)
    if status != "ERROR":
        table = TableElement(document)
        resource.tables.append(table)
        for name, datatype, arraysize in OBSCORE:
            table.fields.append(Field(document, name=name, datatype=datatype, arraysize=arraysize))
        table.create_arrays(len(rows))
        for k, row in enumerate(rows):
            for name, datatype, arraysize in OBSCORE:
                value = row.get(name)
                numbers = arraysize is not None and datatype != "char"
                if value is None:
                    table.array.mask[name][k] = True
                    if datatype == "char":
                        table.array.data[name][k] = ""
                if numbers:  # a variable-length cell is a masked array of its own
                    cell = np.asarray([] if value is None else value, dtype=float)
                    table.array.data[name][k] = np.ma.array(cell, mask=np.zeros(cell.shape, bool))
                elif value is not None:
                    table.array[name][k] = value
    out = io.BytesIO()
    document.to_xml(out, tabledata_format=serialization)
    return out.getvalue()


@dataclass
class Service:
    """What the fake service answers, and what it was asked."""

    url: str = ""
    status: int = 200
    body: bytes = b""
    content_type: str = "application/x-votable+xml"
    queries: list[list[tuple[str, str]]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def service() -> Iterator[Service]:
    answer = Service()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            answer.paths.append(parts.path)
            answer.queries.append(parse_qsl(parts.query, keep_blank_values=True))
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    answer.url = f"http://127.0.0.1:{server.server_port}/api/image/soda"
    try:
        yield answer
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def find(service: Service, *args: str) -> int:
    return main(["--url", service.url, "find", *args])


THREE = [
    image("calexp-r-0002.fits", t_min=61042.5, band="r", collection="calexp"),
    image("deepcoadd-r.fits", t_min=None, band="r", collection="deepcoadd"),
    image("calexp-g-0001.fits", t_min=61041.25, band="g", collection="calexp"),
]


def test_the_query_is_sia_parameters_on_the_service_sia_endpoint(service: Service) -> None:
    service.body = obscore_votable([])
    status = find(
        service,
        "150.1",
        "2.2",
        "--band",
        "r",
        "--time",
        "2026-01-01",
        "61042.5",
        "--collection",
        "calexp",
        "--collection",
        "deepcoadd",
        "--maxrec",
        "5",
    )
    assert status == 0
    assert service.paths == ["/api/image/soda/sia/query"]
    query = service.queries[0]
    assert query[0] == ("POS", f"CIRCLE 150.1 2.2 {POINT_RADIUS!r}")
    band = [v for k, v in query if k == "BAND"]
    lo, hi = map(float, band[0].split())
    r_lo, r_hi = DEFAULT_FILTERS["r"]
    # the filter's centre: its edges touch g's and i's, which its whole range would find
    assert lo == hi == pytest.approx((r_lo + r_hi) / 2)
    assert [v for k, v in query if k == "TIME"] == ["61041.0 61042.5"]
    assert [v for k, v in query if k == "COLLECTION"] == ["calexp", "deepcoadd"]
    assert [v for k, v in query if k == "MAXREC"] == ["5"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        (ImageSearch(ra=10.0, dec=-5.0, radius=0.5), [("POS", "CIRCLE 10.0 -5.0 0.5")]),
        (
            ImageSearch(
                ra=0.0, dec=0.0, radius=1.0, band=(5e-7, math.inf), time=(60000.0, 60000.0)
            ),
            [("POS", "CIRCLE 0.0 0.0 1.0"), ("BAND", "5e-07 +Inf"), ("TIME", "60000.0 60000.0")],
        ),
    ],
)
def test_search_parameters(search: ImageSearch, expected: list[tuple[str, str]]) -> None:
    assert search.params() == expected


def test_table_lists_covering_images_by_time(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service.body = obscore_votable(THREE)
    assert find(service, "150.1", "2.2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "ID",
        "collection",
        "band",
        "date",
        "(UTC)",
        "MJD",
        "fov",
        "(deg)",
        "pixels",
    ]
    rows = [line.split() for line in lines[1:-1]]
    assert [r[0] for r in rows] == [
        "gs://skycut-sources/sample/calexp-g-0001.fits",
        "gs://skycut-sources/sample/calexp-r-0002.fits",
        "gs://skycut-sources/sample/deepcoadd-r.fits",  # no time: last
    ]
    assert rows[0][1:] == [
        "calexp",
        "g",
        "2026-01-01",
        "06:00:00",
        "61041.25000",
        "0.0912",
        "400x300",
    ]
    assert rows[1][2:5] == ["r", "2026-01-02", "12:00:00"]
    assert rows[2][1:] == ["deepcoadd", "r", "0.0912", "400x300"]
    assert lines[-1] == "3 images"


@pytest.mark.parametrize("serialization", ["tabledata", "binary2"])
def test_csv_has_every_column_sorted_by_time(
    service: Service, capsys: pytest.CaptureFixture[str], serialization: str
) -> None:
    service.body = obscore_votable(THREE, serialization=serialization)
    assert find(service, "150.1", "2.2", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == [name for name, _, _ in OBSCORE]
    assert [r["obs_id"] for r in rows] == [
        "sample/calexp-g-0001.fits",
        "sample/calexp-r-0002.fits",
        "sample/deepcoadd-r.fits",
    ]
    assert rows[0]["s_region"] == "150.0 2.1 150.2 2.1 150.2 2.3 150.0 2.3"
    assert float(rows[0]["em_min"]) == DEFAULT_FILTERS["g"][0]
    assert rows[2]["t_min"] == ""
    assert rows[0]["target_name"] == ""


def test_votable_is_the_service_answer_unchanged(
    service: Service, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    service.body = obscore_votable(THREE)
    assert find(service, "150.1", "2.2", "--format", "votable") == 0
    out = capsysbinary.readouterr().out
    assert out == service.body
    assert len(votable.parse_single_table(io.BytesIO(out)).array) == 3


def test_nothing_found_says_so(service: Service, capsys: pytest.CaptureFixture[str]) -> None:
    service.body = obscore_votable([])
    assert find(service, "10", "-80") == 0
    assert capsys.readouterr().out == "no images found\n"


def test_overflow_says_more_exist(service: Service, capsys: pytest.CaptureFixture[str]) -> None:
    service.body = obscore_votable(THREE[:2], status="OVERFLOW")
    assert find(service, "150.1", "2.2", "--maxrec", "2") == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == "2 images"
    assert "more images match than the 2 listed (raise --maxrec" in captured.err


@pytest.mark.parametrize("status", [200, 400])
def test_an_error_votable_is_reported_with_the_service_message(
    service: Service, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    service.status = status
    service.body = obscore_votable(
        [], status="ERROR", message="UsageError: POS 'CIRCLE 150 95 1': declination 95.0 ..."
    )
    assert find(service, "150.1", "2.2") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "refused the query: UsageError: POS 'CIRCLE 150 95 1'" in captured.err


def test_an_http_error_without_votable_is_reported(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service.status = 404
    service.content_type = "text/html"
    service.body = b"<html><body>Not Found</body></html>"
    assert find(service, "150.1", "2.2") == 1
    err = capsys.readouterr().err
    assert "/sia/query answered 404" in err
    assert "Not Found" in err


def test_an_unreachable_service_is_reported(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--url", "http://127.0.0.1:9/soda", "find", "1", "2"]) == 1
    assert "cannot reach http://127.0.0.1:9/soda/sia/query" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--band", "R"], "--band 'R' is neither a wavelength in metres nor a filter (u g r"),
        (["--band", "7e-7", "5e-7"], "lower bound 7e-07 is above the upper 5e-07"),
        (["--band", "1", "2", "3"], "--band takes LO HI"),
        (["--time", "yesterday"], "--time 'yesterday' is neither an MJD nor an ISO date"),
        (["--radius", "-1"], "--radius -1 is outside [0, 180]"),
    ],
)
def test_bad_arguments_are_refused_before_asking(
    service: Service, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert find(service, "150.1", "2.2", *args) == 2
    assert message in capsys.readouterr().err
    assert service.queries == []


def test_declination_out_of_range_is_refused(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    assert find(service, "150.1", "95") == 2
    assert "DEC 95 is outside [-90, 90]" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("em", "label"),
    [
        (DEFAULT_FILTERS["i"], "i"),
        (DEFAULT_FILTERS["Ks"], "Ks"),
        ((5e-7, 6e-7), "500-600 nm"),
        ((6.5625e-7, 6.5625e-7), "656.2 nm"),
        ((None, None), ""),
    ],
)
def test_band_is_named_by_its_filter_or_shown_in_nm(
    em: tuple[float | None, float | None], label: str
) -> None:
    assert band_label(*em) == label
