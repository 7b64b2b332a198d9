"""The dataset repository port. Adapters: datasets/adapters/sqlite.py, datasets/adapters/dynamodb.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from core.pagination import Page
from training_image.contract import Dataset


class DatasetRepository(Protocol):
    def add(self, dataset: Dataset) -> Dataset:
        """Store a new dataset; AlreadyExists when the id is taken."""

    def get(self, dataset_id: str) -> Dataset | None: ...

    def list_for_owner(
        self, owner_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> Page[Dataset]:
        """Newest first, through the owner + created_at index."""

    def list_recent(
        self, *, statuses: Iterable[str] | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Dataset]:
        """Every owner's records, newest created_at first, through the status index (staff views)."""

    def update(
        self, dataset_id: str, *, only_if_status: tuple[str, ...] | None = None, **fields: Any
    ) -> Dataset:
        """Set fields; InvalidTransition when `only_if_status` does not hold."""

    def delete(self, dataset_id: str) -> None: ...
