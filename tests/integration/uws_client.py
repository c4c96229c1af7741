"""A tiny UWS client for the tests: create, run, wait, parse."""

from __future__ import annotations

from typing import Any

import requests
from lxml import etree

from skycut.xsd import load_schema

NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0", "xlink": "http://www.w3.org/1999/xlink"}


def valid_xml(response: requests.Response, schema: str = "uws") -> Any:
    """Parse a 200 XML response and assert it validates against ``schema``."""
    assert response.status_code == 200, (response.status_code, response.text)
    doc = etree.fromstring(response.content)
    checker = load_schema(schema)  # type: ignore[arg-type]
    assert checker.validate(doc), checker.error_log
    return doc


def create_job(http: requests.Session, base_url: str, data: Any, **kwargs: Any) -> str:
    """POST a new job; return its URL."""
    response = http.post(
        f"{base_url}/async", data=data, allow_redirects=False, timeout=30, **kwargs
    )
    assert response.status_code == 303, response.text
    return str(response.headers["Location"])


def phase_of(doc: Any) -> str:
    """The phase in a job document."""
    return str(doc.findtext("uws:phase", namespaces=NS))


def wait_until(
    http: requests.Session, job_url: str, phases: set[str], *, seconds: float = 60, **kwargs: Any
) -> Any:
    """Long-poll the job until its phase is one of ``phases``."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        doc = valid_xml(http.get(job_url, params={"WAIT": 10}, timeout=30, **kwargs))
        if phase_of(doc) in phases or time.monotonic() > deadline:
            return doc
