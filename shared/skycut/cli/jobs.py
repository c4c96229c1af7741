"""The CLI's view of jobs: submit, follow, list, download — over the SODA/UWS API."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
from lxml import etree

from skycut.bulk.drops import DropObject, bulk_job_id
from skycut.cli.config import Target

__all__ = ["JobState", "JobsClient"]

_NS = {
    "uws": "http://www.ivoa.net/xml/UWS/v1.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "p": "https://skycut.dev/xml/progress/v1",
}
_FINAL = {"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"}


@dataclass(frozen=True, slots=True)
class JobState:
    """What the job document says."""

    job_id: str
    phase: str
    total: int | None
    done: int
    failed: int
    results: dict[str, str]
    error: str | None

    @property
    def finished(self) -> bool:
        """Whether the job has ended."""
        return self.phase in _FINAL


def _state(doc: etree._Element) -> JobState:
    progress = doc.find("uws:jobInfo/p:progress", namespaces=_NS)

    def count(name: str) -> int | None:
        return None if progress is None else int(progress.findtext(f"p:{name}", "0", _NS))

    return JobState(
        job_id=doc.findtext("uws:jobId", "", _NS),
        phase=doc.findtext("uws:phase", "", _NS),
        total=count("total"),
        done=count("done") or 0,
        failed=count("failed") or 0,
        results={
            r.get("id", ""): r.get(f"{{{_NS['xlink']}}}href", "")
            for r in doc.findall("uws:results/uws:result", _NS)
        },
        error=doc.findtext("uws:errorSummary/uws:message", None, _NS),
    )


class JobsClient:
    """Talks to one skycut service."""

    def __init__(
        self, target: Target, *, session: requests.Session | None = None, tree: str = "async"
    ) -> None:
        self._target = target
        self._http = session or requests.Session()
        self._http.headers.update(target.headers())
        self._tree = tree  # the job list: async (cutouts) or mosaic

    def job_url(self, job_id: str) -> str:
        """URL of a job."""
        return f"{self._target.url}/{self._tree}/{job_id}"

    def submit_mosaic(self, pairs: list[tuple[str, str]], *, template: Path | None) -> str:
        """Create and run a mosaic job of ``pairs`` (and a ``TEMPLATE`` file); return its id."""
        data = [*pairs, ("PHASE", "RUN")]
        url = f"{self._target.url}/mosaic"
        if template is None:
            response = self._http.post(url, data=data, allow_redirects=False, timeout=300)
        else:
            with template.open("rb") as f:
                response = self._http.post(
                    url, data=data, files={"TEMPLATE": (template.name, f)},
                    allow_redirects=False, timeout=300,
                )  # fmt: skip
        _check(response, 303)
        return str(response.headers["Location"]).rstrip("/").rsplit("/", 1)[-1]

    def submit_api(self, path: Path, options: Mapping[str, str]) -> str:
        """POST the file as a bulk job through the API; return the job id."""
        with path.open("rb") as f:
            response = self._http.post(
                f"{self._target.url}/async",
                files={"BULK": (path.name, f)},
                data=dict(options),
                allow_redirects=False,
                timeout=300,
            )
        _check(response, 303)
        return str(response.headers["Location"]).rstrip("/").rsplit("/", 1)[-1]

    def submit_drop(self, path: Path, options: Mapping[str, str], *, owner: str) -> str:
        """Upload the file to ``incoming/<owner>/`` of the drop bucket; return the job id."""
        from google.cloud import storage  # type: ignore[attr-defined]

        if not self._target.drop_bucket:
            raise SystemExit("skycut: no drop bucket: pass --drop-bucket or set SKYCUT_DROP_BUCKET")
        blob = (
            storage.Client().bucket(self._target.drop_bucket).blob(f"incoming/{owner}/{path.name}")
        )
        blob.metadata = dict(options)
        blob.upload_from_filename(str(path))
        return bulk_job_id(DropObject(self._target.drop_bucket, blob.name, str(blob.generation)))

    def state(self, job_id: str, *, wait: float | None = None) -> JobState | None:
        """Return the job's state, or None if it does not exist (yet)."""
        params = {"WAIT": str(wait)} if wait else None
        response = self._http.get(self.job_url(job_id), params=params, timeout=60)
        if response.status_code == 404:
            return None
        _check(response, 200)
        return _state(etree.fromstring(response.content))

    def follow(
        self,
        job_id: str,
        on_change: Callable[[JobState], None],
        *,
        timeout: float,
        poll: float = 1.0,
    ) -> JobState | None:
        """Report the job's state as it changes until it ends or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        last = None
        state = None
        while time.monotonic() < deadline:
            state = self.state(job_id)
            if state is not None and state != last:
                on_change(state)
                last = state
            if state is not None and state.finished:
                return state
            time.sleep(poll)
        return state

    def list(self, *, phases: list[str], last: int | None) -> list[tuple[str, str, str]]:
        """Return ``(job id, phase, creation time)`` of the caller's jobs, newest first."""
        params: list[tuple[str, str]] = [("PHASE", p) for p in phases]
        if last:
            params.append(("LAST", str(last)))
        response = self._http.get(f"{self._target.url}/async", params=params, timeout=60)
        _check(response, 200)
        doc = etree.fromstring(response.content)
        return [
            (
                ref.get("id", ""),
                ref.findtext("uws:phase", "", _NS),
                ref.findtext("uws:creationTime", "", _NS),
            )
            for ref in doc.findall("uws:jobref", _NS)
        ]

    def download(self, url: str, folder: Path, *, name: str) -> tuple[Path, int]:
        """Download one result into ``folder``; return where it went and its size.

        The file is named as the stored object the result URL leads to
        (``cutout-000001.fits``, ``manifest.csv``, ``package.zip``...), or
        ``name`` when that URL has no usable last segment.
        """
        with self._http.get(url, stream=True, timeout=300) as response:
            _check(response, 200)
            stored = unquote(urlsplit(response.url).path.rsplit("/", 1)[-1])
            path = folder / (stored if stored and stored not in (".", "..") else name)
            size = 0
            with path.open("wb") as f:
                for chunk in response.iter_content(1 << 20):
                    f.write(chunk)
                    size += len(chunk)
        return path, size

    def abort(self, job_id: str) -> None:
        """Abort the job."""
        response = self._http.post(
            f"{self.job_url(job_id)}/phase",
            data={"PHASE": "ABORT"},
            allow_redirects=False,
            timeout=60,
        )
        _check(response, 303)


def _check(response: requests.Response, expected: int) -> None:
    if response.status_code != expected:
        raise SystemExit(
            f"skycut: {response.request.method} {response.url} answered "
            f"{response.status_code}: {response.text.strip()[:500]}"
        )
