"""The container's writer to the job table: the local SQLite file or a DynamoDB table.

Every status change is a conditional write (`contract.sources_for`), and progress is only
written while the job is `running`, so a late write from this container can never bring a
cancelled or finished job back to life. The one exception, `reclaim` (a retried Batch
attempt taking back its interrupted job), is conditional on more than the status:
`contract.can_reclaim` names the facts, and the write checks each of them. The web owns
the table and its schema (`contract.SQLITE_SCHEMA`, `contract.DYNAMO_JOBS_KEY`); the
container only reads and updates one record.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

from training_image.contract import (
    DYNAMO_JOBS_KEY,
    RECLAIM_FROM,
    RECLAIM_TO,
    RECLAIMABLE_ERROR,
    Job,
    JobStatus,
    sources_for,
    sqlite_job_columns,
    utcnow,
)
from training_image.serialize import jsonable

SQLITE_JOBS_TABLE = "jobs"  # as in contract.SQLITE_SCHEMA
T = TypeVar("T")


class JobStore(Protocol):
    def get(self, job_id: str) -> Job | None: ...

    def transition(
        self,
        job_id: str,
        to: JobStatus,
        *,
        expected: Iterable[JobStatus] | None = None,
        **fields: Any,
    ) -> bool:
        """Set status `to` (and `fields`) only from `expected`; False when the job was elsewhere."""

    def update(
        self,
        job_id: str,
        *,
        only_if_status: Iterable[JobStatus] = (JobStatus.RUNNING,),
        **fields: Any,
    ) -> bool:
        """Set non-status fields only while the job is in `only_if_status`."""

    def reclaim(self, job_id: str, *, runner_job_id: str, attempt: int, **fields: Any) -> bool:
        """`failed -> running` for a retry of run `runner_job_id`; False when a fact changed."""


def _reclaim_write(attempt: int, runner_job_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields to set, facts the record must still hold) of a re-claim (contract.can_reclaim).

    Matching `attempt` too makes the increment exact: two retries racing for the same
    record cannot both win, and neither can one that read a record since moved on.
    """
    facts = {
        "error_type": str(RECLAIMABLE_ERROR),
        "runner_job_id": runner_job_id,
        "attempt": int(attempt),
    }
    return {"status": str(RECLAIM_TO), "attempt": int(attempt) + 1}, facts


