"""DynamoDB record repositories under moto, built like `manage.py create_tables` builds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from core.dynamodb import ensure_table
from datasets.adapters.dynamodb import DynamoDatasetRepository
from jobs.adapters.dynamodb import DynamoJobRepository
from tests.aws.conftest import REGION
from training_image import contract


@dataclass(frozen=True)
class Records:
    jobs: DynamoJobRepository
    datasets: DynamoDatasetRepository
    jobs_table: Any


def create_records(
    *, prefix: str = "automl-test", endpoint_url: str | None = None, **retry: Any
) -> Records:
    """The datasets and jobs tables (with their indexes) and a repository on each."""
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint_url)
    ensure_table(
        client, f"{prefix}-datasets", contract.DYNAMO_DATASETS_KEY, contract.DYNAMO_DATASETS_INDEXES
    )
    ensure_table(client, f"{prefix}-jobs", contract.DYNAMO_JOBS_KEY, contract.DYNAMO_JOBS_INDEXES)
    resource = boto3.resource("dynamodb", region_name=REGION, endpoint_url=endpoint_url)
    jobs_table = resource.Table(f"{prefix}-jobs")
    return Records(
        jobs=DynamoJobRepository(jobs_table, **retry),
        datasets=DynamoDatasetRepository(resource.Table(f"{prefix}-datasets"), **retry),
        jobs_table=jobs_table,
    )
