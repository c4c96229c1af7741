"""What happens when a job ends: manifests and packages, then the job event.

Outputs are written *before* the job's phase changes, so a client that sees
COMPLETED finds the manifest there; writing them is idempotent (the same
results give the same files), so the rare second writer does no harm. The
worker whose compare-and-set ended the job then publishes the event and marks the
job announced; a redelivery that finds an ended, unannounced job whose lease
(`skycut.jobs.records.Announcement`) has run out announces it instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from skycut.bulk.epochs import epoch_members, epoch_packages
from skycut.bulk.manifest import manifest_csv, manifest_rows, manifest_votable
from skycut.bulk.package import archive, fits_members, fits_packages, read_ahead
from skycut.bulk.report import ERRORS_RESULT_ID, read_errors_report
from skycut.bulk.rows import BadRow
from skycut.jobs.events import JobEvents
from skycut.jobs.records import FINALIZE_LEASE, JobRecord, StoredResult, job_objects_prefix
from skycut.jobs.store import JobStore
from skycut.uws.model import FINAL_PHASES, Progress

if TYPE_CHECKING:  # its module loads the storage client library
    from skycut.storage.gcs import ResultWriter

__all__ = ["FINALIZE_LEASE", "Finalizer"]

_DEFAULT_PER_FILE = 100


class Finalizer:
    """Writes a finished job's manifests and packages and announces it.

    Parameters
    ----------
    store
        The job store (results listed, outputs attached, the announcement claimed).
    events
        Where the job's end is announced.
    results
        The results bucket (outputs written, cutouts and the errors report read).

    """

    def __init__(self, *, store: JobStore, events: JobEvents, results: ResultWriter) -> None:
        self._store = store
        self._events = events
        self._results = results

    def resume(self, record: JobRecord, *, now: datetime | None = None) -> None:
        """Announce an ended job its ending writer left unannounced (once its lease is over)."""
        if record.job.phase not in FINAL_PHASES or record.announcement.finalized:
            return
        claimed = self._store.claim_announcement(record.job.job_id, now=now or datetime.now(UTC))
        if claimed is not None:
            counted = self._store.load(record.job.job_id)  # progress with its counts
            progress = (counted or claimed).job.progress or Progress(total=0)
            manifest = next(
                (
                    r
                    for r in self._store.results(record.job.job_id)
                    if r.result_id == "manifest-csv"
                ),
                None,
            )
            url = self._result_url(record.job.job_id, manifest) if manifest else None
            self.announce(claimed, progress, manifest_url=url)

    def prepare(self, record: JobRecord) -> str | None:
        """Write an ending job's outputs (bulk manifests, packages); return the manifest URL."""
        if record.kind != "bulk":
            return None
        return self._bulk_outputs(record)

    def announce(self, record: JobRecord, progress: Progress, *, manifest_url: str | None) -> None:
        """Publish the job event and mark the job finalized."""
        self._events.announce(record, progress=progress, manifest_url=manifest_url)

    def _result_url(self, job_id: str, result: StoredResult) -> str:
        job_url = self._events.job_url(job_id)
        if job_url is not None:
            return f"{job_url}/results/{result.result_id}"
        return f"gs://{result.bucket}/{result.object_name}"

    def _bulk_outputs(self, record: JobRecord) -> str | None:
        job = record.job
        stored = self._store.results(job.job_id)
        results = [r for r in stored if r.index >= 0]
        # the manifests are written while the packages read their cutouts back
        with ThreadPoolExecutor(max_workers=1) as pool:
            manifests = pool.submit(self._manifests, job.job_id, results, stored, job.destruction)
            packages = self._packages(record, [r for r in results if r.status == "ok"])
            attached = manifests.result() + packages
        return self._result_url(job.job_id, attached[0])

    def _manifests(
        self,
        job_id: str,
        results: list[StoredResult],
        stored: list[StoredResult],
        expires: datetime | None,
    ) -> list[StoredResult]:
        """Write the job's manifests (CSV, then VOTable) and attach them."""
        urls = {r.result_id: self._result_url(job_id, r) for r in results}
        rows = manifest_rows(results, refused=self._refused(stored), url_of=urls)
        return [
            self._attach(job_id, "manifest-csv", "manifest.csv", "text/csv",
                         manifest_csv(rows), expires=expires),
            self._attach(job_id, "manifest-votable", "manifest.xml", "application/x-votable+xml",
                         manifest_votable(rows), expires=expires),
        ]  # fmt: skip

    def _packages(self, record: JobRecord, ok: list[StoredResult]) -> list[StoredResult]:
        """Write the packages the bulk file asked for (none, zip/tar, mef or epochs)."""
        job = record.job
        options: dict[str, Any] = dict(record.bulk.options)
        package = options.get("package", "none")
        writer = self._results
        attached: list[StoredResult] = []

        def read(result: StoredResult) -> bytes:
            return writer.read(result.object_name)

        def attach(result_id: str, name: str, mime: str, data: bytes) -> None:
            attached.append(
                self._attach(job.job_id, result_id, name, mime, data, expires=job.destruction)
            )

        if package in ("zip", "tar"):
            blob = archive(package, read_ahead(ok, read))
            mime = f"application/{'zip' if package == 'zip' else 'x-tar'}"
            attach("package", f"cutouts.{package}", mime, blob.read())
        elif package == "mef":
            per_file = int(options.get("package_size", _DEFAULT_PER_FILE))
            contents = read_ahead(fits_members(ok), read)
            for number, data in enumerate(fits_packages(contents, per_file=per_file), start=1):
                attach(f"package-{number:04d}", f"cutouts-{number:04d}.fits", "application/fits",
                       data)  # fmt: skip
        elif package == "epochs":
            for epochs in epoch_packages(read_ahead(epoch_members(ok), read)):
                attach(f"epochs-{epochs.row:06d}", f"epochs-{epochs.row:06d}.fits",
                       "application/fits", epochs.fits)  # fmt: skip
                attach(f"filmstrip-{epochs.row:06d}", f"filmstrip-{epochs.row:06d}.png",
                       "image/png", epochs.png)  # fmt: skip
        return attached

    def _refused(self, stored: list[StoredResult]) -> list[BadRow]:
        """Return the rows the job refused before it ran, from its errors report."""
        report = next((r for r in stored if r.result_id == ERRORS_RESULT_ID), None)
        if report is None:
            return []
        return read_errors_report(self._results.read(report.object_name))

    def _attach(
        self,
        job_id: str,
        result_id: str,
        name: str,
        mime: str,
        data: bytes,
        *,
        expires: datetime | None,
    ) -> StoredResult:
        writer = self._results
        object_name = job_objects_prefix(job_id) + name
        size = writer.write(object_name, data, content_type=mime, expires=expires)
        result = StoredResult(
            result_id=result_id,
            index=-1,
            status="ok",
            bucket=writer.bucket_name,
            object_name=object_name,
            mime_type=mime,
            size=size,
            created=datetime.now(UTC),
            expires=expires,
        )
        self._store.attach_result(job_id, result)
        return result
