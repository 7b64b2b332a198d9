"""Datasets in a DynamoDB table (AWS mode)."""

from __future__ import annotations

from core.dynamodb import DynamoRepository
from datasets.adapters import DatasetRecords


class DynamoDatasetRepository(DynamoRepository, DatasetRecords):
    """DatasetRepository over a boto3 DynamoDB Table resource (the datasets table)."""
