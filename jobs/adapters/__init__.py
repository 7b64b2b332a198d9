"""Job repository adapters: `SqliteJobRepository` (local) and `DynamoJobRepository` (AWS).

Both are `JobRecords` over a different store, so the state machine, validation and paging
are written once (here and in core.records); each adapter module only picks its store.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from core.exceptions import InvalidInput
from core.pagination import Page
from core.records import (
    Index,
    Item,
    RecordRepository,
    RecordSpec,
    Where,
    check_limit,
    status_values,
)
from jobs.repository import JobFilter
from training_image.contract import (
    DYNAMO_DATASET_INDEX,
    DYNAMO_JOBS_INDEXES,
    DYNAMO_OWNER_INDEX,
    DYNAMO_OWNER_PROBLEM_INDEX,
    DYNAMO_OWNER_STATUS_INDEX,
    DYNAMO_STATUS_INDEX,
    JOB_DERIVED_INPUTS,
    JOB_OWNER_KEYS,
    JOB_SEARCH_ATTRIBUTE,
    Job,
    JobStatus,
    job_derived_attributes,
    job_search_text,
    owner_key,
    sources_for,
    sqlite_job_columns,
)


def _index(name: str) -> Index:
    return Index(name, *DYNAMO_JOBS_INDEXES[name])


def _sqlite_row(item: Item) -> dict[str, Any]:
    return sqlite_job_columns(Job.from_item(item))


JOB_SPEC = RecordSpec(
    noun="job",
    record_class=Job,
    table="jobs",
    id_field="job_id",
    owner_index=_index(DYNAMO_OWNER_INDEX),
    status_index=_index(DYNAMO_STATUS_INDEX),
    other_indexes=(
        _index(DYNAMO_DATASET_INDEX),
        _index(DYNAMO_OWNER_STATUS_INDEX),
        _index(DYNAMO_OWNER_PROBLEM_INDEX),
    ),
    statuses=tuple(JobStatus),
    immutable=frozenset({"job_id", "owner_id", "dataset_id", "created_at"}),
    status_by_update=False,
    sqlite_row=_sqlite_row,
    derived_keys=frozenset({*JOB_OWNER_KEYS, JOB_SEARCH_ATTRIBUTE}),
    derived_inputs=JOB_DERIVED_INPUTS,
    derive=job_derived_attributes,
    search_text=job_search_text,
    search_attribute=JOB_SEARCH_ATTRIBUTE,
)


class JobRecords(RecordRepository[Job]):
    """The JobRepository behaviour; subclasses give it a SQLite or DynamoDB store."""

    spec = JOB_SPEC

    def transition(
        self,
        job_id: str,
        to: JobStatus | str,
        *,
        expected: Iterable[JobStatus | str] | None = None,
        **fields: Any,
    ) -> Job:
        """Move to `to` only from `expected` (default `contract.sources_for(to)`), with fields.

        One conditional write, so a late write (a dead container's progress, a second
        cancel) can never move a job backwards.

        Raises:
            NotFound: no such job.
            InvalidTransition: the job is in a status `to` cannot be reached from.
            InvalidInput: `to` or an expected status is not a job status.
        """
        try:
            target = JobStatus(to)
        except ValueError:
            raise InvalidInput(
                f"Unknown job status {to!r}: use one of {', '.join(JobStatus)}."
            ) from None
        allowed = status_values(self.spec, sources_for(target) if expected is None else expected)
        if "status" in fields:
            raise TypeError("pass the new status as `to`, not as a field")
        return self._write(job_id, {**fields, "status": str(target)}, allowed, target=target)

    def list_for_owner(
        self,
        owner_id: str,
        *,
        limit: int = 20,
        cursor: str | None = None,
        filters: JobFilter | None = None,
    ) -> Page[Job]:
        """The owner's jobs newest first, kept to `filters`, one page at a time.

        The query runs on the most selective index the filter allows (the dataset's jobs,
        then the owner's jobs in one status, then of one problem type, then all the
        owner's jobs); the rest of the filter is applied to what that index returns.
        Never a scan.
        """
        owner_id = str(owner_id)
        if not filters:
            return super().list_for_owner(owner_id, limit=limit, cursor=cursor)
        equals: list[tuple[str, str]] = []
        if filters.dataset_id:
            index, value = self.spec.index(DYNAMO_DATASET_INDEX), filters.dataset_id
            equals.append(("owner_id", owner_id))
            rest = ("status", "problem_type")
        elif filters.status:
            index, value = (
                self.spec.index(DYNAMO_OWNER_STATUS_INDEX),
                owner_key(owner_id, filters.status),
            )
            rest = ("problem_type",)
        elif filters.problem_type:
            index = self.spec.index(DYNAMO_OWNER_PROBLEM_INDEX)
            value = owner_key(owner_id, filters.problem_type)
            rest = ()
        else:
            index, value, rest = self.spec.owner_index, owner_id, ()
        equals += [(name, getattr(filters, name)) for name in rest if getattr(filters, name)]
        where = Where(
            equals=tuple(equals),
            has=(("tags", filters.tag),) if filters.tag else (),
            text=filters.q,
        )
        scope = "&".join(f"{k}={v}" for k, v in sorted(filters.as_params().items()))
        return self._list_page(
            index, value, owner_id=owner_id, limit=limit, cursor=cursor, where=where, scope=scope
        )

    def count_for_owner(self, owner_id: str, *, status: JobStatus | str | None = None) -> int:
        """How many jobs `owner_id` has, or has in `status`: an index count."""
        owner_id = str(owner_id)
        if status is None:
            return self.count(DYNAMO_OWNER_INDEX, owner_id)
        (value,) = status_values(self.spec, [status])
        return self.count(DYNAMO_OWNER_STATUS_INDEX, owner_key(owner_id, value))

    def fill_index_keys(self) -> int:
        """Give jobs stored before the filter indexes their keys (DynamoDB; SQLite computes
        them itself). Returns how many jobs were filled."""
        fill = getattr(self._store, "fill_derived", None)
        return fill() if fill is not None else 0

    def list_by_status(self, statuses: Iterable[JobStatus | str], *, limit: int = 500) -> list[Job]:
        """Up to `limit` jobs in any of `statuses`, least recently updated first.

        One Query per status on the status + updated_at index; the stalest come first, so a
        reconciler with a limit still reaches the jobs most likely to be dead.
        """
        check_limit(limit)
        index = self.spec.status_index
        runs = [
            self._store.query(index, status, descending=False, after=None, limit=limit)
            for status in sorted(status_values(self.spec, statuses))
        ]
        merged = heapq.merge(*runs, key=lambda item: item[index.range_key])
        return [self._record(item) for _, item in zip(range(limit), merged, strict=False)]

    def list_for_dataset(self, dataset_id: str) -> list[Job]:
        """Every job trained on `dataset_id`, newest first, through the dataset index."""
        if not isinstance(dataset_id, str) or not dataset_id:
            return []
        index = self.spec.index(DYNAMO_DATASET_INDEX)
        items = self._store.query(index, dataset_id, descending=True, after=None, limit=None)
        return [self._record(item) for item in items]
