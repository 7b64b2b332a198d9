"""Datasets in a DynamoDB table (AWS mode)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from core.dynamodb import RETRY_DELAYS, DynamoStore
from datasets.adapters import DATASET_SPEC, DatasetRecords


class DynamoDatasetRepository(DatasetRecords):
    """DatasetRepository over a boto3 DynamoDB Table resource (the datasets table).

    `retry_delays`/`sleep` tune the backoff on throttling (tests pass zeros).
    """

    def __init__(
        self,
        table: Any,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(DynamoStore(table, DATASET_SPEC, retry_delays=retry_delays, sleep=sleep))
