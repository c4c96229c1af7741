"""SIA 2.0 responses: schema-valid VOTable, read alike by astropy, pyvo and STILTS, in every
serialization; ObsCore semantics on each column; DALI status and error documents."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io.votable import parse
from astropy.table import Table
from lxml import etree
from numpy.testing import assert_allclose
from pyvo.dal import DALQueryError, DALResults
from pyvo.dal.adhoc import DatalinkQuery
from pyvo.dal.sia2 import SIA2Results

from skycut.errors import (
    MultiValuedParamNotSupportedError,
    NotFoundError,
    ServiceUnavailableError,
    SkycutError,
    UsageError,
)
from skycut.index.bands import DEFAULT_FILTERS
from skycut.sia.obscore import ObsCoreRow, obscore_row
from skycut.sia.votable import sia_error_votable, sia_votable
from skycut.xsd import load_schema
from tests.unit.test_sia_select import survey

BASE = "https://images.example.org/api/image/soda"
VOT = "http://www.ivoa.net/xml/VOTable/v1.3"
NS = {"v": VOT}
SERIALIZATIONS = ("TABLEDATA", "BINARY", "BINARY2")
DATALINK_LINKS = "ivo://ivoa.net/std/DataLink#links-1.0"

# ObsCore 1.1 Appendix C (Tables 6 and 7; obs_publisher_did's UCD per its erratum):
# name -> (VOTable datatype, unit, UCD, utype without the obscore: prefix)
OBSCORE: dict[str, tuple[str, str | None, str, str]] = {
    "dataproduct_type": ("char", None, "meta.code.class", "ObsDataset.dataProductType"),
    "calib_level": ("int", None, "meta.code;obs.calib", "ObsDataset.calibLevel"),
    "obs_collection": ("char", None, "meta.id", "DataID.collection"),
    "obs_id": ("char", None, "meta.id", "DataID.observationID"),
    "obs_publisher_did": ("char", None, "meta.ref.ivoid", "Curation.publisherDID"),
    "access_url": ("char", None, "meta.ref.url", "Access.reference"),
    "access_format": ("char", None, "meta.code.mime", "Access.format"),
    "access_estsize": ("long", "kbyte", "phys.size;meta.file", "Access.size"),
    "target_name": ("char", None, "meta.id;src", "Target.name"),
    "s_ra": ("double", "deg", "pos.eq.ra",
             "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1"),
    "s_dec": ("double", "deg", "pos.eq.dec",
              "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2"),
    "s_fov": ("double", "deg", "phys.angSize;instr.fov",
              "Char.SpatialAxis.Coverage.Bounds.Extent.diameter"),
    "s_region": ("double", "deg", "pos.outline;obs.field",
                 "Char.SpatialAxis.Coverage.Support.Area"),
    "s_resolution": ("double", "arcsec", "pos.angResolution",
                     "Char.SpatialAxis.Resolution.Refval.value"),
    "s_xel1": ("long", None, "meta.number", "Char.SpatialAxis.numBins1"),
    "s_xel2": ("long", None, "meta.number", "Char.SpatialAxis.numBins2"),
    "t_min": ("double", "d", "time.start;obs.exposure",
              "Char.TimeAxis.Coverage.Bounds.Limits.StartTime"),
    "t_max": ("double", "d", "time.end;obs.exposure",
              "Char.TimeAxis.Coverage.Bounds.Limits.StopTime"),
    "t_exptime": ("double", "s", "time.duration;obs.exposure",
                  "Char.TimeAxis.Coverage.Support.Extent"),
    "t_resolution": ("double", "s", "time.resolution", "Char.TimeAxis.Resolution.Refval.value"),
    "t_xel": ("long", None, "meta.number", "Char.TimeAxis.numBins"),
    "em_min": ("double", "m", "em.wl;stat.min",
               "Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit"),
    "em_max": ("double", "m", "em.wl;stat.max",
               "Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit"),
    "em_res_power": ("double", None, "spect.resolution",
                     "Char.SpectralAxis.Resolution.ResolPower.refVal"),
    "em_xel": ("long", None, "meta.number", "Char.SpectralAxis.numBins"),
    "o_ucd": ("char", None, "meta.ucd", "Char.ObservableAxis.ucd"),
    "pol_states": ("char", None, "meta.code;phys.polarization", "Char.PolarizationAxis.stateList"),
    "pol_xel": ("long", None, "meta.number", "Char.PolarizationAxis.numBins"),
    "facility_name": ("char", None, "meta.id;instr.tel", "Provenance.ObsConfig.Facility.name"),
    "instrument_name": ("char", None, "meta.id;instr", "Provenance.ObsConfig.Instrument.name"),
}  # fmt: skip


@pytest.fixture(scope="module")
def rows() -> dict[str, ObsCoreRow]:
    return {name: obscore_row(record, base_url=BASE) for name, record in survey().items()}


def document(
    rows: dict[str, ObsCoreRow], serialization: str = "TABLEDATA", *, overflow: bool = False
) -> bytes:
    return sia_votable(
        list(rows.values()),
        overflow=overflow,
        base_url=BASE,
        serialization=serialization,  # type: ignore[arg-type]
    )


def read(doc: bytes) -> Table:
    """The results table as astropy reads it, any VOTable warning failing the test."""
    return parse(io.BytesIO(doc), verify="exception").get_first_table().to_table()


def column_values(table: Table, name: str) -> list[object]:
    """A column as plain values, None for null, so serializations compare alike."""
    values: list[object] = []
    for cell in table[name]:
        if cell is np.ma.masked:
            values.append(None)
        elif isinstance(cell, np.ndarray):
            values.append(None if cell.size == 0 else [float(v) for v in np.ma.filled(cell)])
        elif (isinstance(cell, np.floating) and math.isnan(cell)) or (
            isinstance(cell, str) and cell == ""
        ):
            values.append(None)
        else:
            values.append(cell.item() if isinstance(cell, np.generic) else cell)
    return values


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
@pytest.mark.parametrize("overflow", [False, True])
def test_response_is_valid_votable_1_4(
    rows: dict[str, ObsCoreRow], serialization: str, overflow: bool
) -> None:
    root = etree.fromstring(document(rows, serialization, overflow=overflow))
    load_schema("votable").assertValid(root)
    assert root.get("version") == "1.4"


def test_every_obscore_column_has_its_ucd_unit_utype_and_type(rows: dict[str, ObsCoreRow]) -> None:
    root = etree.fromstring(document(rows))
    fields = root.findall("v:RESOURCE[@type='results']/v:TABLE/v:FIELD", NS)
    found = {
        f.get("name"): (f.get("datatype"), f.get("unit"), f.get("ucd"), f.get("utype"))
        for f in fields
    }
    expected = {
        name: (datatype, unit, ucd, f"obscore:{utype}")
        for name, (datatype, unit, ucd, utype) in OBSCORE.items()
    }
    assert found == expected
    region = root.find("v:RESOURCE/v:TABLE/v:FIELD[@name='s_region']", NS)
    assert region is not None
    assert (region.get("arraysize"), region.get("xtype")) == ("*", "polygon")  # DALI polygon


def test_status_ok_comes_first_in_the_results_resource(rows: dict[str, ObsCoreRow]) -> None:
    root = etree.fromstring(document(rows))
    resource = root.find("v:RESOURCE[@type='results']", NS)
    assert resource is not None
    first = resource[0]
    assert (first.tag, first.get("name"), first.get("value")) == (f"{{{VOT}}}INFO", "QUERY_STATUS",
                                                                 "OK")  # fmt: skip
    statuses = resource.findall(".//v:INFO[@name='QUERY_STATUS']", NS)
    assert len(statuses) == 1
    assert SIA2Results(parse(io.BytesIO(document(rows)))).status[0] == "OK"


def test_overflow_is_the_leading_status(rows: dict[str, ObsCoreRow]) -> None:
    doc = document(rows, overflow=True)
    resource = etree.fromstring(doc).find("v:RESOURCE[@type='results']", NS)
    assert resource is not None
    assert resource[0].get("name") == "QUERY_STATUS"
    assert resource[0].get("value") == "OVERFLOW"
    results = SIA2Results(parse(io.BytesIO(doc)))
    assert results.status[0] == "OVERFLOW"
    assert len(results) == len(rows)


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_maxrec_zero_is_the_table_metadata_alone(serialization: str) -> None:
    doc = sia_votable([], overflow=True, base_url=BASE, serialization=serialization)  # type: ignore[arg-type]
    load_schema("votable").assertValid(etree.fromstring(doc))
    table = read(doc)
    assert len(table) == 0
    assert table.colnames == list(OBSCORE)
    assert SIA2Results(parse(io.BytesIO(doc))).status[0] == "OVERFLOW"


@pytest.mark.parametrize("serialization", ["BINARY", "BINARY2"])
def test_binary_serializations_hold_the_same_values_and_nulls(
    rows: dict[str, ObsCoreRow], serialization: str
) -> None:
    text = read(document(rows))
    binary = read(document(rows, serialization))
    for name in OBSCORE:
        assert column_values(binary, name) == column_values(text, name), name


def test_values_are_those_of_the_images(rows: dict[str, ObsCoreRow]) -> None:
    table = read(document(rows))
    names = list(rows)
    g = table[names.index("g")]
    assert g["obs_publisher_did"] == "gs://skycut-sources/visits/calexp-g.fits"
    assert g["obs_id"] == "visits/calexp-g.fits"
    assert g["obs_collection"] == "visits"
    assert g["access_url"] == f"{BASE}/links?ID=gs%3A%2F%2Fskycut-sources%2Fvisits%2Fcalexp-g.fits"
    assert g["access_format"] == "application/x-votable+xml;content=datalink"
    assert g["access_estsize"] == 2884  # 2,883,456 bytes
    assert_allclose([g["s_ra"], g["s_dec"]], [150.0, 2.0], atol=1e-4)  # within a pixel
    assert_allclose(g["s_resolution"], 0.36, rtol=1e-6)  # 1e-4 deg pixels
    assert (g["s_xel1"], g["s_xel2"]) == (300, 200)
    assert_allclose([g["em_min"], g["em_max"]], DEFAULT_FILTERS["g"])
    assert_allclose(g["em_res_power"], 0.476 / 0.152, rtol=1e-9)
    assert_allclose([g["t_min"], g["t_max"]], [60000.1, 60000.1 + 30 / 86400], rtol=0, atol=1e-9)
    assert (g["t_exptime"], g["t_resolution"], g["t_xel"], g["em_xel"]) == (30.0, 30.0, 1, 1)
    assert (g["facility_name"], g["instrument_name"], g["target_name"]) == (
        "Rubin", "LSSTCam", "COSMOS",
    )  # fmt: skip
    assert (g["calib_level"], g["dataproduct_type"]) == (2, "image")
    cube = table[names.index("cube")]
    assert (cube["pol_states"], cube["pol_xel"], cube["dataproduct_type"]) == ("/I/Q/", 2, "cube")


def test_unknown_values_are_null(rows: dict[str, ObsCoreRow]) -> None:
    table = read(document(rows))
    names = list(rows)
    unknown = {
        "nofilter": ["em_min", "em_max", "em_res_power", "em_xel", "t_exptime", "target_name"],
        "coadd": ["t_min", "t_max", "t_xel", "t_exptime", "t_resolution"],
        "g": ["pol_states", "pol_xel", "o_ucd"],
        "cube": ["em_min", "em_xel", "t_xel", "t_resolution"],
    }
    for image, columns in unknown.items():
        for name in columns:
            assert column_values(table[[names.index(image)]], name) == [None], (image, name)


def test_pyvo_reads_the_records_and_their_datalink(rows: dict[str, ObsCoreRow]) -> None:
    results = SIA2Results(parse(io.BytesIO(document(rows, "BINARY2"))))
    records = {record.obs_publisher_did: record for record in results}
    g = records["gs://skycut-sources/visits/calexp-g.fits"]
    assert_allclose(g.s_ra.to_value("deg"), 150.0, atol=1e-4)
    assert_allclose(g.em_min.to_value("m"), DEFAULT_FILTERS["g"][0])
    assert g.access_url == rows["g"].access_url
    assert g.t_min is not None
    assert abs(g.t_min.mjd - 60000.1) < 1e-9
    # a client may also call DataLink through the descriptor, with the row's ID
    service = results.get_adhocservice_by_ivoid(DATALINK_LINKS)
    links = DatalinkQuery.from_resource([g], service)
    assert links.baseurl == f"{BASE}/links"
    assert list(links["ID"]) == ["gs://skycut-sources/visits/calexp-g.fits"]


@pytest.mark.parametrize(
    ("error", "label"),
    [
        (UsageError("BAND '2 1': the lower bound is above the upper"), "UsageFault"),
        (MultiValuedParamNotSupportedError("MAXREC was given 2 times"), "UsageFault"),
        (ServiceUnavailableError("the index cannot be reached"), "TransientFault"),
        (NotFoundError("no such thing"), "FatalFault"),
        (SkycutError("something went wrong"), "DefaultFault"),
    ],
)
def test_errors_are_dali_error_documents_with_sia_labels(error: SkycutError, label: str) -> None:
    doc = sia_error_votable(error)
    root = etree.fromstring(doc)
    load_schema("votable").assertValid(root)
    status = root.find("v:RESOURCE[@type='results']/v:INFO[@name='QUERY_STATUS']", NS)
    assert status is not None
    assert status.get("value") == "ERROR"
    assert status.text == f"{label}: {error.message}"
    with pytest.raises(DALQueryError, match=label):
        DALResults(parse(io.BytesIO(doc)))


STILTS = shutil.which("stilts")
needs_stilts = pytest.mark.skipif(STILTS is None, reason="STILTS is not installed (apt stilts)")


def stilts(*args: str) -> subprocess.CompletedProcess[str]:
    assert STILTS is not None
    return subprocess.run([STILTS, *args], capture_output=True, text=True, timeout=120, check=False)


@needs_stilts
@pytest.mark.parametrize("overflow", [False, True])
def test_votlint_finds_nothing(rows: dict[str, ObsCoreRow], tmp_path: Path, overflow: bool) -> None:
    path = tmp_path / "response.xml"
    path.write_bytes(document(rows, overflow=overflow))
    done = stilts("votlint", f"votable={path}")
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (0, "", "")


@needs_stilts
@pytest.mark.parametrize("serialization", ["BINARY", "BINARY2"])
def test_stilts_reads_binary_streams_as_their_tabledata(
    rows: dict[str, ObsCoreRow], tmp_path: Path, serialization: str
) -> None:
    # votlint 3.4 misreads binary polygon columns (it fails on STILTS's own binary
    # output of the same table), so the binary forms are checked by reading them
    csv = {}
    for form in ("TABLEDATA", serialization):
        path = tmp_path / f"{form}.xml"
        path.write_bytes(document(rows, form))
        done = stilts("tpipe", f"in={path}", "ifmt=votable", "ofmt=csv")
        assert done.returncode == 0, done.stderr
        csv[form] = done.stdout
    assert csv[serialization] == csv["TABLEDATA"]
    assert csv["TABLEDATA"].count("\n") == len(rows) + 1


def test_rows_made_before_are_the_same_rows_and_follow_the_base_url() -> None:
    # each row's TR is kept once made: a second response, or one for another base URL,
    # must still hold every row, and its own URLs
    records = list(survey().values())
    first = read(sia_votable([obscore_row(r, base_url=BASE) for r in records], overflow=False,
                             base_url=BASE))  # fmt: skip
    again = read(sia_votable([obscore_row(r, base_url=BASE) for r in records], overflow=False,
                             base_url=BASE))  # fmt: skip
    other = "https://elsewhere.example/soda"
    moved = read(sia_votable([obscore_row(r, base_url=other) for r in records], overflow=False,
                             base_url=other))  # fmt: skip
    assert len(first) == len(again) == len(moved) == len(records)
    assert column_values(first, "obs_publisher_did") == column_values(again, "obs_publisher_did")
    assert all(str(u).startswith(BASE) for u in column_values(again, "access_url"))
    assert all(str(u).startswith(other) for u in column_values(moved, "access_url"))
    assert column_values(moved, "s_region") == column_values(first, "s_region")
