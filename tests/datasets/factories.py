"""Datasets for the page and API tests: stored files, analyzed through the real service."""

from __future__ import annotations

from django.core.files.base import ContentFile

from automl_lite import wiring
from datasets import services
from tests.conftest import make_dataset
from tests.datasets.csv_files import iris_csv
from training_image.contract import Dataset, DatasetStatus


def uploaded(owner, content: bytes | None = None, filename: str = "iris.csv") -> Dataset:
    """A dataset record in `uploading` whose file sits in storage (as after the API PUT)."""
    dataset = services.dataset_create_upload(owner_id=str(owner.pk), filename=filename)
    storage = wiring.storage("datasets")
    storage.save(dataset.storage_key, ContentFile(iris_csv() if content is None else content))
    return wiring.dataset_repository().update(
        dataset.dataset_id, file_size=storage.size(dataset.storage_key)
    )


def analyzed(owner, content: bytes | None = None, filename: str = "iris.csv") -> Dataset:
    """A dataset confirmed and analyzed by the services (ready, or failed if rejected)."""
    dataset = uploaded(owner, content, filename)
    return services.dataset_confirm(dataset=dataset, inline=True)


def analyzing(owner) -> Dataset:
    """A dataset a worker is still analyzing."""
    dataset = make_dataset(owner_id=str(owner.pk), status=DatasetStatus.ANALYZING)
    return wiring.dataset_repository().add(dataset)
