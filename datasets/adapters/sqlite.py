"""Datasets in the local SQLite records file."""

from __future__ import annotations

from pathlib import Path

from core.sqlite import SqliteStore
from datasets.adapters import DATASET_SPEC, DatasetRecords


class SqliteDatasetRepository(DatasetRecords):
    """DatasetRepository over the `datasets` table of the SQLite records file at `path`."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(SqliteStore(path, DATASET_SPEC))