def _matches(item: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    return all(item.get(name) == value for name, value in facts.items())


class SqliteJobStore:
    """One row of the web's SQLite job table (contract.SQLITE_SCHEMA).

    A row holds the whole record as JSON in `item`, with the indexed fields mirrored as
    columns (contract.sqlite_job_columns). A conditional write reads and rewrites the row
    inside one `BEGIN IMMEDIATE` transaction, so no other writer can slip in between the
    status check and the update.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            # Never create the web's database: a missing file is a deployment error.
            raise FileNotFoundError(f"job table file {self.path} does not exist")
        # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
        return sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)

    def get(self, job_id: str) -> Job | None:
        con = self._connect()
        try:
            row = con.execute(
                f"SELECT item FROM {SQLITE_JOBS_TABLE} WHERE job_id = ?", (job_id,)
            ).fetchone()
        finally:
            con.close()
        return None if row is None else Job.from_item(json.loads(row[0]))

    def _write(
        self,
        job_id: str,
        statuses: Iterable[JobStatus],
        fields: dict[str, Any],
        facts: Mapping[str, Any] | None = None,
    ) -> bool:
        allowed = {str(s) for s in statuses}
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                row = con.execute(
                    f"SELECT status, item FROM {SQLITE_JOBS_TABLE} WHERE job_id = ?", (job_id,)
                ).fetchone()
                if row is None or row[0] not in allowed:
                    con.execute("ROLLBACK")
                    return False
                item = json.loads(row[1])
                if facts and not _matches(item, facts):
                    con.execute("ROLLBACK")
                    return False
                item.update(jsonable(fields))
                item["updated_at"] = utcnow()
                columns = sqlite_job_columns(Job.from_item(item))
                cursor = con.execute(
                    f"UPDATE {SQLITE_JOBS_TABLE} SET item = ?, status = ?, updated_at = ? "
                    "WHERE job_id = ? AND status = ?",
                    (columns["item"], columns["status"], columns["updated_at"], job_id, row[0]),
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return cursor.rowcount == 1
        finally:
            con.close()

    def transition(
        self,
        job_id: str,
        to: JobStatus,
        *,
        expected: Iterable[JobStatus] | None = None,
        **fields: Any,
    ) -> bool:
        statuses = sources_for(to) if expected is None else expected
        return self._write(job_id, statuses, {**fields, "status": str(JobStatus(to))})

    def update(
        self,
        job_id: str,
        *,
        only_if_status: Iterable[JobStatus] = (JobStatus.RUNNING,),
        **fields: Any,
    ) -> bool:
        return self._write(job_id, only_if_status, fields)

    def reclaim(self, job_id: str, *, runner_job_id: str, attempt: int, **fields: Any) -> bool:
        changes, facts = _reclaim_write(attempt, runner_job_id)
        return self._write(job_id, (RECLAIM_FROM,), {**fields, **changes}, facts)


class DynamoJobStore:
    """One item of the DynamoDB jobs table (partition key contract.DYNAMO_JOBS_KEY)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, job_id: str) -> Job | None:
        item = self.table.get_item(Key={DYNAMO_JOBS_KEY: job_id}, ConsistentRead=True).get("Item")
        return None if item is None else Job.from_item(_from_dynamo(item))

    def _write(
        self,
        job_id: str,
        statuses: Iterable[JobStatus],
        fields: dict[str, Any],
        facts: Mapping[str, Any] | None = None,
    ) -> bool:
        from botocore.exceptions import ClientError

        # updated_at is the range key of the status index: every write moves it.
        fields = {**fields, "updated_at": utcnow()}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _to_dynamo(value) for i, value in enumerate(fields.values())}
        # As the web's adapter does, an empty field is left out of the item (REMOVE), never
        # stored as NULL, so a GSI key can never be empty.
        sets = [f"#f{i} = :v{i}" for i in range(len(fields)) if values[f":v{i}"] is not None]
        removes = [f"#f{i}" for i in range(len(fields)) if values[f":v{i}"] is None]
        values = {k: v for k, v in values.items() if v is not None}
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        allowed = {f":s{i}": str(s) for i, s in enumerate(statuses)}
        condition = f"attribute_exists(#key) AND #status IN ({', '.join(allowed)})"
        fact_names = {f"#c{i}": name for i, name in enumerate(facts or {})}
        fact_values = {
            f":c{i}": _to_dynamo(value) for i, value in enumerate((facts or {}).values())
        }
        for i in range(len(fact_names)):
            condition += f" AND #c{i} = :c{i}"
        try:
            self.table.update_item(
                Key={DYNAMO_JOBS_KEY: job_id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    **names,
                    **fact_names,
                    "#status": "status",
                    "#key": DYNAMO_JOBS_KEY,
                },
                ExpressionAttributeValues={**values, **allowed, **fact_values},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def transition(
        self,
        job_id: str,
        to: JobStatus,
        *,
        expected: Iterable[JobStatus] | None = None,
        **fields: Any,
    ) -> bool:
        statuses = sources_for(to) if expected is None else expected
        return self._write(job_id, statuses, {**fields, "status": str(JobStatus(to))})

    def update(
        self,
        job_id: str,
        *,
        only_if_status: Iterable[JobStatus] = (JobStatus.RUNNING,),
        **fields: Any,
    ) -> bool:
        return self._write(job_id, only_if_status, fields)

    def reclaim(self, job_id: str, *, runner_job_id: str, attempt: int, **fields: Any) -> bool:
        changes, facts = _reclaim_write(attempt, runner_job_id)
        return self._write(job_id, (RECLAIM_FROM,), {**fields, **changes}, facts)


def _to_dynamo(value: Any) -> Any:
    """DynamoDB's types: Decimal numbers, string map keys, no empty strings, no NaN."""
    value = jsonable(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    if value == "":
        return None
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_from_dynamo(v) for v in value]
    return value


def open_job_store(kind: str, location: str) -> JobStore:
    """The job store for `kind` ("sqlite" or "dynamodb") at `location` (file or table name)."""
    if kind == "sqlite":
        return SqliteJobStore(location)
    if kind == "dynamodb":
        import boto3

        resource = boto3.resource("dynamodb", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        return DynamoJobStore(resource.Table(location))
    raise ValueError(f"unknown job store {kind!r}")


_RETRYABLE_DYNAMO = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"}
)


def with_retries(call: Callable[[], T], *, attempts: int = 3, delay: float = 0.5) -> T:
    """Run `call()` again after a transient table error (a locked SQLite file, throttling)."""
    for attempt in range(attempts):
        try:
            return call()
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
        except Exception as error:  # botocore errors, without importing botocore here
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if attempt == attempts - 1 or code not in _RETRYABLE_DYNAMO:
                raise
        time.sleep(delay * (2**attempt))
    raise AssertionError("unreachable")
