"""Datasets in the Django admin: every owner's datasets, read from the dataset repository."""

from __future__ import annotations

import logging

from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from automl_lite import wiring
from core.exceptions import InvalidTransition, ServiceUnavailable
from core.record_admin import RecordAction, RecordAdmin
from datasets.models import DatasetRecord
from training_image.contract import Dataset, DatasetStatus

logger = logging.getLogger(__name__)

UNFINISHED = (DatasetStatus.UPLOADING, DatasetStatus.ANALYZING)


def mark_failed(request: HttpRequest, dataset: Dataset) -> str:
    """Fail an upload or analysis that is stuck, so its owner sees why and can upload again."""
    wiring.dataset_repository().update(
        dataset.dataset_id,
        status=DatasetStatus.FAILED,
        error_message=(
            f"Marked as failed by staff ({request.user.get_username()}). Upload the file again."
        ),
        only_if_status=UNFINISHED,
    )
    return f"Marked dataset {dataset.dataset_id} as failed."


def delete(request: HttpRequest, dataset: Dataset) -> str:
    """Delete the file and the record; refused while jobs trained on it still exist."""
    jobs = wiring.job_repository().list_for_dataset(dataset.dataset_id)
    if jobs:
        raise InvalidTransition(
            f"{len(jobs)} job{'s' if len(jobs) != 1 else ''} were trained on this dataset; "
            "delete them first."
        )
    storage = wiring.storage("datasets")
    try:
        if storage.exists(dataset.storage_key):
            storage.delete(dataset.storage_key)
    except Exception as exc:  # storage faults become a message; the record is kept
        logger.exception("Could not delete %s", dataset.storage_key)
        raise ServiceUnavailable(
            "The dataset file could not be deleted; the record was kept. Try again."
        ) from exc
    wiring.dataset_repository().delete(dataset.dataset_id)
    return f"Deleted dataset {dataset.dataset_id} ({dataset.filename})."


@admin.register(DatasetRecord)
class DatasetRecordAdmin(RecordAdmin):
    noun = "dataset"
    id_field = "dataset_id"
    statuses = tuple(DatasetStatus)
    columns = (
        ("Status", "status"),
        ("File", "filename"),
        ("Rows", "row_count"),
        ("Bytes", "file_size"),
        ("Created", "created_at"),
    )
    search_attributes = ("filename",)

    def repository(self):  # a DatasetRepository
        return wiring.dataset_repository()

    def record_actions(self) -> list[RecordAction]:
        return [
            RecordAction(
                "mark_failed",
                "Mark failed",
                "change",
                mark_failed,
                lambda d: d.status in UNFINISHED,
            ),
            RecordAction("delete", "Delete", "delete", delete),
        ]

    def related(self, record: Dataset) -> list[tuple[str, list[tuple[str, str]]]]:
        jobs = wiring.job_repository().list_for_dataset(record.dataset_id)
        links = [
            (
                f"{job.job_id} · {job.status} · target {job.target_column}",
                reverse("admin:jobs_jobrecord_change", args=[job.job_id]),
            )
            for job in jobs
        ]
        return [("Jobs trained on it", links)]

    def user_page(self, record: Dataset) -> str | None:
        try:
            return reverse("datasets:detail", args=[record.dataset_id])
        except NoReverseMatch:
            return None
