"""The job repository port. Adapters: jobs/adapters/sqlite.py, jobs/adapters/dynamodb.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, Protocol

from core.exceptions import InvalidInput
from core.pagination import Page
from training_image.contract import PROBLEM_TYPES, BatchStatus, Job, JobStatus, PredictionBatch

MAX_QUERY_LENGTH = 100


@dataclass(frozen=True)
class JobFilter:
    """What a history listing keeps: every field given must match (None: any)."""

    status: str | None = None
    tag: str | None = None
    dataset_id: str | None = None
    problem_type: str | None = None
    q: str | None = None  # part of the dataset name, target or job id

    @classmethod
    def build(cls, **raw: Any) -> JobFilter:
        """A filter from request values: blanks dropped, text trimmed, `q` case-folded.

        Raises:
            InvalidInput: an unknown status or problem type, or a search over 100 characters.
        """
        values = {
            name: (str(raw[name]).strip() or None) if raw.get(name) is not None else None
            for name in (f.name for f in fields(cls))
        }
        if values["status"] is not None and values["status"] not in set(JobStatus):
            raise InvalidInput(
                f"Unknown job status {values['status']!r}: use one of {', '.join(JobStatus)}."
            )
        if values["problem_type"] is not None and values["problem_type"] not in PROBLEM_TYPES:
            raise InvalidInput(
                f"Unknown problem type {values['problem_type']!r}: "
                f"use one of {', '.join(PROBLEM_TYPES)}."
            )
        if values["q"] is not None:
            if len(values["q"]) > MAX_QUERY_LENGTH:
                raise InvalidInput(f"Search for at most {MAX_QUERY_LENGTH} characters.")
            values["q"] = values["q"].casefold()
        return cls(**values)

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (for links that keep it)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


class JobRepository(Protocol):
    def add(self, job: Job) -> Job:
        """Store a new job; AlreadyExists when the id is taken."""

    def get(self, job_id: str) -> Job | None: ...

    def list_for_owner(
        self,
        owner_id: str,
        *,
        limit: int = 20,
        cursor: str | None = None,
        filters: JobFilter | None = None,
    ) -> Page[Job]:
        """Newest first, through the owner + created_at index, or with `filters` the most
        selective index (dataset, owner + status, owner + problem type); never a scan."""

    def count_for_owner(self, owner_id: str, *, status: JobStatus | str | None = None) -> int:
        """How many jobs the owner has (in `status`), counted on an index."""

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
