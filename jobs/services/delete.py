"""Job deletion: stop the run, delete every artifact, optionally the dataset too."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from automl_lite import wiring
from core.exceptions import InvalidTransition
from jobs.services.lifecycle import job_cancel
from training_image.contract import ARTIFACT_STORAGE, LIVE_STATUSES, Job

if TYPE_CHECKING:
    from datasets.repository import DatasetRepository
    from jobs.repository import JobRepository
    from jobs.runners.base import Runner

logger = logging.getLogger(__name__)


ARTIFACT_LABELS = {
    "model.pkl": "model",
    "model.onnx": "onnx_model",
    "model_card.json": "model_card",
    "evaluation.json": "evaluation",
    "eda_report.html": "eda_report",
    "training_report.html": "training_report",
}


@dataclass
class DeleteSummary:
    """What job_delete removed, and what it kept because something else uses it."""

    job_id: str
    deleted_resources: list[str] = field(default_factory=list)
    kept_resources: list[str] = field(default_factory=list)


def _delete_folder(alias: str, folder: str, failures: list[str]) -> list[str]:
    """Delete every file under `folder` of a storage alias; returns the deleted keys."""
    storage = wiring.storage(alias)
    deleted: list[str] = []
    try:
        _dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        return deleted
    except Exception:  # storage faults are reported, not raised raw
        logger.exception("Could not list %s/%s", alias, folder)
        failures.append(f"{alias}: {folder}")
        return deleted
    for name in files:
        key = f"{folder}/{name}"
        try:
            storage.delete(key)
        except Exception:
            logger.exception("Could not delete %s/%s", alias, key)
            failures.append(f"{alias}: {key}")
        else:
            deleted.append(key)
    return deleted


def job_delete(
    *,
    job: Job,
    delete_data: bool = False,
    repository: JobRepository | None = None,
    datasets: DatasetRepository | None = None,
    runner: Runner | None = None,
) -> DeleteSummary:
    """Delete a job: stop its run, delete every artifact (ONNX too) and every prediction
    batch (its files and records), evict its model.

    With `delete_data`, the dataset file and record go too, but only when no other
    job was trained on that dataset. When a file cannot be deleted the job record is
    kept, so the delete can simply be repeated.

    Raises:
        ServiceUnavailable: a storage delete failed (nothing is lost; retry).
    """
    from core.exceptions import ServiceUnavailable

    repository = repository or wiring.job_repository()
    datasets = datasets or wiring.dataset_repository()
    runner = runner or wiring.runner()
    summary = DeleteSummary(job_id=job.job_id)

    if job.status in LIVE_STATUSES:
        try:
            job = job_cancel(job=job, repository=repository, runner=runner)
        except InvalidTransition:
            job = repository.get(job.job_id) or job
        summary.deleted_resources.append(f"run: {job.runner_job_id or 'not started'} (stopped)")

    failures: list[str] = []
    folder = f"jobs/{job.job_id}"
    known = dict(job.artifacts or {})
    for alias in sorted(set(ARTIFACT_STORAGE.values())):
        for key in _delete_folder(alias, folder, failures):
            name = key.rsplit("/", 1)[-1]
            summary.deleted_resources.append(f"{ARTIFACT_LABELS.get(name, 'artifact')}: {key}")
            known.pop(name, None)
    # Artifacts recorded under keys outside the job's folder (older layouts).
    for name, key in known.items():
        storage = wiring.storage(ARTIFACT_STORAGE.get(name, "models"))
        try:
            if storage.exists(key):
                storage.delete(key)
                summary.deleted_resources.append(f"{ARTIFACT_LABELS.get(name, 'artifact')}: {key}")
        except Exception:
            logger.exception("Could not delete artifact %s", key)
            failures.append(key)
    wiring.model_cache().evict(job.job_id)
    from jobs.services.batches import batches_delete_for_job

    scored = batches_delete_for_job(job_id=job.job_id, failures=failures)
    if scored:
        summary.deleted_resources.append(f"prediction batches: {scored}")

    if delete_data:
        _delete_dataset_of(job, summary, failures, repository=repository, datasets=datasets)
    if failures:
        raise ServiceUnavailable(
            "Some files could not be deleted; the job was kept so you can try again.",
            {"failed": failures},
        )
    repository.delete(job.job_id)
    return summary


def _delete_dataset_of(
    job: Job,
    summary: DeleteSummary,
    failures: list[str],
    *,
    repository: JobRepository,
    datasets: DatasetRepository,
) -> None:
    dataset = datasets.get(job.dataset_id)
    if dataset is None or dataset.owner_id != job.owner_id:
        return
    others = [j for j in repository.list_for_dataset(dataset.dataset_id) if j.job_id != job.job_id]
    if others:
        summary.kept_resources.append(
            f"dataset: {dataset.dataset_id} (used by {len(others)} other job"
            f"{'s' if len(others) != 1 else ''})"
        )
        return
    folder = dataset.storage_key.rsplit("/", 1)[0] if "/" in dataset.storage_key else ""
    deleted = _delete_folder("datasets", folder, failures) if folder else []
    if not folder:
        storage = wiring.storage("datasets")
        if storage.exists(dataset.storage_key):
            storage.delete(dataset.storage_key)
            deleted.append(dataset.storage_key)
    summary.deleted_resources.append(f"dataset files: {len(deleted)}")
    if not failures:
        datasets.delete(dataset.dataset_id)
        summary.deleted_resources.append(f"dataset metadata: {dataset.dataset_id}")
