"""Jobs in the local SQLite records file (shared with the training subprocess)."""

from __future__ import annotations

from pathlib import Path

from core.sqlite import SqliteStore
from jobs.adapters import JOB_SPEC, JobRecords


class SqliteJobRepository(JobRecords):
    """JobRepository over the `jobs` table of the SQLite records file at `path`."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(SqliteStore(path, JOB_SPEC))
