"""One behaviour suite for the job record's two writers, over SQLite and DynamoDB (moto).

The web (`jobs.adapters`, on `core/sqlite.py` / `core/dynamodb.py`) and the training
container (`training_image/jobstore.py`) write the same records. They stay two stores
(`training_image/dynamo.py` says why) and must behave as one: every test runs each side on
each backend, and what one side writes is read back by both. Conditional writes, number
handling (Decimal on DynamoDB), retries on throttling (a locked file on SQLite), and the
container's reclaim of an interrupted job.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from core.exceptions import InvalidTransition, NotFound, ServiceUnavailable
from jobs.adapters.dynamodb import DynamoJobRepository
from jobs.adapters.sqlite import SqliteJobRepository
from tests.conftest import make_job
from tests.core.moto_tables import moto_table
from training_image.contract import RECLAIMABLE_ERROR, Job, JobStatus
from training_image.dynamo import RETRY_DELAYS
from training_image.jobstore import DynamoJobStore, SqliteJobStore


@dataclass
class Table:
    """One job table with both writers on it."""

    backend: str
    web: Any
    container: Any
    dynamo_table: Any = None
    path: Any = None
    sleeps: list[float] = field(default_factory=list)

    def add(self, **fields: Any) -> Job:
        return self.web.add(make_job(**fields))


class WebSide:
    """The web's repository, answering as the container does: did the write happen?"""

    name = "web"

    def __init__(self, repository: Any) -> None:
        self.repository = repository

    def transition(self, job_id: str, to: JobStatus, **kwargs: Any) -> bool:
        try:
            self.repository.transition(job_id, to, **kwargs)
        except (InvalidTransition, NotFound):
            return False
        return True

    def update(self, job_id: str, *, only_if_status=(JobStatus.RUNNING,), **fields: Any) -> bool:
        try:
            self.repository.update(job_id, only_if_status=only_if_status, **fields)
        except (InvalidTransition, NotFound):
            return False
        return True

    def get(self, job_id: str) -> Job | None:
        return self.repository.get(job_id)


class ContainerSide:
    name = "container"

    def __init__(self, store: Any) -> None:
        self.store = store

    def transition(self, job_id: str, to: JobStatus, **kwargs: Any) -> bool:
        return self.store.transition(job_id, to, **kwargs)

    def update(self, job_id: str, **kwargs: Any) -> bool:
        return self.store.update(job_id, **kwargs)

    def get(self, job_id: str) -> Job | None:
        return self.store.get(job_id)


@pytest.fixture(params=["sqlite", "dynamodb"])
def table(request, tmp_path) -> Iterator[Table]:
    sleeps: list[float] = []
    if request.param == "sqlite":
        path = tmp_path / "records.sqlite3"
        web = SqliteJobRepository(path)  # the web owns the file and creates its schema
        yield Table("sqlite", web, SqliteJobStore(path), path=path, sleeps=sleeps)
        return
    with moto_table("jobs") as dynamo:
        retry = {"retry_delays": RETRY_DELAYS, "sleep": sleeps.append}
        yield Table(
            "dynamodb",
            DynamoJobRepository(dynamo, **retry),
            DynamoJobStore(dynamo, **retry),
            dynamo_table=dynamo,
            sleeps=sleeps,
        )


@pytest.fixture(params=["web", "container"])
def side(request, table):
    return WebSide(table.web) if request.param == "web" else ContainerSide(table.container)


def both_read(table: Table, job_id: str) -> list[Job]:
    """The record as each side reads it."""
    return [table.web.get(job_id), table.container.get(job_id)]


# --------------------------------------------------------------------------- conditional writes


def test_a_claim_is_one_conditional_write(table, side):
    job = table.add(status=JobStatus.QUEUED)

    first = side.transition(job.job_id, JobStatus.RUNNING, expected=(JobStatus.QUEUED,))
    second = side.transition(job.job_id, JobStatus.RUNNING, expected=(JobStatus.QUEUED,))

    assert (first, second) == (True, False)
    assert [j.status for j in both_read(table, job.job_id)] == [JobStatus.RUNNING] * 2


def test_a_late_write_never_brings_a_cancelled_job_back(table, side):
    job = table.add(status=JobStatus.CANCELLED)

    completed = side.transition(job.job_id, JobStatus.COMPLETED, metrics={"accuracy": 1.0})
    progressed = side.update(job.job_id, progress={"phase": "searching"})

    assert (completed, progressed) == (False, False)
    for stored in both_read(table, job.job_id):
        assert stored.status == JobStatus.CANCELLED
        assert stored.metrics == {} and stored.progress == {}


def test_a_write_to_a_missing_record_does_not_create_it(table, side):
    missing = make_job().job_id

    assert side.transition(missing, JobStatus.RUNNING) is False
    assert side.update(missing, progress={"phase": "x"}) is False
    assert both_read(table, missing) == [None, None]


# --------------------------------------------------------------------------- numbers


