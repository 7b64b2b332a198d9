"""Storage details of DynamoDatasetRepository: item shape and index queries."""

from __future__ import annotations

from decimal import Decimal

from datasets.adapters.dynamodb import DynamoDatasetRepository
from tests.conftest import make_dataset
from tests.core.moto_tables import moto_table, record_calls
from training_image.contract import DYNAMO_DATASET_STATUS_INDEX, DatasetStatus


def test_it_stores_numbers_as_decimals_and_leaves_out_none():
    with moto_table("datasets") as table:
        repo = DynamoDatasetRepository(table, retry_delays=())
        dataset = repo.add(
            make_dataset(analysis={"columns": [{"mean": 5.84, "min": None, "unique": 3}]})
        )
        item = table.get_item(Key={"dataset_id": dataset.dataset_id})["Item"]
    assert item["analysis"] == {"columns": [{"mean": Decimal("5.84"), "min": None, "unique": 3}]}
    assert "row_count" not in item and "error_message" not in item


def test_it_lists_every_owner_through_the_status_index():
    with moto_table("datasets") as table:
        repo = DynamoDatasetRepository(table, retry_delays=())
        for owner in ("1", "2"):
            repo.add(make_dataset(owner_id=owner, status=DatasetStatus.UPLOADING))
        calls = record_calls(table)
        page = repo.list_recent(statuses=[DatasetStatus.UPLOADING])
    assert {d.owner_id for d in page.items} == {"1", "2"}
    assert [(name, params["IndexName"]) for name, params in calls] == [
        ("Query", DYNAMO_DATASET_STATUS_INDEX)
    ]
