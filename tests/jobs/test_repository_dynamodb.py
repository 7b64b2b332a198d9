"""Storage details of DynamoJobRepository: item shape, index queries, conditions, throttling."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.stub import Stubber

from core.exceptions import InvalidTransition, ServiceUnavailable
from jobs.adapters.dynamodb import DynamoJobRepository
from jobs.repository import JobFilter
from tests.conftest import make_job
from tests.core.moto_tables import REGION, moto_table, record_calls
from training_image.contract import (
    DYNAMO_DATASET_INDEX,
    DYNAMO_OWNER_INDEX,
    DYNAMO_OWNER_PROBLEM_INDEX,
    DYNAMO_OWNER_STATUS_INDEX,
    DYNAMO_STATUS_INDEX,
    JobStatus,
)


@pytest.fixture
def table():
    with moto_table("jobs") as table:
        yield table


@pytest.fixture
def repo(table):
    return DynamoJobRepository(table, retry_delays=())


def test_it_stores_dynamodb_safe_items(repo, table):
    job = repo.add(
        make_job(notes="", metrics={"accuracy": 0.95, "r2": float("nan")}, progress={"trials": 3})
    )
    item = table.get_item(Key={"job_id": job.job_id})["Item"]
    # None fields are left out, so no index key is ever empty or NULL.
    assert "started_at" not in item and "runner_job_id" not in item and "problem_type" not in item
    assert item["metrics"] == {"accuracy": Decimal("0.95"), "r2": None}
    assert item["progress"] == {"trials": 3} and item["notes"] == ""
    assert item["status"] == "pending" and item["time_budget"] == 120


def test_it_lists_through_index_queries_and_never_scans(repo, table):
    for n in range(5):
        job = repo.add(make_job(owner_id="alice", created_at=f"2025-01-0{n + 1}T00:00:00.000000Z"))
    repo.transition(job.job_id, JobStatus.QUEUED)
    calls = record_calls(table)
    first = repo.list_for_owner("alice", limit=2)
    repo.list_for_owner("alice", limit=2, cursor=first.next_cursor)
    repo.list_by_status([JobStatus.QUEUED])
    repo.list_recent(limit=2)
    repo.list_for_dataset(job.dataset_id)
    operations = {name for name, _ in calls}
    assert operations == {"Query"}
    owner_queries = [p for _, p in calls if p["IndexName"] == DYNAMO_OWNER_INDEX]
    assert "ExclusiveStartKey" not in owner_queries[0]
    assert owner_queries[1]["ExclusiveStartKey"]["owner_id"] == {"S": "alice"}
    assert any(p["IndexName"] == DYNAMO_STATUS_INDEX for _, p in calls)


def test_it_filters_through_index_queries_and_never_scans(repo, table):
    job = repo.add(make_job(owner_id="alice", problem_type="binary", tags=["v2"]))
    repo.transition(job.job_id, JobStatus.QUEUED)
    calls = record_calls(table)
    for filters, index in [
        ({"status": "queued", "tag": "v2"}, DYNAMO_OWNER_STATUS_INDEX),
        ({"problem_type": "binary", "q": "data"}, DYNAMO_OWNER_PROBLEM_INDEX),
        ({"dataset_id": job.dataset_id, "status": "queued"}, DYNAMO_DATASET_INDEX),
        ({"tag": "v2"}, DYNAMO_OWNER_INDEX),
    ]:
        page = repo.list_for_owner("alice", filters=JobFilter.build(**filters))
        assert [j.job_id for j in page.items] == [job.job_id]
        assert calls[-1][0] == "Query" and calls[-1][1]["IndexName"] == index
        assert calls[-1][1]["FilterExpression"]
    assert repo.count_for_owner("alice", status="queued") == 1
    assert {name for name, _ in calls} == {"Query"}
    item = table.get_item(Key={"job_id": job.job_id})["Item"]
    assert item["owner_status"] == "alice|queued" and item["owner_problem"] == "alice|binary"


def test_it_guards_every_write_with_a_condition(repo, table):
    calls = record_calls(table)
    job = repo.add(make_job())
    repo.transition(job.job_id, JobStatus.QUEUED)
    repo.update(job.job_id, notes="n", only_if_status=[JobStatus.QUEUED])
    repo.update(job.job_id, tags=["t"])
    repo.delete(job.job_id)
    writes = [(n, p) for n, p in calls if n in {"PutItem", "UpdateItem", "DeleteItem"}]
    assert [n for n, _ in writes] == [
        "PutItem",
        "UpdateItem",
        "UpdateItem",
        "UpdateItem",
        "DeleteItem",
    ]
    assert all(p.get("ConditionExpression") for _, p in writes)
    assert "attribute_not_exists" in writes[0][1]["ConditionExpression"]


def test_it_names_the_current_status_when_a_condition_fails(repo):
    job = repo.add(make_job())
    repo.transition(job.job_id, JobStatus.CANCELLED)
    with pytest.raises(InvalidTransition) as caught:
        repo.transition(job.job_id, JobStatus.RUNNING)
    assert caught.value.extra["current"] == "cancelled"
    assert "cannot move to running" in caught.value.message


def throttle(stubber: Stubber, operation: str, times: int, code: str) -> None:
    for _ in range(times):
        stubber.add_client_error(operation, service_error_code=code, http_status_code=400)


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_it_retries_a_throttled_call_with_backoff(table, code):
    waits: list[float] = []
    repo = DynamoJobRepository(table, retry_delays=(0.1, 0.2, 0.4), sleep=waits.append)
    job = repo.add(make_job())
    stored = table.get_item(Key={"job_id": job.job_id})["Item"]
    stubber = Stubber(table.meta.client)
    throttle(stubber, "get_item", 2, code)
    wire = {k: TypeSerializer().serialize(v) for k, v in stored.items()}
    stubber.add_response("get_item", {"Item": wire})
    with stubber:
        got = repo.get(job.job_id)
    assert got == job and waits == [0.1, 0.2]
    stubber.assert_no_pending_responses()


def test_it_gives_up_on_throttling_with_a_clear_message(table):
    waits: list[float] = []
    repo = DynamoJobRepository(table, retry_delays=(0.1, 0.2, 0.4), sleep=waits.append)
    job = repo.add(make_job())
    stubber = Stubber(table.meta.client)
    # A status write first reads the (immutable) owner for the owner + status index key.
    stubber.add_response("get_item", {"Item": {"owner_id": {"S": job.owner_id}}})
    throttle(stubber, "update_item", 4, "ProvisionedThroughputExceededException")
    with stubber, pytest.raises(ServiceUnavailable, match="throttled 4 attempts") as caught:
        repo.transition(job.job_id, JobStatus.QUEUED)
    assert waits == [0.1, 0.2, 0.4]
    assert caught.value.extra["code"] == "ProvisionedThroughputExceededException"
    assert repo.get(job.job_id).status == "pending"


def test_it_does_not_retry_a_failed_condition(table):
    waits: list[float] = []
    repo = DynamoJobRepository(table, retry_delays=(0.1,), sleep=waits.append)
    job = repo.add(make_job())
    repo.transition(job.job_id, JobStatus.CANCELLED)
    with pytest.raises(InvalidTransition):
        repo.transition(job.job_id, JobStatus.QUEUED)
    assert waits == []


def test_it_says_how_to_create_a_missing_table(table):
    missing = boto3.resource("dynamodb", region_name=REGION).Table("no-such-table")
    repo = DynamoJobRepository(missing, retry_delays=())
    with pytest.raises(ServiceUnavailable, match="create_tables"):
        repo.get("any-id")
