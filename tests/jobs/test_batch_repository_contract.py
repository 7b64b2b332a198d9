"""The PredictionBatchRepository behaviour, run against both adapters (SQLite, DynamoDB on moto)."""

from __future__ import annotations

import pytest

from core.exceptions import AlreadyExists, InvalidInput, InvalidTransition, NotFound
from jobs.adapters.dynamodb import DynamoBatchRepository
from jobs.adapters.sqlite import SqliteBatchRepository
from tests.core.moto_tables import both_adapters, moto_table, record_calls
from training_image.contract import (
    BATCH_TRANSITIONS,
    DYNAMO_BATCH_JOB_INDEX,
    BatchStatus,
    PredictionBatch,
    batch_input_key,
    new_id,
)

repo = both_adapters("batches", SqliteBatchRepository, DynamoBatchRepository)


def make_batch(**overrides) -> PredictionBatch:
    batch_id = overrides.pop("batch_id", new_id())
    job_id = overrides.pop("job_id", new_id())
    values = dict(
        batch_id=batch_id,
        owner_id="1",
        job_id=job_id,
        filename="rows.csv",
        input_key=batch_input_key(job_id, batch_id, "rows.csv"),
        size=1234,
    )
    values.update(overrides)
    return PredictionBatch(**values)


def stamp(n: int) -> str:
    return f"2025-03-01T{n:02d}:00:00.000000Z"


def test_it_round_trips_every_field(repo):
    batch = make_batch(
        status=BatchStatus.FAILED,
        output_key="batches/j/b/predictions.csv",
        rows_total=10,
        rows_done=7,
        bytes_done=900,
        started_at=stamp(1),
        completed_at=stamp(2),
        error_message="Row 3 (line 4), column 'x': 'y' is not a number.",
        error_details={"row": 3, "line": 4, "column": "x"},
        attempt=2,
    )
    repo.add(batch)
    assert repo.get(batch.batch_id) == batch


def test_it_returns_none_for_an_unknown_or_empty_id(repo):
    assert repo.get(new_id()) is None
    assert repo.get("") is None


def test_it_refuses_a_second_batch_with_the_same_id(repo):
    batch = repo.add(make_batch())
    with pytest.raises(AlreadyExists):
        repo.add(make_batch(batch_id=batch.batch_id))


@pytest.mark.parametrize("field", ["owner_id", "job_id", "created_at"])
def test_it_refuses_an_empty_key_field(repo, field):
    with pytest.raises(InvalidInput):
        repo.add(make_batch(**{field: ""}))


def test_it_moves_a_batch_forward_through_its_life(repo):
    batch = repo.add(make_batch())
    queued = repo.transition(batch.batch_id, BatchStatus.QUEUED)
    scoring = repo.transition(batch.batch_id, BatchStatus.SCORING, started_at=stamp(1), attempt=1)
    progressed = repo.update(
        batch.batch_id, only_if_status=[BatchStatus.SCORING], rows_done=500, bytes_done=600
    )
    done = repo.transition(
        batch.batch_id, BatchStatus.COMPLETED, rows_total=900, rows_done=900, output_key="k"
    )
    assert [queued.status, scoring.status, progressed.status, done.status] == [
        "queued",
        "scoring",
        "scoring",
        "completed",
    ]
    assert (progressed.rows_done, progressed.bytes_done) == (500, 600)
    assert repo.get(batch.batch_id) == done
    assert done.updated_at >= progressed.updated_at >= scoring.updated_at


def test_a_claim_succeeds_once(repo):
    batch = repo.add(make_batch(status=BatchStatus.QUEUED))
    repo.transition(batch.batch_id, BatchStatus.SCORING, expected=[BatchStatus.QUEUED])
    with pytest.raises(InvalidTransition) as second:
        repo.transition(batch.batch_id, BatchStatus.SCORING, expected=[BatchStatus.QUEUED])
    assert second.value.extra["current"] == "scoring"


