"""The job repository port. Adapters: jobs/adapters/sqlite.py, jobs/adapters/dynamodb.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from core.pagination import Page
from training_image.contract import BatchStatus, Job, JobStatus, PredictionBatch


class JobRepository(Protocol):
    def add(self, job: Job) -> Job:
        """Store a new job; AlreadyExists when the id is taken."""

    def get(self, job_id: str) -> Job | None: ...

    def list_for_owner(
        self, owner_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> Page[Job]:
        """Newest first, through the owner + created_at index."""

    def list_recent(
        self, *, statuses: Iterable[str] | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Job]:
        """Every owner's records, newest updated_at first, through the status index (staff views)."""

    def list_by_status(self, statuses: Iterable[JobStatus], *, limit: int = 500) -> list[Job]:
        """Jobs in any of `statuses`, through the status index (for reconciliation)."""

    def transition(
        self,
        job_id: str,
        to: JobStatus,
        *,
        expected: Iterable[JobStatus] | None = None,
        **fields: Any,
    ) -> Job:
        """Move to `to` only from `expected` (default: contract.sources_for(to)).

        Raises NotFound, or InvalidTransition when the record is in another state.
        """

    def update(
        self, job_id: str, *, only_if_status: Iterable[JobStatus] | None = None, **fields: Any
    ) -> Job:
        """Set non-status fields (progress, tags, notes, deployed, ...)."""

    def delete(self, job_id: str) -> None: ...

    def list_for_dataset(self, dataset_id: str) -> list[Job]:
        """Jobs trained on a dataset (to know whether deleting it is safe)."""


def fail_live_job(repository: JobRepository, job: Job, error_type: str, message: str) -> bool:
    """Record a queued or running job as failed; False when another writer got there first.

    When someone else recorded an outcome first (the container, a cancel), theirs stands.
    """
    from core.exceptions import InvalidTransition, NotFound
    from training_image.contract import utcnow

    try:
        repository.transition(
            job.job_id,
            JobStatus.FAILED,
            expected=(JobStatus.QUEUED, JobStatus.RUNNING),
            error_type=str(error_type),
            error_message=message,
            error_phase=(job.progress or {}).get("phase"),
            completed_at=utcnow(),
        )
    except (InvalidTransition, NotFound):
        return False
    return True


class PredictionBatchRepository(Protocol):
    """Prediction batches. Adapters: SqliteBatchRepository, DynamoBatchRepository."""

    def add(self, batch: PredictionBatch) -> PredictionBatch:
        """Store a new batch; AlreadyExists when the id is taken."""

    def get(self, batch_id: str) -> PredictionBatch | None: ...

    def list_for_job(
        self, job_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> Page[PredictionBatch]:
        """Newest first, through the job + created_at index."""

    def all_for_job(self, job_id: str) -> list[PredictionBatch]:
        """Every batch of a job (deleting the job deletes them)."""

    def transition(
        self,
        batch_id: str,
        to: BatchStatus,
        *,
        expected: Iterable[BatchStatus] | None = None,
        **fields: Any,
    ) -> PredictionBatch:
        """Move to `to` only from `expected` (default: contract.batch_sources_for(to))."""

    def update(
        self,
        batch_id: str,
        *,
        only_if_status: Iterable[BatchStatus] | None = None,
        **fields: Any,
    ) -> PredictionBatch:
        """Set non-status fields (progress); InvalidTransition when the status differs."""

    def delete(self, batch_id: str) -> None: ...