def test_numbers_read_back_the_same_whoever_wrote_them(table, side):
    job = table.add(status=JobStatus.RUNNING)
    progress = {
        "tenth": 0.1,
        "tiny": 1e-7,
        "huge": 9.5e125,  # near DynamoDB's largest number (< 1e126)
        "whole": 3.0,
        "exact_int": 2**53 + 1,
        "negative": -17,
        "flag": True,
        "nan": math.nan,
        "inf": math.inf,
        "numpy": np.float64(0.75),
        "numpy_int": np.int64(7),
        "nested": {"scores": [0.5, 1.25, 2], "labels": {"0": "setosa"}, "note": ""},
    }

    assert side.update(job.job_id, progress=progress) is True

    for stored in both_read(table, job.job_id):
        read = stored.progress
        assert read == {
            "tenth": 0.1,
            "tiny": 1e-7,
            "huge": 9.5e125,
            "whole": 3,  # DynamoDB gives a whole float back as the int 3; SQLite keeps 3.0
            "exact_int": 2**53 + 1,
            "negative": -17,
            "flag": True,
            "nan": None,
            "inf": None,
            "numpy": 0.75,
            "numpy_int": 7,
            "nested": {"scores": [0.5, 1.25, 2], "labels": {"0": "setosa"}, "note": ""},
        }
        assert type(read["tenth"]) is float and repr(read["tenth"]) == "0.1"
        assert type(read["exact_int"]) is int
        assert type(read["flag"]) is bool
        assert type(read["numpy_int"]) is int


@pytest.mark.parametrize("table", ["dynamodb"], indirect=True)  # SQLite holds any finite float
def test_a_number_dynamodb_cannot_hold_fails_the_write_loudly_on_both_sides(table, side):
    job = table.add(status=JobStatus.RUNNING)

    with pytest.raises(ArithmeticError):  # decimal.Overflow from boto3's serializer
        side.update(job.job_id, progress={"huge": 2.5e300})

    assert [j.progress for j in both_read(table, job.job_id)] == [{}, {}]


# --------------------------------------------------------------------------- retries


class Throttled:
    """A table method that DynamoDB throttles `times` times before it answers."""

    def __init__(self, method: Any, times: int) -> None:
        self.method, self.times, self.calls = method, times, 0

    def __call__(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.times:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "UpdateItem",
            )
        return self.method(**kwargs)


def test_a_throttled_write_is_retried_with_the_shared_backoff(table, side, monkeypatch):
    job = table.add(status=JobStatus.RUNNING)
    if table.backend == "sqlite":
        # SQLite's equivalent: another process holds the write lock for a moment.
        holder = sqlite3.connect(table.path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
        release.start()
        try:
            written = side.update(job.job_id, progress={"phase": "searching"})
        finally:
            release.join()
            holder.close()
        assert written is True
    else:
        throttled = Throttled(table.dynamo_table.update_item, times=2)
        monkeypatch.setattr(table.dynamo_table, "update_item", throttled)

        written = side.update(job.job_id, progress={"phase": "searching"})

        assert written is True
        assert throttled.calls == 3
        assert table.sleeps == list(RETRY_DELAYS[:2])
    assert [j.progress for j in both_read(table, job.job_id)] == [{"phase": "searching"}] * 2


@pytest.mark.parametrize("table", ["dynamodb"], indirect=True)  # SQLite does not throttle
def test_persistent_throttling_gives_up_after_the_same_attempts_and_writes_nothing(
    table, side, monkeypatch
):
    job = table.add(status=JobStatus.RUNNING)
    throttled = Throttled(table.dynamo_table.update_item, times=100)
    monkeypatch.setattr(table.dynamo_table, "update_item", throttled)

    with pytest.raises((ServiceUnavailable, ClientError)) as raised:
        side.update(job.job_id, progress={"phase": "searching"})

    assert throttled.calls == len(RETRY_DELAYS) + 1
    assert table.sleeps == list(RETRY_DELAYS)
    if side.name == "web":  # the web turns it into the app's 503
        assert "throttled 5 attempts in a row" in raised.value.message
    monkeypatch.undo()
    assert [j.progress for j in both_read(table, job.job_id)] == [{}, {}]


# --------------------------------------------------------------------------- reclaim


def test_only_a_retry_of_the_same_run_reclaims_an_interrupted_job_once(table, side):
    job = table.add(status=JobStatus.RUNNING, runner_job_id="batch-1", attempt=1)
    # Either side may record the interruption (the container on SIGTERM, the web's reconcile).
    assert side.transition(
        job.job_id,
        JobStatus.FAILED,
        error_type=str(RECLAIMABLE_ERROR),
        error_message="Spot reclaim",
    )

    web_resurrects = WebSide(table.web).transition(job.job_id, JobStatus.RUNNING)
    other_run = table.container.reclaim(job.job_id, runner_job_id="batch-2", attempt=1)
    stale_attempt = table.container.reclaim(job.job_id, runner_job_id="batch-1", attempt=2)
    retry = table.container.reclaim(job.job_id, runner_job_id="batch-1", attempt=1)
    again = table.container.reclaim(job.job_id, runner_job_id="batch-1", attempt=1)

    assert (web_resurrects, other_run, stale_attempt, retry, again) == (
        False,
        False,
        False,
        True,
        False,
    )
    for stored in both_read(table, job.job_id):
        assert stored.status == JobStatus.RUNNING
        assert stored.attempt == 2
        assert stored.runner_job_id == "batch-1"