@pytest.mark.parametrize("terminal", [BatchStatus.COMPLETED, BatchStatus.FAILED])
def test_a_finished_batch_never_moves_again(repo, terminal):
    batch = repo.add(make_batch(status=terminal))
    for target in BatchStatus:
        with pytest.raises(InvalidTransition):
            repo.transition(batch.batch_id, target)
    with pytest.raises(InvalidTransition):
        repo.update(batch.batch_id, only_if_status=[BatchStatus.SCORING], rows_done=1)
    assert repo.get(batch.batch_id).status == terminal
    assert BATCH_TRANSITIONS[terminal] == frozenset()


def test_status_changes_only_through_transition(repo):
    batch = repo.add(make_batch())
    with pytest.raises(TypeError):
        repo.update(batch.batch_id, status=BatchStatus.COMPLETED)
    with pytest.raises(TypeError):
        repo.update(batch.batch_id, job_id=new_id())


def test_writes_to_a_missing_batch_are_not_found(repo):
    with pytest.raises(NotFound):
        repo.transition(new_id(), BatchStatus.QUEUED)
    with pytest.raises(NotFound):
        repo.update(new_id(), rows_done=1)
    with pytest.raises(NotFound):
        repo.delete(new_id())


def test_it_lists_a_jobs_batches_newest_first_in_pages(repo):
    job_id = new_id()
    made = [repo.add(make_batch(job_id=job_id, created_at=stamp(n))) for n in range(5)]
    repo.add(make_batch(created_at=stamp(9)))  # another job's
    first = repo.list_for_job(job_id, limit=2)
    second = repo.list_for_job(job_id, limit=2, cursor=first.next_cursor)
    third = repo.list_for_job(job_id, limit=2, cursor=second.next_cursor)
    listed = [b.batch_id for page in (first, second, third) for b in page.items]
    assert listed == [b.batch_id for b in reversed(made)]
    assert third.next_cursor is None
    assert [b.batch_id for b in repo.all_for_job(job_id)] == listed


def test_it_refuses_another_jobs_cursor(repo):
    job_id = new_id()
    for n in range(3):
        repo.add(make_batch(job_id=job_id, created_at=stamp(n)))
    cursor = repo.list_for_job(job_id, limit=1).next_cursor
    with pytest.raises(InvalidInput):
        repo.list_for_job(new_id(), limit=1, cursor=cursor)


def test_it_deletes_a_batch(repo):
    batch = repo.add(make_batch())
    repo.delete(batch.batch_id)
    assert repo.get(batch.batch_id) is None
    assert repo.all_for_job(batch.job_id) == []


def test_it_is_not_listed_per_owner_or_status(repo):
    with pytest.raises(TypeError):
        repo.list_for_owner("1")
    with pytest.raises(TypeError):
        repo.list_recent()


# --------------------------------------------------------------------------- storage details


def test_dynamodb_lists_through_the_job_index_never_a_scan():
    with moto_table("batches") as table:
        repository = DynamoBatchRepository(table, retry_delays=())
        job_id = new_id()
        repository.add(make_batch(job_id=job_id))
        calls = record_calls(table)
        repository.list_for_job(job_id)
        repository.all_for_job(job_id)
    operations = [name for name, _ in calls]
    assert operations == ["Query", "Query"]
    assert all(body["IndexName"] == DYNAMO_BATCH_JOB_INDEX for _, body in calls)


def test_dynamodb_claims_with_a_condition_expression():
    with moto_table("batches") as table:
        repository = DynamoBatchRepository(table, retry_delays=())
        batch = repository.add(make_batch(status=BatchStatus.QUEUED))
        calls = record_calls(table)
        repository.transition(batch.batch_id, BatchStatus.SCORING, expected=[BatchStatus.QUEUED])
    ((name, body),) = calls
    assert name == "UpdateItem"
    assert "ConditionExpression" in body


def test_sqlite_lists_through_the_job_index(tmp_path):
    repository = SqliteBatchRepository(tmp_path / "records.sqlite3")
    from jobs.adapters.batches import JOB_INDEX

    plan = repository._store.query_plan(JOB_INDEX, new_id())
    assert "batches_job_created" in plan and "SCAN" not in plan.replace("SCAN USING", "")
