"""Datasets in the local SQLite records file."""

from __future__ import annotations

from core.sqlite import SqliteRepository
from datasets.adapters import DatasetRecords


class SqliteDatasetRepository(SqliteRepository, DatasetRecords):
    """DatasetRepository over the `datasets` table of the SQLite records file at `path`."""
