"""Celery tasks of the jobs app: thin interfaces over the runner and the services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_shutting_down


@shared_task(acks_late=True)
def run_training(job_id: str) -> str:
    """Run a queued job's training container as a subprocess and wait for it (local mode).

    Routed to the `training` queue (settings.CELERY_TASK_ROUTES), whose worker runs
    AUTOML_LOCAL_CONCURRENCY of these at a time. Safe to deliver twice: the second
    delivery finds the job claimed or no longer queued and returns.
    """
    from jobs.runners.local import run_job

    return run_job(job_id)


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
