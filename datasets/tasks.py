"""Celery tasks of the datasets app: thin interfaces over the services."""

from __future__ import annotations

from celery import shared_task

from core.task_base import failure_reason, storage_task_options


def analysis_gave_up(dataset_id: str, *, error: BaseException, attempts: int) -> None:
    """`analyze_dataset`'s final failure: the dataset is failed with a message, never left
    `analyzing` (core/task_base.py says when this runs)."""
    from datasets import services

    reason = failure_reason(error, "The analysis could not read or record the dataset.")
    services.dataset_fail_analysis(
        dataset_id=dataset_id,
        message=f"{reason} The analysis was tried {attempts} times; "
        "confirm the upload again later.",
    )


@shared_task(**storage_task_options(analysis_gave_up))
def analyze_dataset(self, dataset_id: str) -> str | None:  # Celery's task
    """Analyze an `analyzing` dataset (safe to deliver twice: the service claims it).

    Storage errors are retried: with backoff by a local worker, by redelivery from SQS.
    After the last try `analysis_gave_up` marks the dataset failed with a message.
    """
    from datasets import services

    dataset = services.dataset_analyze(dataset_id=dataset_id)
    return None if dataset is None else str(dataset.status)


@shared_task
def purge_abandoned_uploads() -> str:
    """Delete uploads never confirmed for AUTOML_UPLOAD_ABANDON_AFTER (hourly, through beat)."""
    from datasets import services

    purged = services.datasets_purge_abandoned()
    return f"purged {len(purged)} abandoned upload(s)"
