"""The SQLite store's file handling: schema creation and a writer that holds the lock too long."""

from __future__ import annotations

import sqlite3

import pytest

from core.exceptions import ServiceUnavailable
from core.sqlite import SqliteStore, ensure_schema
from jobs.adapters import JOB_SPEC
from jobs.adapters.sqlite import SqliteJobRepository
from tests.conftest import make_job


def test_it_creates_the_schema_again_without_losing_records(tmp_path):
    path = tmp_path / "records.sqlite3"
    job = SqliteJobRepository(path).add(make_job())
    ensure_schema(path)
    ensure_schema(path)
    assert SqliteJobRepository(path).get(job.job_id) == job


def test_it_reports_a_lock_held_too_long(tmp_path):
    path = tmp_path / "records.sqlite3"
    store = SqliteStore(path, JOB_SPEC, timeout=0.2)
    job = make_job()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ServiceUnavailable, match="records file is busy"):
            store.update(job.job_id, {"notes": "x"}, only_if_status=None)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_it_explains_a_records_file_it_cannot_create(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(OSError):
        SqliteJobRepository(blocker / "records.sqlite3")
