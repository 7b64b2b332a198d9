"""Storage details of SqliteJobRepository: WAL, index seeks, rows, and writers in other processes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.exceptions import InvalidTransition
from core.records import Where
from jobs.adapters import JOB_SPEC
from jobs.adapters.sqlite import SqliteJobRepository
from jobs.repository import JobFilter
from tests.conftest import make_job
from training_image.contract import (
    DYNAMO_DATASET_INDEX,
    DYNAMO_OWNER_PROBLEM_INDEX,
    DYNAMO_OWNER_STATUS_INDEX,
    SQLITE_SCHEMA,
    JobStatus,
    owner_key,
    sqlite_job_columns,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def path(tmp_path):
    return tmp_path / "records.sqlite3"


@pytest.fixture
def repo(path):
    return SqliteJobRepository(path)


def raw_row(path, job_id):
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        return dict(connection.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone())


def test_it_creates_the_file_in_wal_mode(tmp_path):
    path = tmp_path / "fresh" / "records.sqlite3"
    SqliteJobRepository(path)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert {"jobs", "datasets", "jobs_owner_created", "jobs_status_updated"} <= tables


def test_it_lists_by_seeking_the_owner_index(repo):
    store = repo._store
    for after in (None, ("alice", "2025-01-01T00:00:00.000000Z", "some-id")):
        plan = store.query_plan(JOB_SPEC.owner_index, "alice", after=after)
        assert "USING INDEX jobs_owner_created" in plan
        assert "SCAN" not in plan and "TEMP B-TREE" not in plan


@pytest.mark.parametrize(
    ("index_name", "sqlite_index"),
    [
        (DYNAMO_OWNER_STATUS_INDEX, "jobs_owner_status_created"),
        (DYNAMO_OWNER_PROBLEM_INDEX, "jobs_owner_problem_created"),
        (DYNAMO_DATASET_INDEX, "jobs_dataset_created"),
    ],
)
def test_it_filters_by_seeking_an_index(repo, index_name, sqlite_index):
    where = Where(equals=(("problem_type", "binary"),), has=(("tags", "v2"),), text="churn")
    for after in (None, ("alice|completed", "2025-01-01T00:00:00.000000Z", "some-id")):
        plan = repo._store.query_plan(
            JOB_SPEC.index(index_name), "alice|completed", after=after, where=where
        )
        assert f"USING INDEX {sqlite_index}" in plan
        assert "SCAN jobs" not in plan and "TEMP B-TREE" not in plan


def test_it_adds_the_filter_columns_to_a_file_of_an_earlier_version(path):
    with sqlite3.connect(path) as connection:
        connection.executescript(SQLITE_SCHEMA)
        columns = sqlite_job_columns(make_job(owner_id="alice", status="failed"))
        connection.execute(
            f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            list(columns.values()),
        )
    repo = SqliteJobRepository(path)
    with sqlite3.connect(path) as connection:
        row = connection.execute("SELECT owner_status, owner_problem FROM jobs").fetchone()
    assert row == (owner_key("alice", "failed"), None)
    assert len(repo.list_for_owner("alice", filters=JobFilter.build(status="failed")).items) == 1


def test_it_mirrors_the_indexed_columns_of_each_write(repo, path):
    job = repo.add(make_job(owner_id="alice"))
    queued = repo.transition(job.job_id, JobStatus.QUEUED)
    row = raw_row(path, job.job_id)
    assert row["status"] == "queued" and row["updated_at"] == queued.updated_at
    assert row["owner_id"] == "alice" and row["dataset_id"] == job.dataset_id
    assert json.loads(row["item"])["status"] == "queued"


def test_it_reads_a_row_written_the_way_the_container_writes(repo, path):
    job = make_job(status=JobStatus.RUNNING, progress={"trials": 4})
    columns = sqlite_job_columns(job)
    with sqlite3.connect(path) as connection:
        connection.execute(
            f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            tuple(columns.values()),
        )
    assert repo.get(job.job_id) == job
    assert [j.job_id for j in repo.list_by_status([JobStatus.RUNNING])] == [job.job_id]


def test_it_lets_exactly_one_thread_claim_a_job(repo):
    job = repo.add(make_job())
    repo.transition(job.job_id, JobStatus.QUEUED)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        try:
            repo.transition(job.job_id, JobStatus.RUNNING, expected=[JobStatus.QUEUED])
            outcomes.append("won")
        except InvalidTransition:
            outcomes.append("lost")

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]


CLAIM = """
import sys
from core.exceptions import InvalidTransition
from jobs.adapters.sqlite import SqliteJobRepository
repo = SqliteJobRepository(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
try:
    repo.transition(sys.argv[2], "running", expected=["queued"], runner_job_id=sys.argv[3])
    print("won")
except InvalidTransition:
    print("lost")
"""


def test_it_lets_exactly_one_process_claim_a_job(repo, path):
    job = repo.add(make_job())
    repo.transition(job.job_id, JobStatus.QUEUED)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIM, str(path), job.job_id, f"worker-{n}"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:  # release them together
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = [worker.communicate(timeout=60)[0].strip() for worker in workers]
    assert sorted(results) == ["lost"] * 3 + ["won"]
    winner = f"worker-{results.index('won')}"
    assert repo.get(job.job_id).runner_job_id == winner


PROGRESS = """
import sys
from jobs.adapters.sqlite import SqliteJobRepository
repo = SqliteJobRepository(sys.argv[1])
print("writing", flush=True)
job = repo.update(sys.argv[2], progress={"trials": 5}, only_if_status=["running"])
print(job.progress["trials"])
"""


def test_it_waits_for_another_process_to_release_the_write_lock(repo, path):
    job = repo.add(make_job(status=JobStatus.RUNNING))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer is mid-transaction
    try:
        writer = subprocess.Popen(
            [sys.executable, "-c", PROGRESS, str(path), job.job_id],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout.readline().strip() == "writing"
        with pytest.raises(subprocess.TimeoutExpired):
            writer.wait(timeout=0.5)  # blocked on the lock, not failed
    finally:
        holder.execute("COMMIT")
        holder.close()
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert out.strip() == "5"
    assert repo.get(job.job_id).progress == {"trials": 5}


def test_it_refuses_a_dead_containers_late_write_from_another_process(repo, path):
    job = repo.add(make_job(status=JobStatus.RUNNING))
    repo.transition(job.job_id, JobStatus.CANCELLED)
    late = subprocess.run(
        [sys.executable, "-c", PROGRESS, str(path), job.job_id],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert late.returncode != 0 and "InvalidTransition" in late.stderr
    assert repo.get(job.job_id).progress == {} and repo.get(job.job_id).status == "cancelled"
