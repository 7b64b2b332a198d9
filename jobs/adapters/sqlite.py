"""Jobs in the local SQLite records file (shared with the training subprocess)."""

from __future__ import annotations

from core.sqlite import SqliteRepository
from jobs.adapters import JobRecords
from jobs.adapters.batches import BatchRecords


class SqliteJobRepository(SqliteRepository, JobRecords):
    """JobRepository over the `jobs` table of the SQLite records file at `path`."""


class SqliteBatchRepository(SqliteRepository, BatchRecords):
    """PredictionBatchRepository over the `prediction_batches` table of the records file."""
