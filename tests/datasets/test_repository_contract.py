"""The DatasetRepository behaviour, run against both adapters (SQLite on tmp_path, DynamoDB on moto)."""

from __future__ import annotations

import pytest

from core.exceptions import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
)
from datasets.adapters.dynamodb import DynamoDatasetRepository
from datasets.adapters.sqlite import SqliteDatasetRepository
from tests.conftest import make_dataset
from tests.core.moto_tables import both_adapters
from training_image.contract import DatasetStatus, new_id
from training_image.csv_dialect import CsvDialect

repo = both_adapters("datasets", SqliteDatasetRepository, DynamoDatasetRepository)


def stamp(n: int) -> str:
    return f"2025-04-01T{n:02d}:00:00.000000Z"


ANALYSIS = {
    "row_count": 150,
    "columns": [
        {"name": "sepal length (cm)", "kind": "numeric", "mean": 5.843333, "min": 4.3, "max": 7.9},
        {"name": "species", "kind": "categorical", "top": [["setosa", 50], ["versicolor", 50]]},
        {"name": "notes", "kind": "text", "mean": None, "sample": ["", "n/a"]},
    ],
    "suggested_target": "species",
    "warnings": [],
}


def test_it_round_trips_a_dataset_with_its_analysis(repo):
    dataset = make_dataset(
        row_count=150,
        columns=["sepal length (cm)", "species", "notes"],
        analysis=ANALYSIS,
        file_size=4_551,
    )
    repo.add(dataset)
    assert repo.get(dataset.dataset_id) == dataset


def test_it_round_trips_the_csv_dialect(repo):
    dialect = CsvDialect(encoding="utf-16-le", bom=True, delimiter=";", decimal=",")
    dataset = repo.add(make_dataset(csv_dialect=dialect.to_dict()))

    stored = repo.get(dataset.dataset_id)
    assert CsvDialect.from_dict(stored.csv_dialect) == dialect
    cleared = repo.update(dataset.dataset_id, csv_dialect=None)
    assert cleared.csv_dialect is None
    assert repo.get(dataset.dataset_id).csv_dialect is None


def test_it_returns_none_for_an_unknown_id(repo):
    assert repo.get(new_id()) is None


def test_it_refuses_a_second_dataset_with_the_same_id(repo):
    dataset = repo.add(make_dataset(filename="a.csv"))
    with pytest.raises(AlreadyExists):
        repo.add(make_dataset(dataset_id=dataset.dataset_id, filename="b.csv"))
    assert repo.get(dataset.dataset_id).filename == "a.csv"


def test_it_refuses_an_empty_owner(repo):
    with pytest.raises(InvalidInput, match="owner_id"):
        repo.add(make_dataset(owner_id=""))


def test_it_refuses_an_analysis_over_400_kb(repo):
    dataset = make_dataset(columns=[f"column_{n:06d}" for n in range(40_000)])
    with pytest.raises(PayloadTooLarge, match="file storage"):
        repo.add(dataset)
    assert repo.get(dataset.dataset_id) is None


def test_it_lists_an_owners_datasets_newest_first(repo):
    mine = [repo.add(make_dataset(owner_id="7", created_at=stamp(n))) for n in range(5)]
    repo.add(make_dataset(owner_id="8", created_at=stamp(9)))
    first = repo.list_for_owner("7", limit=2)
    second = repo.list_for_owner("7", limit=2, cursor=first.next_cursor)
    third = repo.list_for_owner("7", limit=2, cursor=second.next_cursor)
    ids = [d.dataset_id for d in first.items + second.items + third.items]
    assert ids == [d.dataset_id for d in reversed(mine)]
    assert [len(first.items), len(second.items), len(third.items)] == [2, 2, 1]
    assert third.next_cursor is None


def test_it_rejects_a_malformed_cursor(repo):
    with pytest.raises(InvalidInput, match="pagination token"):
        repo.list_for_owner("7", cursor="%%%")


def test_it_moves_status_only_from_the_expected_one(repo):
    dataset = repo.add(make_dataset(status=DatasetStatus.ANALYZING))
    ready = repo.update(
        dataset.dataset_id,
        status=DatasetStatus.READY,
        row_count=150,
        analysis=ANALYSIS,
        only_if_status=(DatasetStatus.ANALYZING,),
    )
    assert ready.status == "ready" and repo.get(dataset.dataset_id) == ready
    # A second analysis run finishing late must not overwrite the first one's result.
    with pytest.raises(InvalidTransition, match="is ready, not analyzing"):
        repo.update(
            dataset.dataset_id,
            status=DatasetStatus.FAILED,
            error_message="late",
            only_if_status=(DatasetStatus.ANALYZING,),
        )
    assert repo.get(dataset.dataset_id) == ready


def test_it_bumps_updated_at_on_every_write(repo):
    dataset = repo.add(make_dataset(updated_at=stamp(0)))
    changed = repo.update(dataset.dataset_id, error_message=None, file_size=10)
    assert changed.updated_at > dataset.updated_at and changed.file_size == 10


def test_it_refuses_an_unknown_status_or_field(repo):
    dataset = repo.add(make_dataset())
    with pytest.raises(InvalidInput, match="Unknown dataset status"):
        repo.update(dataset.dataset_id, status="done")
    with pytest.raises(TypeError, match="owner_id"):
        repo.update(dataset.dataset_id, owner_id="someone-else")
    assert repo.get(dataset.dataset_id) == dataset


def test_it_reports_an_update_of_a_missing_dataset(repo):
    with pytest.raises(NotFound, match="does not exist"):
        repo.update(new_id(), status=DatasetStatus.READY)


def test_it_lists_every_owners_datasets_by_status(repo):
    stuck = repo.add(
        make_dataset(owner_id="1", status=DatasetStatus.UPLOADING, created_at=stamp(1))
    )
    repo.add(make_dataset(owner_id="2", status=DatasetStatus.READY, created_at=stamp(2)))
    newest = repo.add(make_dataset(owner_id="3", status=DatasetStatus.FAILED, created_at=stamp(3)))
    everyone = repo.list_recent(limit=2)
    rest = repo.list_recent(limit=2, cursor=everyone.next_cursor)
    assert everyone.items[0] == newest and rest.items == [stuck] and rest.next_cursor is None
    assert repo.list_recent(statuses=["uploading"]).items == [stuck]
    with pytest.raises(InvalidInput, match="Unknown dataset status"):
        repo.list_recent(statuses=["lost"])


def test_it_deletes_a_dataset(repo):
    dataset = repo.add(make_dataset())
    repo.delete(dataset.dataset_id)
    assert repo.get(dataset.dataset_id) is None
    with pytest.raises(NotFound):
        repo.delete(dataset.dataset_id)
