"""The SIA 2.0 ``{query}`` response and error documents (SIA 2.0 §3, DALI 1.1 §4.4).

A response is a VOTable 1.4 document whose ``RESOURCE type="results"``
opens with ``INFO name="QUERY_STATUS"``: ``OK``, or ``OVERFLOW`` when
``MAXREC`` cut the result (DALI 1.1 §4.4.1 lets that leading INFO carry
the overflow, which a response built whole always knows before its
table), then the ObsCore table (:data:`skycut.sia.obscore.COLUMNS`) with
one row per image, in ``TABLEDATA`` or, on request, ``BINARY`` or
``BINARY2``. A second resource describes the DataLink ``{links}``
service with the ``ID`` taken from ``obs_publisher_did`` (SIA 2.0 asks
for it when a DataLink service exists), so clients can also call it by
that descriptor rather than by ``access_url``.

Nulls: an empty ``TD`` in ``TABLEDATA`` (VOTable 1.3 and later, any
datatype); in ``BINARY2`` the row's null flags; in ``BINARY`` NaN for
doubles, an empty array or string, and for the integer columns that may be
null the ``VALUES null`` their FIELD declares.

Errors are DALI error documents (``QUERY_STATUS`` ``ERROR``) whose text
starts with SIA 2.0's label (§3.2): ``UsageFault``, ``TransientFault``,
``FatalFault`` or ``DefaultFault``.
"""

from __future__ import annotations

import base64
import copy
import math
import struct
from collections.abc import Sequence
from functools import lru_cache

from lxml import etree

from skycut.cutout.dali import format_number
from skycut.errors import SkycutError, UsageError
from skycut.sia.obscore import COLUMNS, Column, ObsCoreRow, Value
from skycut.sia.params import Serialization
from skycut.uws.xml import VOTABLE_NS, error_votable

__all__ = ["SIA_QUERY_STANDARD", "sia_error_votable", "sia_fault", "sia_votable"]

SIA_QUERY_STANDARD = "ivo://ivoa.net/std/SIA#query-2.0"
"""The standardID of the SIA 2.0 ``{query}`` capability."""

_DATALINK_STANDARD = "ivo://ivoa.net/std/DataLink#links-1.0"
# BINARY's null of the integer columns that may be null: the type's most negative value
_INTEGER_NULL = {"int": -(2**31), "long": -(2**63)}
_ICRS = "icrs"
_ON_THE_SKY = {"s_ra", "s_dec", "s_region"}
_REFERENCED = "obs_publisher_did"  # the DataLink descriptor's ID comes from this FIELD


def _element(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{VOTABLE_NS}}}{tag}", attrs)


def _field(table: etree._Element, column: Column, *, binary_nulls: bool) -> None:
    attrs = {"name": column.name, "datatype": column.datatype, "ucd": column.ucd}
    attrs["utype"] = column.utype
    for key, value in (
        ("unit", column.unit),
        ("arraysize", column.arraysize),
        ("xtype", column.xtype),
        ("ref", _ICRS if column.name in _ON_THE_SKY else None),
        ("ID", column.name if column.name == _REFERENCED else None),
    ):
        if value is not None:
            attrs[key] = value
    field = _element(table, "FIELD", **attrs)
    _element(field, "DESCRIPTION").text = column.description
    if binary_nulls and column.nullable and column.datatype in _INTEGER_NULL:
        _element(field, "VALUES", null=str(_INTEGER_NULL[column.datatype]))


@lru_cache(maxsize=20_000)
def _numbers(values: tuple[float, ...]) -> str:
    """Return an array's TABLEDATA text; s_region's, up to 200 numbers, once per image."""
    if all(map(math.isfinite, values)):
        return " ".join(map(repr, map(float, values)))
    return " ".join(format_number(v) for v in values)


def _text(value: Value) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return _numbers(value)
    if isinstance(value, float):
        return None if math.isnan(value) else format_number(value)
    return str(value)


@lru_cache(maxsize=20_000)
def _row_element(row: ObsCoreRow) -> etree._Element:
    """Return a row's ``TR``, made once per row (an image's version at one base URL).

    Thirty ``TD`` built from Python cost ~0.05 ms a row; a copy of the kept
    element (the kept one is never put in a document) costs a tenth of that.
    """
    tr = etree.Element(f"{{{VOTABLE_NS}}}TR", nsmap={None: VOTABLE_NS})  # type: ignore[dict-item]
    td = f"{{{VOTABLE_NS}}}TD"
    for column in COLUMNS:
        etree.SubElement(tr, td).text = _text(row.value(column))
    return tr


def _tabledata(data: etree._Element, rows: Sequence[ObsCoreRow]) -> None:
    tabledata = _element(data, "TABLEDATA")
    for row in rows:
        tabledata.append(copy.copy(_row_element(row)))


