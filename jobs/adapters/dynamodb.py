"""Jobs in a DynamoDB table (AWS mode)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from core.dynamodb import RETRY_DELAYS, DynamoStore
from jobs.adapters import JOB_SPEC, JobRecords


class DynamoJobRepository(JobRecords):
    """JobRepository over a boto3 DynamoDB Table resource (the jobs table).

    `retry_delays`/`sleep` tune the backoff on throttling (tests pass zeros).
    """

    def __init__(
        self,
        table: Any,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(DynamoStore(table, JOB_SPEC, retry_delays=retry_delays, sleep=sleep))
