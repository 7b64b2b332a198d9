"""Storage details of SqliteDatasetRepository: index seeks and the mirrored columns."""

from __future__ import annotations

import json
import sqlite3

from datasets.adapters import DATASET_SPEC
from datasets.adapters.sqlite import SqliteDatasetRepository
from tests.conftest import make_dataset
from training_image.contract import DatasetStatus


def test_it_lists_by_seeking_an_index(tmp_path):
    store = SqliteDatasetRepository(tmp_path / "records.sqlite3")._store
    after = ("7", "2025-01-01T00:00:00.000000Z", "some-id")
    for index, name in (
        (DATASET_SPEC.owner_index, "datasets_owner_created"),
        (DATASET_SPEC.status_index, "datasets_status_created"),
    ):
        plan = store.query_plan(index, after[0], after=after)
        assert f"USING INDEX {name}" in plan
        assert "SCAN" not in plan and "TEMP B-TREE" not in plan


def test_it_mirrors_status_into_its_column(tmp_path):
    path = tmp_path / "records.sqlite3"
    repo = SqliteDatasetRepository(path)
    dataset = repo.add(make_dataset(status=DatasetStatus.ANALYZING))
    repo.update(dataset.dataset_id, status=DatasetStatus.READY, row_count=3)
    with sqlite3.connect(path) as connection:
        status, item = connection.execute(
            "SELECT status, item FROM datasets WHERE dataset_id = ?", (dataset.dataset_id,)
        ).fetchone()
    assert status == "ready" and json.loads(item)["row_count"] == 3
