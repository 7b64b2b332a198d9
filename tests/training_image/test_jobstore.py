"""The container's job-table writer: conditional transitions, progress only while running."""

from __future__ import annotations

import math

import pytest

from tests.training_image.jobenv import LocalDeployment, seeded_job_store
from training_image.contract import JobStatus, new_id
from training_image.jobstore import SqliteJobStore


@pytest.fixture(params=["sqlite", "dynamo"])
def store(request, tmp_path):
    with seeded_job_store(request.param, tmp_path) as store:
        yield store


def test_it_claims_a_queued_job_once(store):
    job = store.add(status=JobStatus.QUEUED)

    first = store.transition(job.job_id, JobStatus.RUNNING, expected=(JobStatus.QUEUED,))
    second = store.transition(job.job_id, JobStatus.RUNNING, expected=(JobStatus.QUEUED,))

    assert (first, second) == (True, False)
    assert store.get(job.job_id).status == JobStatus.RUNNING


def test_it_never_resurrects_a_cancelled_job(store):
    job = store.add(status=JobStatus.CANCELLED)

    claimed = store.transition(job.job_id, JobStatus.RUNNING, expected=(JobStatus.QUEUED,))
    completed = store.transition(job.job_id, JobStatus.COMPLETED, metrics={"accuracy": 1.0})
    progressed = store.update(job.job_id, progress={"phase": "searching"})

    assert (claimed, completed, progressed) == (False, False, False)
    stored = store.get(job.job_id)
    assert stored.status == JobStatus.CANCELLED
    assert stored.metrics == {} and stored.progress == {}


def test_it_writes_progress_only_while_running(store):
    job = store.add(status=JobStatus.RUNNING)

    written = store.update(job.job_id, progress={"phase": "searching", "trials": 3})
    store.transition(job.job_id, JobStatus.COMPLETED)
    late = store.update(job.job_id, progress={"phase": "searching", "trials": 4})

    assert (written, late) == (True, False)
    assert store.get(job.job_id).progress["trials"] == 3


def test_it_stores_json_safe_values_with_string_keys(store):
    import numpy as np

    job = store.add(status=JobStatus.RUNNING)

    store.transition(
        job.job_id,
        JobStatus.COMPLETED,
        metrics={"accuracy": np.float64(0.75), "log_loss": math.nan, "trials": np.int64(7)},
        preprocessing={"target_mapping": {0: "setosa", 1: "versicolor"}},
    )

    stored = store.get(job.job_id)
    assert stored.metrics == {"accuracy": 0.75, "log_loss": None, "trials": 7}
    assert stored.preprocessing == {"target_mapping": {"0": "setosa", "1": "versicolor"}}


def test_it_reports_a_missing_job_as_not_written(store):
    assert store.transition(new_id(), JobStatus.RUNNING) is False
    assert store.get(new_id()) is None


def test_it_moves_the_updated_at_column_with_every_sqlite_write(tmp_path):
    import sqlite3

    deployment = LocalDeployment(tmp_path).create()
    job = deployment.add_job(status=JobStatus.RUNNING)
    store = SqliteJobStore(deployment.records)

    store.update(job.job_id, progress={"phase": "loading"})

    con = sqlite3.connect(deployment.records)
    column, status = con.execute(
        "SELECT updated_at, status FROM jobs WHERE job_id = ?", (job.job_id,)
    ).fetchone()
    con.close()
    assert column == store.get(job.job_id).updated_at > job.updated_at
    assert status == JobStatus.RUNNING


def test_it_refuses_to_create_a_missing_sqlite_file(tmp_path):
    store = SqliteJobStore(tmp_path / "nowhere.sqlite3")

    with pytest.raises(FileNotFoundError, match="does not exist"):
        store.get("x")
    assert not (tmp_path / "nowhere.sqlite3").exists()
