"""How both writers of the job table speak DynamoDB: the value codec and the throttling retries.

There are two writers of a job record: the web (`core/dynamodb.py` under
`jobs/adapters/dynamodb.py`, the whole record repository: insert, list, conditional
updates, delete) and the training container (`training_image/jobstore.py`: four
conditional writes of one record). They stay two stores, held to one behaviour suite
(`tests/core/test_job_writers.py`, over SQLite and DynamoDB, each side's writes read
back by the other) rather than made one store, because

- the container must stay Django-free and light: its image ships `training_image/`
  alone, while the web's store is built on `core.records` (pagination, the app's
  exception hierarchy, the datasets table) that the container has no use for;
- the two answer different questions: the web raises `InvalidTransition`/`NotFound`
  and returns the new record (`ALL_NEW`); the container only needs "did my write
  happen", plus `reclaim`, a write conditional on facts beyond the status that the web
  never makes.

What must not differ between them is defined once, here, and imported by both (the web
may import training_image's light modules): how a value becomes a DynamoDB attribute and
back (Decimal numbers, string map keys, a whole float read back as an int), which errors
count as throttling, and the backoff between throttled attempts. Only throttling is
retried in a write: DynamoDB did not apply a throttled request, so retrying can never
apply a conditional write twice (an `InternalServerError` may have been applied).

Stdlib only; boto3 is imported by the callers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")

THROTTLING_ERRORS = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# Waits between attempts of a throttled call (seconds): five attempts in about 1.5 s.
RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8)


def to_dynamo(value: Any) -> Any:
    """A plain JSON-shaped value as boto3's resource layer can write it (floats as Decimal)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        # repr gives the shortest text that reads back as the same float.
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_dynamo(value: Any) -> Any:
    """A value read through boto3's resource layer as plain Python (Decimal -> int or float).

    DynamoDB trims trailing zeros, so a whole float (1.0) comes back as the int 1. A whole
    number in exponent form (`9.5E+125`, what `repr` gives a large float) comes back as a
    float: as an int it would be a 126-digit number the float never was.
    """
    if isinstance(value, Decimal):
        whole = value == value.to_integral_value() and value.as_tuple().exponent <= 0
        return int(value) if whole else float(value)
    if isinstance(value, Mapping):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [from_dynamo(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(from_dynamo(v) for v in value)
    return value


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    return str((getattr(error, "response", None) or {}).get("Error", {}).get("Code", ""))


def call_with_throttle_retries(
    call: Callable[[], T],
    *,
    retry_delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, again after each wait of `retry_delays` while DynamoDB throttles it.

    Raises:
        The last throttling error once the waits are used up; any other error at once.
    """
    delays = tuple(retry_delays)
    for attempt in range(len(delays) + 1):
        try:
            return call()
        except Exception as error:
            if error_code(error) not in THROTTLING_ERRORS or attempt == len(delays):
                raise
            sleep(delays[attempt])
    raise AssertionError("unreachable")  # pragma: no cover
