"""Celery tasks of the jobs app: thin interfaces over the runner and the services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_shutdown, worker_shutting_down

from core.task_base import failure_reason, storage_task_options


def training_gave_up(job_id: str, *, error: BaseException, attempts: int) -> None:
    """`run_training`'s final failure: a job still queued or running is failed (resubmittable)
    with a message, never left waiting for a run that will not come (core/task_base.py)."""
    from automl_lite import wiring
    from jobs.repository import fail_live_job
    from training_image.contract import ErrorType

    repository = wiring.job_repository()
    job = repository.get(job_id)
    if job is None:
        return
    fail_live_job(
        repository,
        job,
        ErrorType.SUBMIT,
        f"The training task failed {attempts} times ({type(error).__name__}) before the "
        "training could run. Resubmit the job.",
    )


@shared_task(acks_late=True, final_failure=training_gave_up)
def run_training(job_id: str) -> str:
    """Run a queued job's training container as a subprocess and wait for it (local mode).

    Routed to the `training` queue (settings.CELERY_TASK_ROUTES), whose worker runs
    AUTOML_LOCAL_CONCURRENCY of these at a time. Safe to deliver twice: the second
    delivery finds the job claimed or no longer queued and returns.
    """
    from automl_lite import wiring
    from jobs.runners.local import run_job

    return run_job(
        job_id,
        jobs=wiring.job_repository(),
        datasets=wiring.dataset_repository(),
        backend=wiring.container_backend(),
    )


def scoring_gave_up(batch_id: str, *, error: BaseException, attempts: int) -> None:
    """`score_batch`'s final failure: the batch is failed with a message, never left
    `queued` or `scoring` (core/task_base.py says when this runs)."""
    from jobs.services import batches

    reason = failure_reason(error, "Scoring could not read or record the file.")
    batches.batch_fail(
        batch_id=batch_id,
        message=f"{reason} Scoring was tried {attempts} times; score the file again later.",
    )


@shared_task(**storage_task_options(scoring_gave_up))
def score_batch(self, batch_id: str) -> str | None:  # Celery's task
    """Score a queued prediction batch (safe to deliver twice: the service claims it).

    Storage errors are retried: with backoff by a local worker, by redelivery from SQS.
    After the last try `scoring_gave_up` marks the batch failed with a message.
    """
    from jobs.services import batches

    batch = batches.batch_score(batch_id=batch_id)
    return None if batch is None else str(batch.status)


@shared_task
def reconcile_jobs() -> str:
    """Fail or re-queue live jobs whose run died, then send run emails (periodic, every 60 s
    through beat; the Lambda's scheduled event calls it too)."""
    import logging

    from jobs.services import jobs_notify_finished, jobs_reconcile

    summary = str(jobs_reconcile())
    # The same sweep emails the owners of runs that just finished (those who opted in);
    # an email failure never stops reconciliation.
    try:
        jobs_notify_finished()
    except Exception:
        logging.getLogger(__name__).exception("Run emails failed this round")
    return summary


@worker_shutting_down.connect
def _stop_local_trainings(**_kwargs: Any) -> None:
    """On a warm shutdown, stop running trainings so they are re-queued, not stranded."""
    from jobs.runners.local import SHUTTING_DOWN

    SHUTTING_DOWN.set()


@worker_shutdown.connect
def _kill_remaining_trainings(**_kwargs: Any) -> None:
    """The worker's last act: no training it started outlives it (e.g. a cold shutdown)."""
    from jobs.runners.local import stop_running_trainings

    stop_running_trainings()
