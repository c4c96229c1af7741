"""The CLI's view of jobs: submit, follow, list, download — over the SODA/UWS API.

A skycut service has two UWS job lists, ``<url>/async`` (cutout jobs, bulk
files among them) and ``<url>/mosaic`` (mosaic jobs), and a job is under
one of them only. The client takes a job id alone and finds which list
holds it (asking ``async`` first, then ``mosaic``, and remembering the
answer), so every job command works on both kinds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
from lxml import etree

from skycut.bulk.drops import DropObject, bulk_job_id
from skycut.bulk.upload import OWNER_FOLDER
from skycut.cli.config import Target

__all__ = ["KINDS", "JobRef", "JobState", "JobsClient", "check_drop_owner"]

_NS = {
    "uws": "http://www.ivoa.net/xml/UWS/v1.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "p": "https://skycut.dev/xml/progress/v1",
}
_FINAL = {"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"}

KINDS = {"async": "cutout", "mosaic": "mosaic"}
"""The service's job lists (their path under the base URL) and the kind of job each holds."""


@dataclass(frozen=True, slots=True)
class JobRef:
    """One job of the caller's job lists."""

    job_id: str
    kind: str
    phase: str
    created: str


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

    def __init__(self, target: Target, *, session: requests.Session | None = None) -> None:
        self._target = target
        self._http = session or requests.Session()
        self._http.headers.update(target.headers())
        self._trees: dict[str, str] = {}  # job id -> the job list found to hold it

    def _url(self, tree: str, job_id: str) -> str:
        return f"{self._target.url}/{tree}/{job_id}"

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
        return self._created(response, "mosaic")

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
        return self._created(response, "async")

    def _created(self, response: requests.Response, tree: str) -> str:
        job_id = str(response.headers["Location"]).rstrip("/").rsplit("/", 1)[-1]
        self._trees[job_id] = tree
        return job_id

    def submit_drop(self, path: Path, options: Mapping[str, str], *, owner: str) -> str:
        """Upload the file to ``incoming/<owner>/`` of the drop bucket; return the job id.

        Raises
        ------
        SystemExit
            If there is no drop bucket, or ``owner`` is not one folder name of it.

        """
        from google.cloud import storage  # type: ignore[attr-defined]

        if not self._target.drop_bucket:
            raise SystemExit("skycut: no drop bucket: pass --drop-bucket or set SKYCUT_DROP_BUCKET")
        check_drop_owner(owner)
        blob = (
            storage.Client().bucket(self._target.drop_bucket).blob(f"incoming/{owner}/{path.name}")
        )
        blob.metadata = dict(options)
        blob.upload_from_filename(str(path))
        job_id = bulk_job_id(DropObject(self._target.drop_bucket, blob.name, str(blob.generation)))
        self._trees[job_id] = "async"
        return job_id

    def kind(self, job_id: str) -> str | None:
        """Return the kind of the caller's job (`KINDS`), or None if neither list holds it."""
        if job_id not in self._trees:
            self.state(job_id)
        tree = self._trees.get(job_id)
        return None if tree is None else KINDS[tree]

    def state(self, job_id: str, *, wait: float | None = None) -> JobState | None:
        """Return the job's state, or None if it does not exist (yet) in either job list."""
        params = {"WAIT": str(wait)} if wait else None
        known = self._trees.get(job_id)
        for tree in [known] if known else KINDS:
            response = self._http.get(self._url(tree, job_id), params=params, timeout=60)
            if response.status_code == 404:
                continue
            _check(response, 200)
            self._trees[job_id] = tree
            return _state(etree.fromstring(response.content))
        return None

    def follow(
        self,
        job_id: str,
        on_change: Callable[[JobState], None],
        *,
        timeout: float,
        appear_timeout: float | None = None,
        poll: float = 1.0,
    ) -> JobState | None:
        """Report the job's state as it changes until it ends or ``timeout`` passes.

        Parameters
        ----------
        job_id
            The job.
        on_change
            Called with each new state.
        timeout
            The longest to follow it.
        appear_timeout
            The longest to wait for a job not there yet (a dropped file's, until the bulk
            function creates it); `None` waits as long as ``timeout``.
        poll
            Seconds between two readings.

        Returns
        -------
        JobState or None
            The last state read, or `None` if the job never appeared.

        """
        start = time.monotonic()
        deadline = start + timeout
        appear_by = start + (timeout if appear_timeout is None else appear_timeout)
        last = None
        state = None
        while time.monotonic() < deadline:
            state = self.state(job_id)
            if state is None and last is None and time.monotonic() >= appear_by:
                return None
            if state is not None and state != last:
                on_change(state)
                last = state
            if state is not None and state.finished:
                return state
            time.sleep(poll)
        return state

    def list(self, *, phases: list[str], last: int | None) -> list[JobRef]:
        """Return the caller's jobs of both lists, newest first (the ``last`` newest of all)."""
        params: list[tuple[str, str]] = [("PHASE", p) for p in phases]
        if last:
            params.append(("LAST", str(last)))
        refs = []
        for tree, kind in KINDS.items():
            response = self._http.get(f"{self._target.url}/{tree}", params=params, timeout=60)
            _check(response, 200)
            for ref in etree.fromstring(response.content).findall("uws:jobref", _NS):
                job_id = ref.get("id", "")
                self._trees[job_id] = tree
                phase = ref.findtext("uws:phase", "", _NS)
                created = ref.findtext("uws:creationTime", "", _NS)
                refs.append(JobRef(job_id, kind, phase, created))
        # both lists write creationTime alike (UTC, ms, Z), so the text sorts as the time
        refs.sort(key=lambda r: r.created, reverse=True)
        return refs[:last] if last else refs

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

    def _found_url(self, job_id: str) -> str:
        """Return the URL of the caller's job, in whichever list holds it; exit if neither does."""
        if self.kind(job_id) is None:
            raise SystemExit(f"skycut: no job {job_id} (no cutout or mosaic job of yours)")
        return self._url(self._trees[job_id], job_id)

    def abort(self, job_id: str) -> None:
        """Abort the job, a cutout or a mosaic job."""
        response = self._http.post(
            f"{self._found_url(job_id)}/phase",
            data={"PHASE": "ABORT"},
            allow_redirects=False,
            timeout=60,
        )
        _check(response, 303)

    def delete(self, job_id: str) -> None:
        """Delete the job, a cutout or a mosaic job: it is aborted if running, its results go."""
        response = self._http.delete(self._found_url(job_id), allow_redirects=False, timeout=60)
        _check(response, 303)


def check_drop_owner(owner: str) -> None:
    """Refuse an owner that is not one folder name under ``incoming/`` of the drop bucket.

    The bulk function takes a dropped file's owner from the first folder after
    ``incoming/``; the name must stay that folder's (no ``/``, ``.`` or ``..``, which
    object paths resolve away) and use the characters the API keeps when it stores a
    ``BULK`` upload under its caller's folder.

    Raises
    ------
    SystemExit
        Saying what an owner may be.

    """
    if not OWNER_FOLDER.fullmatch(owner) or owner in (".", ".."):
        raise SystemExit(
            f"skycut: --owner {owner!r} cannot be a folder of incoming/ in the drop bucket: "
            "give your identity (letters, digits and @ . _ + -, not . or ..), "
            "the one the service knows you by"
        )


def _check(response: requests.Response, expected: int) -> None:
    if response.status_code != expected:
        raise SystemExit(
            f"skycut: {response.request.method} {response.url} answered "
            f"{response.status_code}: {response.text.strip()[:500]}"
        )
