"""Celery tasks of the datasets app: thin interfaces over the services."""

from __future__ import annotations

from celery import shared_task

from core.exceptions import ServiceUnavailable

STORAGE_RETRIES = 3


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(ServiceUnavailable,),
    retry_backoff=5,
    max_retries=STORAGE_RETRIES,
)
def analyze_dataset(self, dataset_id: str) -> str | None:  # noqa: ANN001 - Celery's task
    """Analyze an `analyzing` dataset (safe to deliver twice: the service claims it).

    Storage errors are retried with backoff; after the last retry the dataset is marked
    failed with a message, so it never stays `analyzing`.
    """
    from datasets import services

    try:
        dataset = services.dataset_analyze(dataset_id=dataset_id)
    except ServiceUnavailable as error:
        if self.request.retries >= STORAGE_RETRIES:
            dataset = services.dataset_fail_analysis(
                dataset_id=dataset_id,
                message=f"{error.message} The analysis was tried {STORAGE_RETRIES + 1} times; "
                "confirm the upload again later.",
            )
        else:
            raise
    return None if dataset is None else str(dataset.status)


@shared_task
def purge_abandoned_uploads() -> str:
    """Delete uploads never confirmed for AUTOML_UPLOAD_ABANDON_AFTER (hourly, through beat)."""
    from datasets import services

    purged = services.datasets_purge_abandoned()
    return f"purged {len(purged)} abandoned upload(s)"
