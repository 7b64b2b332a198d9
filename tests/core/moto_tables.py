"""Record tables under moto, built by the same `ensure_table` that `create_tables` runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.dynamodb import ensure_table
from training_image import contract

REGION = "us-east-1"
TABLES = {
    "jobs": (contract.DYNAMO_JOBS_KEY, contract.DYNAMO_JOBS_INDEXES),
    "datasets": (contract.DYNAMO_DATASETS_KEY, contract.DYNAMO_DATASETS_INDEXES),
    "batches": (contract.DYNAMO_BATCHES_KEY, contract.DYNAMO_BATCHES_INDEXES),
}


@contextmanager
def moto_table(kind: str) -> Iterator[Any]:
    """A boto3 Table resource for the `jobs`, `datasets` or `batches` table, inside `mock_aws`."""
    key, indexes = TABLES[kind]
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        ensure_table(client, f"automl-{kind}", key, indexes)
        yield boto3.resource("dynamodb", region_name=REGION).Table(f"automl-{kind}")


def record_calls(table: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every DynamoDB operation the table's client sends from now on, with its wire parameters."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def remember(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, json.loads(params["body"])))

    table.meta.client.meta.events.register("before-call.dynamodb", remember)
    return calls


def both_adapters(kind: str, sqlite_class: type, dynamo_class: type) -> Any:
    """A `repo` fixture that runs each test against the SQLite file and the moto table."""

    @pytest.fixture(params=["sqlite", "dynamodb"])
    def repo(request: Any, tmp_path: Any) -> Iterator[Any]:
        if request.param == "sqlite":
            yield sqlite_class(tmp_path / "records.sqlite3")
        else:
            with moto_table(kind) as table:
                yield dynamo_class(table, retry_delays=())

    return repo
