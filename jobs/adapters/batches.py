"""Prediction batch adapters' shared behaviour: `BatchRecords` over a SQLite or DynamoDB store.

The state machine (`contract.BATCH_TRANSITIONS`), validation and paging are written once
here and in core.records; `SqliteBatchRepository` and `DynamoBatchRepository` (in the
sibling modules) only pick the store. Batches are listed per job, newest first, through
the job + created_at index, never a scan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from core.exceptions import InvalidInput
from core.pagination import Page
from core.records import (
    Index,
    Item,
    RecordRepository,
    RecordSpec,
    check_limit,
    not_found,
    status_values,
)
from training_image.contract import (
    DYNAMO_BATCH_JOB_INDEX,
    DYNAMO_BATCHES_INDEXES,
    BatchStatus,
    PredictionBatch,
    batch_sources_for,
)

JOB_INDEX = Index(DYNAMO_BATCH_JOB_INDEX, *DYNAMO_BATCHES_INDEXES[DYNAMO_BATCH_JOB_INDEX])


def _sqlite_row(item: Item) -> dict[str, Any]:
    """Columns of a `prediction_batches` row in contract.SQLITE_SCHEMA."""
    return {
        "batch_id": item["batch_id"],
        "owner_id": item["owner_id"],
        "job_id": item["job_id"],
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
        "status": item["status"],
        "item": json.dumps(item, allow_nan=False),
    }


BATCH_SPEC = RecordSpec(
    noun="prediction batch",
    record_class=PredictionBatch,
    table="prediction_batches",
    id_field="batch_id",
    owner_index=None,
    status_index=None,
    other_indexes=(JOB_INDEX,),
    statuses=tuple(BatchStatus),
    immutable=frozenset({"batch_id", "owner_id", "job_id", "created_at", "input_key"}),
    status_by_update=False,
    sqlite_row=_sqlite_row,
)


class BatchRecords(RecordRepository[PredictionBatch]):
    """The PredictionBatchRepository behaviour; subclasses give it a store."""

    spec = BATCH_SPEC

    def transition(
        self,
        batch_id: str,
        to: BatchStatus | str,
        *,
        expected: Iterable[BatchStatus | str] | None = None,
        **fields: Any,
    ) -> PredictionBatch:
        """Move to `to` only from `expected` (default `contract.batch_sources_for(to)`).

        One conditional write: a second delivery of a task, or a late write after a
        failure, finds the batch in another status and changes nothing.

        Raises:
            NotFound: no such batch.
            InvalidTransition: the batch is in a status `to` cannot be reached from.
        """
        try:
            target = BatchStatus(to)
        except ValueError:
            raise InvalidInput(
                f"Unknown prediction batch status {to!r}: use one of {', '.join(BatchStatus)}."
            ) from None
        sources = batch_sources_for(target) if expected is None else expected
        allowed = status_values(self.spec, sources)
        if "status" in fields:
            raise TypeError("pass the new status as `to`, not as a field")
        if not allowed:  # nothing leads there (`pending`): no write can succeed
            current = self.get(batch_id)
            if current is None:
                raise not_found(self.spec, str(batch_id))
            raise self._conflict(batch_id, current.status, allowed, target)
        return self._write(batch_id, {**fields, "status": str(target)}, allowed, target=target)

    def _validate_keys(self, item: Mapping[str, Any]) -> None:
        super()._validate_keys(item)
        # Not an index key here, but every record carries its owner.
        self._check_key("owner_id", item.get("owner_id"))

    def list_for_job(
        self, job_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> Page[PredictionBatch]:
        """The job's batches, newest first; `next_cursor` while more exist."""
        check_limit(limit)
        job_id = str(job_id)
        after = self._after(cursor, "job", job_id)
        return self._page_on(JOB_INDEX, job_id, "job", limit=limit, after=after)

    def all_for_job(self, job_id: str) -> list[PredictionBatch]:
        """Every batch of the job (to delete them with it)."""
        if not isinstance(job_id, str) or not job_id:
            return []
        items = self._store.query(JOB_INDEX, job_id, descending=True, after=None, limit=None)
        return [self._record(item) for item in items]
