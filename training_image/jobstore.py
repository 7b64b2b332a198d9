"""The container's writer to the job table: the local SQLite file or a DynamoDB table.

Every status change is a conditional write (`contract.sources_for`), and progress is only
written while the job is `running`, so a late write from this container can never bring a
cancelled or finished job back to life. The one exception, `reclaim` (a retried Batch
attempt taking back its interrupted job), is conditional on more than the status:
`contract.can_reclaim` names the facts, and the write checks each of them. The web owns
the table and its schema (`contract.SQLITE_SCHEMA`, `contract.DYNAMO_JOBS_KEY`); the
container only reads and updates one record.

This is one of the job record's two writers; the web's is `core/dynamodb.py`. They share
the DynamoDB codec and throttling retries (`training_image/dynamo.py`, which says why they
are two stores) and pass one behaviour suite, `tests/core/test_job_writers.py`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from training_image.contract import (
    DYNAMO_JOBS_KEY,
    JOB_OWNER_KEYS,
    RECLAIM_FROM,
    RECLAIM_TO,
    RECLAIMABLE_ERROR,
    Job,
    JobStatus,
    job_derived_attributes,
    sources_for,
    sqlite_job_columns,
    utcnow,
)
from training_image.dynamo import (
    RETRY_DELAYS,
    THROTTLING_ERRORS,
    call_with_throttle_retries,
    error_code,
    from_dynamo,
    to_dynamo,
)
from training_image.serialize import jsonable

SQLITE_JOBS_TABLE = "jobs"  # as in contract.SQLITE_SCHEMA
T = TypeVar("T")


class JobStore(ABC):
    """The container's writes to one job record, each conditional on where the record stands.

    The operations (claim and finish through `transition`, progress through `update`, a
    retry's `reclaim`) are built here once, as the statuses and facts the record must hold
    plus the fields to set; a backend only implements `get` and `conditional_update`.
    """

    @abstractmethod
    def get(self, job_id: str) -> Job | None:
        """The stored record, or None when there is none."""

    @abstractmethod
    def conditional_update(
        self,
        job_id: str,
        statuses: tuple[str, ...],
        changes: Mapping[str, Any],
        facts: Mapping[str, Any],
    ) -> bool:
        """Set `changes` only while the status is one of `statuses` and every fact holds.

        Args:
            job_id: The record to write.
            statuses: The statuses (as strings) the record may be in.
            changes: The fields to set, `updated_at` included.
            facts: Further fields the record must still hold, name to exact value.

        Returns:
            True when the write happened; False when the record is missing or elsewhere.
        """

    def _write(
        self,
        job_id: str,
        statuses: Iterable[JobStatus],
        fields: Mapping[str, Any],
        facts: Mapping[str, Any] | None = None,
    ) -> bool:
        # updated_at is the range key of DynamoDB's status index and a mirrored SQLite
        # column: every write moves it.
        changes = {**fields, "updated_at": utcnow()}
        allowed = tuple(dict.fromkeys(str(s) for s in statuses))
        return self.conditional_update(job_id, allowed, changes, facts or {})

    def transition(
        self,
        job_id: str,
        to: JobStatus,
        *,
        expected: Iterable[JobStatus] | None = None,
        **fields: Any,
    ) -> bool:
        """Set status `to` (and `fields`) only from `expected`; False when the job was elsewhere.

        Args:
            job_id: The record to write.
            to: The new status.
            expected: The statuses it may move from; by default `contract.sources_for(to)`.
            **fields: Further fields to set with the status.

        Returns:
            True when the record moved.
        """
        statuses = sources_for(to) if expected is None else expected
        return self._write(job_id, statuses, {**fields, "status": str(JobStatus(to))})

    def update(
        self,
        job_id: str,
        *,
        only_if_status: Iterable[JobStatus] = (JobStatus.RUNNING,),
        **fields: Any,
    ) -> bool:
        """Set non-status fields only while the job is in `only_if_status`.

        Returns:
            True when the fields were written.
        """
        return self._write(job_id, only_if_status, fields)

    def reclaim(self, job_id: str, *, runner_job_id: str, attempt: int, **fields: Any) -> bool:
        """`failed -> running` for a retry of run `runner_job_id`; False when a fact changed.

        Matching `attempt` too makes the increment exact: two retries racing for the same
        record cannot both win, and neither can one that read a record since moved on.

        Args:
            job_id: The record to write.
            runner_job_id: The run (Batch job) the interrupted record must still name.
            attempt: The attempt the record must still hold; it becomes `attempt + 1`.
            **fields: Further fields to set with the re-claim.

        Returns:
            True when this retry took the job back.
        """
        facts = {
            "error_type": str(RECLAIMABLE_ERROR),
            "runner_job_id": runner_job_id,
            "attempt": int(attempt),
        }
        changes = {**fields, "status": str(RECLAIM_TO), "attempt": int(attempt) + 1}
        return self._write(job_id, (RECLAIM_FROM,), changes, facts)


class SqliteJobStore(JobStore):
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

    def conditional_update(
        self,
        job_id: str,
        statuses: tuple[str, ...],
        changes: Mapping[str, Any],
        facts: Mapping[str, Any],
    ) -> bool:
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                row = con.execute(
                    f"SELECT status, item FROM {SQLITE_JOBS_TABLE} WHERE job_id = ?", (job_id,)
                ).fetchone()
                if row is None or row[0] not in statuses:
                    con.execute("ROLLBACK")
                    return False
                item = json.loads(row[1])
                if not all(item.get(name) == value for name, value in facts.items()):
                    con.execute("ROLLBACK")
                    return False
                item.update(jsonable(dict(changes)))
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


class DynamoJobStore(JobStore):
    """One item of the DynamoDB jobs table (partition key contract.DYNAMO_JOBS_KEY).

    Each call is retried while DynamoDB throttles it, with the web's backoff
    (`training_image.dynamo`); `retry_delays`/`sleep` tune it (tests pass zeros).
    """

    def __init__(
        self,
        table: Any,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = table
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep
        self._owners: dict[str, str] = {}

    def _call(self, call: Callable[[], T]) -> T:
        return call_with_throttle_retries(call, retry_delays=self.retry_delays, sleep=self.sleep)

    def get(self, job_id: str) -> Job | None:
        response = self._call(
            lambda: self.table.get_item(Key={DYNAMO_JOBS_KEY: job_id}, ConsistentRead=True)
        )
        item = response.get("Item")
        return None if item is None else Job.from_item(from_dynamo(item))

    def _owner_of(self, job_id: str) -> str | None:
        if job_id not in self._owners:
            item = self.table.get_item(
                Key={DYNAMO_JOBS_KEY: job_id},
                ConsistentRead=True,
                ProjectionExpression="owner_id",
            ).get("Item")
            if not item:
                return None
            self._owners[job_id] = str(item["owner_id"])
        return self._owners[job_id]

    def conditional_update(
        self,
        job_id: str,
        statuses: tuple[str, ...],
        changes: Mapping[str, Any],
        facts: Mapping[str, Any],
    ) -> bool:
        from botocore.exceptions import ClientError

        if changes.keys() & set(JOB_OWNER_KEYS.values()):
            # The history's owner + status / problem type indexes key on attributes every
            # writer keeps (contract.job_derived_attributes); the owner never changes.
            owner = self._owner_of(job_id)
            if owner:
                changes = {**changes, **job_derived_attributes(changes, owner)}
        names = {f"#f{i}": name for i, name in enumerate(changes)}
        values = {f":v{i}": _to_dynamo(value) for i, value in enumerate(changes.values())}
        # As the web's adapter does, an empty field is left out of the item (REMOVE), never
        # stored as NULL, so a GSI key can never be empty.
        sets = [f"#f{i} = :v{i}" for i in range(len(changes)) if values[f":v{i}"] is not None]
        removes = [f"#f{i}" for i in range(len(changes)) if values[f":v{i}"] is None]
        values = {k: v for k, v in values.items() if v is not None}
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        allowed = {f":s{i}": status for i, status in enumerate(statuses)}
        condition = f"attribute_exists(#key) AND #status IN ({', '.join(allowed)})"
        fact_names = {f"#c{i}": name for i, name in enumerate(facts)}
        fact_values = {f":c{i}": _to_dynamo(value) for i, value in enumerate(facts.values())}
        for i in range(len(fact_names)):
            condition += f" AND #c{i} = :c{i}"
        try:
            self._call(
                lambda: self.table.update_item(
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
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _to_dynamo(value: Any) -> Any:
    """A field's value as DynamoDB stores it (`training_image.dynamo.to_dynamo` after
    `jsonable`: numpy values, NaN and inf made JSON-safe). An empty field ("" or None)
    becomes None, which the write turns into REMOVE, as the web leaves None fields out."""
    value = to_dynamo(jsonable(value))
    return None if value == "" else value


def open_job_store(kind: str, location: str) -> JobStore:
    """The job store for `kind` ("sqlite" or "dynamodb") at `location` (file or table name)."""
    if kind == "sqlite":
        return SqliteJobStore(location)
    if kind == "dynamodb":
        import boto3

        resource = boto3.resource("dynamodb", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        return DynamoJobStore(resource.Table(location))
    raise ValueError(f"unknown job store {kind!r}")


_RETRYABLE_DYNAMO = THROTTLING_ERRORS | {"InternalServerError"}


def with_retries(call: Callable[[], T], *, attempts: int = 3, delay: float = 0.5) -> T:
    """Run `call()` again after a transient table error (a locked SQLite file, throttling)."""
    for attempt in range(attempts):
        try:
            return call()
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
        except Exception as error:  # botocore errors, without importing botocore here
            if attempt == attempts - 1 or error_code(error) not in _RETRYABLE_DYNAMO:
                raise
        time.sleep(delay * (2**attempt))
    raise AssertionError("unreachable")