def _binary_value(column: Column, value: Value) -> bytes:
    """Encode one cell as VOTable BINARY does; null as NaN, empty or VALUES null."""
    if column.datatype == "char":
        encoded = b"" if value is None else str(value).encode("utf-8")
        return struct.pack(">I", len(encoded)) + encoded
    if column.arraysize == "*":
        numbers = value if isinstance(value, tuple) else ()
        return struct.pack(f">I{len(numbers)}d", len(numbers), *numbers)
    if column.datatype == "double":
        return struct.pack(">d", math.nan if value is None else value)
    code = ">i" if column.datatype == "int" else ">q"
    return struct.pack(code, _INTEGER_NULL[column.datatype] if value is None else value)


def _stream(rows: Sequence[ObsCoreRow], *, flags: bool) -> bytes:
    """Encode the rows as a BINARY (``flags=False``) or BINARY2 stream."""
    chunks: list[bytes] = []
    for row in rows:
        values = [row.value(column) for column in COLUMNS]
        if flags:  # BINARY2: one bit per column, most significant first, set for null
            mask = bytearray((len(COLUMNS) + 7) // 8)
            for k, value in enumerate(values):
                if value is None:
                    mask[k // 8] |= 0x80 >> (k % 8)
            chunks.append(bytes(mask))
        chunks.extend(_binary_value(c, v) for c, v in zip(COLUMNS, values, strict=True))
    return b"".join(chunks)


def _datalink_descriptor(root: etree._Element, *, base_url: str) -> None:
    resource = _element(root, "RESOURCE", type="meta", utype="adhoc:service", name="links")
    for name, value in (
        ("standardID", _DATALINK_STANDARD),
        ("accessURL", f"{base_url.rstrip('/')}/links"),
    ):
        _element(resource, "PARAM", name=name, datatype="char", arraysize="*", value=value)
    group = _element(resource, "GROUP", name="inputParams")
    _element(
        group,
        "PARAM",
        name="ID",
        datatype="char",
        arraysize="*",
        value="",
        ref=_REFERENCED,
        ucd="meta.id;meta.main",
    )


def sia_votable(
    rows: Sequence[ObsCoreRow],
    *,
    overflow: bool,
    base_url: str,
    serialization: Serialization | None = None,
) -> bytes:
    """Build the response to an SIA 2.0 query.

    Parameters
    ----------
    rows
        The selected images' rows, in order (none for ``MAXREC=0``).
    overflow
        Whether ``MAXREC`` cut the result (see
        :class:`skycut.sia.select.Selection`): ``QUERY_STATUS`` is then
        ``OVERFLOW``.
    base_url
        The service's base URL; the DataLink descriptor points at
        ``<base_url>/links``.
    serialization
        ``TABLEDATA`` (the default), ``BINARY`` or ``BINARY2``.

    Returns
    -------
    bytes
        A VOTable 1.4 document, valid against VOTable-v1.4.xsd.

    """
    chosen = serialization or "TABLEDATA"
    root = etree.Element(f"{{{VOTABLE_NS}}}VOTABLE", nsmap={None: VOTABLE_NS}, version="1.4")  # type: ignore[dict-item]
    results = _element(root, "RESOURCE", type="results")
    status = _element(results, "INFO", name="QUERY_STATUS", value="OVERFLOW" if overflow else "OK")
    status.text = (
        f"{len(rows)} images; more match the query than MAXREC lets through"
        if overflow
        else f"{len(rows)} images"
    )
    _element(results, "INFO", name="standardID", value=SIA_QUERY_STANDARD)
    _element(results, "COOSYS", ID=_ICRS, system="ICRS")
    table = _element(results, "TABLE")
    for column in COLUMNS:
        _field(table, column, binary_nulls=chosen == "BINARY")
    data = _element(table, "DATA")
    if chosen == "TABLEDATA":
        _tabledata(data, rows)
    else:
        stream = _element(_element(data, chosen), "STREAM", encoding="base64")
        stream.text = base64.encodebytes(_stream(rows, flags=chosen == "BINARY2")).decode("ascii")
    _datalink_descriptor(root, base_url=base_url)
    etree.cleanup_namespaces(root)  # the rows' own declarations of the default namespace
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def sia_fault(error: SkycutError) -> str:
    """Return SIA 2.0's error label for an error.

    ``UsageFault`` for any usage error (``MultiValuedParamNotSupported``
    included), ``TransientFault`` for a back end that may recover,
    ``DefaultFault`` for an error of no particular kind, ``FatalFault``
    otherwise.
    """
    if isinstance(error, UsageError):
        return "UsageFault"
    if error.error_type == "transient":
        return "TransientFault"
    if type(error) is SkycutError:
        return "DefaultFault"
    return "FatalFault"


def sia_error_votable(error: SkycutError) -> bytes:
    """Build the DALI error document of a failed SIA query.

    Parameters
    ----------
    error
        The error; the HTTP status to answer with is its ``status_code``.

    Returns
    -------
    bytes
        A VOTable 1.4 document with ``QUERY_STATUS`` ``ERROR`` whose text is
        ``<SIA label>: <message>``, e.g. ``UsageFault: BAND ...``.

    """
    return error_votable(f"{sia_fault(error)}: {error.message}")
