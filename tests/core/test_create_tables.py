"""`manage.py create_tables`: SQLite schema locally, DynamoDB tables and indexes in AWS mode."""

from __future__ import annotations

import io
import sqlite3

import boto3
import pytest
from django.core.management import CommandError, call_command
from moto import mock_aws

from core.dynamodb import table_definition
from jobs.adapters.sqlite import SqliteJobRepository
from tests.conftest import make_job
from training_image import contract

REGION = "us-east-1"


def run() -> str:
    out = io.StringIO()
    call_command("create_tables", stdout=out)
    return out.getvalue()


def test_it_creates_the_sqlite_schema_and_keeps_records_on_rerun(settings, tmp_path):
    settings.AUTOML_RECORDS_PATH = tmp_path / "var" / "records.sqlite3"
    assert "SQLite records ready" in run()
    job = SqliteJobRepository(settings.AUTOML_RECORDS_PATH).add(make_job())
    run()
    assert SqliteJobRepository(settings.AUTOML_RECORDS_PATH).get(job.job_id) == job
    with sqlite3.connect(settings.AUTOML_RECORDS_PATH) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_it_explains_a_records_path_it_cannot_use(settings, tmp_path):
    (tmp_path / "file").write_text("")
    settings.AUTOML_RECORDS_PATH = tmp_path / "file" / "records.sqlite3"
    with pytest.raises(CommandError, match="Cannot prepare the records file"):
        run()


@pytest.fixture
def aws(settings):
    settings.IS_AWS = True
    settings.AWS_REGION = REGION
    settings.AWS_ENDPOINT_URL = None
    settings.AUTOML_DATASETS_TABLE = "automl-datasets"
    settings.AUTOML_JOBS_TABLE = "automl-jobs"
    settings.AUTOML_BATCHES_TABLE = "automl-batches"
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


def indexes_of(client, name):
    table = client.describe_table(TableName=name)["Table"]
    return {
        i["IndexName"]: tuple(k["AttributeName"] for k in i["KeySchema"])
        for i in table["GlobalSecondaryIndexes"]
    }


def test_it_creates_every_dynamodb_table_with_its_indexes(aws):
    output = run()
    assert "created table automl-datasets" in output and "created table automl-jobs" in output
    assert "created table automl-batches" in output
    assert indexes_of(aws, "automl-jobs") == contract.DYNAMO_JOBS_INDEXES
    assert indexes_of(aws, "automl-datasets") == contract.DYNAMO_DATASETS_INDEXES
    assert indexes_of(aws, "automl-batches") == contract.DYNAMO_BATCHES_INDEXES
    assert aws.describe_table(TableName="automl-batches")["Table"]["KeySchema"] == [
        {"AttributeName": contract.DYNAMO_BATCHES_KEY, "KeyType": "HASH"}
    ]
    for name in ("automl-jobs", "automl-datasets", "automl-batches"):
        table = aws.describe_table(TableName=name)["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        backups = aws.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert aws.describe_table(TableName="automl-jobs")["Table"]["KeySchema"] == [
        {"AttributeName": "job_id", "KeyType": "HASH"}
    ]


def test_it_is_idempotent_on_dynamodb(aws):
    run()
    resource = boto3.resource("dynamodb", region_name=REGION)
    resource.Table("automl-jobs").put_item(Item={"job_id": "kept", "owner_id": "1"})
    assert "is up to date" in run()
    assert resource.Table("automl-jobs").get_item(Key={"job_id": "kept"})["Item"]["owner_id"] == "1"


def test_it_adds_an_index_missing_from_an_older_table(aws):
    older = table_definition(
        "automl-datasets",
        contract.DYNAMO_DATASETS_KEY,
        {
            contract.DYNAMO_OWNER_INDEX: contract.DYNAMO_DATASETS_INDEXES[
                contract.DYNAMO_OWNER_INDEX
            ]
        },
    )
    aws.create_table(**older)
    output = run()
    assert f"added index {contract.DYNAMO_DATASET_STATUS_INDEX} to automl-datasets" in output
    assert indexes_of(aws, "automl-datasets") == contract.DYNAMO_DATASETS_INDEXES


def test_it_fills_the_filter_keys_of_jobs_stored_before_the_indexes(aws):
    from automl_lite import wiring
    from jobs.repository import JobFilter

    run()
    job = make_job(owner_id="alice", status="failed", problem_type="binary")
    table = boto3.resource("dynamodb", region_name=REGION).Table("automl-jobs")
    table.put_item(Item={k: v for k, v in job.to_item().items() if v not in (None, [], {})})
    repository = wiring.job_repository()
    assert repository.list_for_owner("alice", filters=JobFilter.build(status="failed")).items == []
    assert "filled the filter index keys of 1 jobs" in run()
    found = repository.list_for_owner("alice", filters=JobFilter.build(status="failed", q="DATA"))
    assert [j.job_id for j in found.items] == [job.job_id]
    assert "filled" not in run()
