"""The one place that picks adapters from settings.

Views, tasks and commands ask this module for collaborators and never branch on
AUTOML_BACKEND themselves. Each collaborator is built once per process;
`reset()` forgets them (tests that change settings call it).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.storage import Storage, storages

from training_image.contract import Backend

if TYPE_CHECKING:
    from datasets.repository import DatasetRepository
    from jobs.model_cache import ModelCache
    from jobs.repository import JobRepository, PredictionBatchRepository
    from jobs.runners.base import Runner


def _boto3_resource(service: str):  # boto3 types are dynamic
    import boto3

    return boto3.resource(
        service, region_name=settings.AWS_REGION, endpoint_url=settings.AWS_ENDPOINT_URL
    )


def boto3_client(service: str):
    import boto3

    config = None
    if service == "s3":
        from botocore.config import Config

        # Signed URLs on the regional host, as the S3 storages sign them (settings.py).
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": getattr(settings, "AWS_S3_ADDRESSING_STYLE", "path")},
        )
    return boto3.client(
        service,
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL,
        config=config,
    )


@functools.cache
def dataset_repository() -> DatasetRepository:
    if settings.IS_AWS:
        from datasets.adapters.dynamodb import DynamoDatasetRepository

        return DynamoDatasetRepository(
            _boto3_resource("dynamodb").Table(settings.AUTOML_DATASETS_TABLE)
        )
    from datasets.adapters.sqlite import SqliteDatasetRepository

    return SqliteDatasetRepository(settings.AUTOML_RECORDS_PATH)


@functools.cache
def job_repository() -> JobRepository:
    if settings.IS_AWS:
        from jobs.adapters.dynamodb import DynamoJobRepository

        return DynamoJobRepository(_boto3_resource("dynamodb").Table(settings.AUTOML_JOBS_TABLE))
    from jobs.adapters.sqlite import SqliteJobRepository

    return SqliteJobRepository(settings.AUTOML_RECORDS_PATH)


@functools.cache
def batch_repository() -> PredictionBatchRepository:
    if settings.IS_AWS:
        from jobs.adapters.dynamodb import DynamoBatchRepository

        return DynamoBatchRepository(
            _boto3_resource("dynamodb").Table(settings.AUTOML_BATCHES_TABLE)
        )
    from jobs.adapters.sqlite import SqliteBatchRepository

    return SqliteBatchRepository(settings.AUTOML_RECORDS_PATH)


@functools.cache
def runner() -> Runner:
    if settings.IS_AWS:
        from jobs.runners.batch import BatchRunner

        return BatchRunner(
            boto3_client("batch"),
            job_queue=settings.AUTOML_BATCH_JOB_QUEUE,
            job_definition=settings.AUTOML_BATCH_JOB_DEFINITION,
            backend=container_backend,
        )
    from jobs.runners.local import LocalRunner

    return LocalRunner()


def storage(alias: str) -> Storage:
    """A storage alias: `datasets`, `models` or `reports` (one bucket or folder each)."""
    return storages[alias]


@functools.cache
def model_cache() -> ModelCache:
    """The process's one cache of loaded ONNX sessions, reading through `storage()`.

    Not forgotten by `reset()`: it looks each storage up when it loads a model, so it
    follows changed settings; tests clear it themselves.
    """
    from jobs.model_cache import ModelCache

    return ModelCache(storage=storage)


def container_backend() -> Backend:
    """Where the training container finds files and the job table, in this deployment."""
    if settings.IS_AWS:
        extra = [("AWS_DEFAULT_REGION", settings.AWS_REGION)]
        if settings.AWS_ENDPOINT_URL:
            extra.append(("AWS_ENDPOINT_URL", settings.AWS_ENDPOINT_URL))
        return Backend(
            storage="s3",
            datasets_location=settings.AUTOML_DATASETS_BUCKET,
            models_location=settings.AUTOML_MODELS_BUCKET,
            reports_location=settings.AUTOML_REPORTS_BUCKET,
            job_store="dynamodb",
            job_store_location=settings.AUTOML_JOBS_TABLE,
            seed=settings.AUTOML_SEED,
            extra_env=tuple(extra),
        )
    media = settings.MEDIA_ROOT
    return Backend(
        storage="local",
        datasets_location=str(media / "datasets"),
        models_location=str(media / "models"),
        reports_location=str(media / "reports"),
        job_store="sqlite",
        job_store_location=str(settings.AUTOML_RECORDS_PATH),
        seed=settings.AUTOML_SEED,
    )


def reset() -> None:
    """Forget built collaborators (after settings change, e.g. in tests)."""
    dataset_repository.cache_clear()
    job_repository.cache_clear()
    batch_repository.cache_clear()
    runner.cache_clear()
    storages._storages = {}  # Django rebuilds them from settings.STORAGES on next access
    if hasattr(storages, "backends"):
        del storages.backends
