"""Load the vendored IVOA XML Schemas, offline, for validating skycut's XML.

The schemas are not part of the package: they are test data of the repository,
``tests/data/ivoa-xsd`` (official copies, unmodified; or wherever
``SKYCUT_XSD_DIR`` points), and import each other by absolute
``http://www.ivoa.net/...`` URLs.
An lxml resolver built from that folder's OASIS ``catalog.xml`` serves those
URLs from disk, and the parser refuses the network, so nothing is fetched.
Only the tests use this module; the service does not validate at run time.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Literal

from lxml import etree

__all__ = ["SchemaName", "load_schema", "xsd_dir"]

SchemaName = Literal["uws", "availability", "capabilities", "votable"]

_CATALOG_NS = "urn:oasis:names:tc:entity:xmlns:xml:catalog"

_SCHEMA_FILES: dict[SchemaName, str] = {
    "uws": "UWS-v1.1.xsd",
    "availability": "VOSIAvailability-v1.0.xsd",
    # VOTable 1.4's schema also accepts version="1.3" documents
    "votable": "VOTable-v1.4.xsd",
}

# A capabilities document with xsi:type="vod:ParamHTTP" needs VOSICapabilities
# and VODataService in one schema set; this driver imports both by the URLs
# the catalog maps.
_CAPABILITIES_BUNDLE = b"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
           targetNamespace="urn:skycut:capabilities-bundle">
  <xs:import namespace="http://www.ivoa.net/xml/VOSICapabilities/v1.0"
             schemaLocation="http://www.ivoa.net/xml/VOSICapabilities/v1.0"/>
  <xs:import namespace="http://www.ivoa.net/xml/VODataService/v1.1"
             schemaLocation="http://www.ivoa.net/xml/VODataService/v1.1"/>
</xs:schema>
"""


def xsd_dir() -> Path:
    """Return the folder holding the vendored XSDs and their ``catalog.xml``.

    Returns
    -------
    path
        ``$SKYCUT_XSD_DIR`` if set, else ``<repo>/tests/data/ivoa-xsd``, where
        ``<repo>`` is the nearest parent of this file with a ``pyproject.toml``.

    Raises
    ------
    FileNotFoundError
        If the folder has no ``catalog.xml``.

    """
    configured = os.environ.get("SKYCUT_XSD_DIR")
    if configured:
        path = Path(configured)
    else:
        here = Path(__file__).resolve()
        repo = next((p for p in here.parents if (p / "pyproject.toml").is_file()), None)
        if repo is None:
            msg = f"no pyproject.toml above {here}; set SKYCUT_XSD_DIR"
            raise FileNotFoundError(msg)
        path = repo / "tests" / "data" / "ivoa-xsd"
    if not (path / "catalog.xml").is_file():
        msg = f"no catalog.xml in {path}; set SKYCUT_XSD_DIR to the vendored XSD folder"
        raise FileNotFoundError(msg)
    return path


class _CatalogResolver(etree.Resolver):
    """Serve the URLs listed in an OASIS catalog from local files."""

    def __init__(self, catalog: Path) -> None:
        super().__init__()
        self._map: dict[str, Path] = {}
        root = etree.parse(str(catalog)).getroot()
        for entry in root.iter(f"{{{_CATALOG_NS}}}uri", f"{{{_CATALOG_NS}}}system"):
            key = entry.get("name") or entry.get("systemId")
            target = entry.get("uri")
            if key and target:
                self._map[key] = catalog.parent / target

    # lxml-stubs declares resolve() without ``context``; the runtime passes it.
    def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:
        """Return the local copy of ``system_url``, or None to let lxml fail."""
        path = self._map.get(system_url) or self._map.get(system_url.rstrip("/"))
        if path is None:
            return None
        return self.resolve_file(path.open("rb"), context, base_url=str(path), close=True)


@functools.cache
def load_schema(name: SchemaName) -> etree.XMLSchema:
    """Compile one of the vendored schemas without touching the network.

    Parameters
    ----------
    name
        ``uws`` (UWS 1.1), ``availability`` (VOSI availability),
        ``capabilities`` (VOSI capabilities with VODataService, for
        ``vod:ParamHTTP``) or ``votable`` (VOTable 1.4, for DALI errors).

    Returns
    -------
    schema
        The compiled schema; it is cached, so callers share one instance.

    Raises
    ------
    FileNotFoundError
        If the XSD folder cannot be found (see :func:`xsd_dir`).
    lxml.etree.XMLSchemaParseError
        If a schema or one of its imports cannot be loaded.

    """
    folder = xsd_dir()
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False)
    parser.resolvers.add(_CatalogResolver(folder / "catalog.xml"))
    if name == "capabilities":
        root = etree.fromstring(
            _CAPABILITIES_BUNDLE, parser, base_url=str(folder / "capabilities-bundle.xsd")
        )
        return etree.XMLSchema(root.getroottree())
    return etree.XMLSchema(etree.parse(str(folder / _SCHEMA_FILES[name]), parser))
