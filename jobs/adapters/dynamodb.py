"""Jobs in a DynamoDB table (AWS mode)."""

from __future__ import annotations

from core.dynamodb import DynamoRepository
from jobs.adapters import JobRecords
from jobs.adapters.batches import BatchRecords


class DynamoJobRepository(DynamoRepository, JobRecords):
    """JobRepository over a boto3 DynamoDB Table resource (the jobs table)."""


class DynamoBatchRepository(DynamoRepository, BatchRecords):
    """PredictionBatchRepository over a boto3 DynamoDB Table resource (the batches table)."""
