"""Job progress as sharded counters: many workers count at once without a hot document.

Firestore sustains about one write a second on a single document; a bulk
job's workers finish hundreds of cutouts a second. Each job message adds its
counts, once, to one of a few shard documents chosen at random, with atomic
increments (no transaction); readers sum the shards.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

__all__ = ["PROGRESS_COLLECTION", "RECEIPTS_COLLECTION", "ProgressCounter", "receipt_document"]

_COLLECTION = PROGRESS_COLLECTION = "progress"
_RECEIPTS = RECEIPTS_COLLECTION = "counted"


def receipt_document(*, done: int, failed: int, expires: datetime | None) -> dict[str, Any]:
    """Return the document recording that one job message has been counted."""
    return {"done": done, "failed": failed, "destruction": expires}


class ProgressCounter:
    """Adds to and sums a job's done/failed counts."""

    def __init__(self, *, client: Any, jobs: Any, shards: int = 16) -> None:
        self._client = client
        self._jobs = jobs
        self._shards = shards

    def add_once(
        self,
        job_id: str,
        batch_id: str,
        *,
        done: int,
        failed: int,
        expires: datetime | None = None,
    ) -> bool:
        """Count a batch's ``done`` and ``failed`` cutouts, once per ``batch_id``.

        One atomic write batch creates the batch's receipt and increments a
        random shard: a repeated delivery of the same message finds the
        receipt and counts nothing, and a crash leaves either both or neither.

        Returns
        -------
        bool
            False if the batch had been counted already.

        """
        batch = self._client.batch()
        self.add_to(batch, job_id, batch_id, done=done, failed=failed, expires=expires)
        try:
            batch.commit()
        except gexc.AlreadyExists:
            return False
        return True

    def add_to(
        self,
        batch: Any,
        job_id: str,
        batch_id: str,
        *,
        done: int,
        failed: int,
        expires: datetime | None = None,
    ) -> None:
        """Add `add_once`'s writes to a write batch the caller commits with others.

        The commit fails with ``AlreadyExists`` if the batch was counted before.
        """
        job = self._jobs.document(job_id)
        shard = job.collection(_COLLECTION).document(
            str(random.randrange(self._shards))  # noqa: S311 - spreading load, not security
        )
        batch.create(
            job.collection(_RECEIPTS).document(batch_id),
            receipt_document(done=done, failed=failed, expires=expires),
        )
        batch.set(
            shard,
            {
                "done": firestore.Increment(done),
                "failed": firestore.Increment(failed),
                # sub-collections outlive their job's TTL unless they carry one too
                "destruction": expires,
            },
            merge=True,
        )

    def counts(self, job_id: str) -> tuple[int, int]:
        """Return ``(done, failed)`` summed over the shards."""
        done = failed = 0
        for snap in self._jobs.document(job_id).collection(_COLLECTION).stream():
            doc = snap.to_dict() or {}
            done += int(doc.get("done", 0))
            failed += int(doc.get("failed", 0))
        return done, failed

    def last_counted(self, job_id: str) -> datetime | None:
        """Return when a message of the job was last counted (None if never)."""
        times = [
            snap.update_time
            for snap in self._jobs.document(job_id).collection(_COLLECTION).stream()
            if snap.update_time is not None
        ]
        return max(times) if times else None

    def counted(self, job_id: str, batch_ids: Iterable[str]) -> set[str]:
        """Return those of ``batch_ids`` that have been counted (batched reads)."""
        receipts = self._jobs.document(job_id).collection(_RECEIPTS)
        refs = [receipts.document(b) for b in batch_ids]
        found: set[str] = set()
        for start in range(0, len(refs), 300):
            found.update(s.id for s in self._client.get_all(refs[start : start + 300]) if s.exists)
        return found

    def delete(self, job_id: str) -> None:
        """Remove the job's shards and batch receipts."""
        for name in (_COLLECTION, _RECEIPTS):
            for snap in self._jobs.document(job_id).collection(name).stream():
                snap.reference.delete()
