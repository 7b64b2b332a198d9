"""Dataset repository adapters: `SqliteDatasetRepository` and `DynamoDatasetRepository`.

Both are `DatasetRecords` over a different store (see core.records for the shared rules).
"""

from __future__ import annotations

import json
from typing import Any

from core.records import Index, Item, RecordRepository, RecordSpec
from training_image.contract import (
    DYNAMO_DATASET_STATUS_INDEX,
    DYNAMO_DATASETS_INDEXES,
    DYNAMO_OWNER_INDEX,
    Dataset,
    DatasetStatus,
)


def _index(name: str) -> Index:
    return Index(name, *DYNAMO_DATASETS_INDEXES[name])


def _sqlite_row(item: Item) -> dict[str, Any]:
    """Columns of a `datasets` row in contract.SQLITE_SCHEMA: indexed fields + the item."""
    return {
        "dataset_id": item["dataset_id"],
        "owner_id": item["owner_id"],
        "created_at": item["created_at"],
        "status": item["status"],
        "item": json.dumps(item, allow_nan=False),
    }


DATASET_SPEC = RecordSpec(
    noun="dataset",
    record_class=Dataset,
    table="datasets",
    id_field="dataset_id",
    owner_index=_index(DYNAMO_OWNER_INDEX),
    status_index=_index(DYNAMO_DATASET_STATUS_INDEX),
    statuses=tuple(DatasetStatus),
    immutable=frozenset({"dataset_id", "owner_id", "created_at"}),
    status_by_update=True,
    sqlite_row=_sqlite_row,
)


class DatasetRecords(RecordRepository[Dataset]):
    """The DatasetRepository behaviour; subclasses give it a SQLite or DynamoDB store."""

    spec = DATASET_SPEC
