"""Run emails: tell a user who opted in when a run of theirs completes or fails.

The container never calls the web, so the periodic sweep (`reconcile_jobs`, every minute)
looks at recently finished runs through the status index. Each email is claimed first
with a unique row (`JobNotification`, key = job id and attempt): a record written twice,
two sweeps at once, or a retried task still send one email per run.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from automl_lite import wiring
from training_image.contract import METRIC_LABELS, Job, JobStatus, parse_time

if TYPE_CHECKING:
    from jobs.repository import JobRepository

logger = logging.getLogger(__name__)

NOTIFIED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED)
PAGE = 200


def run_key(job: Job) -> str:
    """One run of a job: a resubmit (attempt + 1) is a new run with its own email."""
    return f"{job.job_id}:{job.attempt}"


def notification_set(*, user_id: int | str, email_on_finish: bool, email: str | None) -> None:
    """Turn run emails on or off for a user (and set the address they go to)."""
    from jobs.models import NotificationPreference

    user = get_user_model().objects.get(pk=user_id)
    if email is not None and email != user.email:
        user.email = email
        user.save(update_fields=["email"])
    NotificationPreference.objects.update_or_create(
        user=user, defaults={"email_on_finish": email_on_finish}
    )


def notifications_enabled(*, user_id: int | str) -> bool:
    from jobs.models import NotificationPreference

    return NotificationPreference.objects.filter(user_id=user_id, email_on_finish=True).exists()


def _message(job: Job) -> tuple[str, str]:
    link = f"{settings.AUTOML_SITE_URL}/jobs/{job.job_id}/"
    name = f"{job.dataset_name or 'dataset'} → {job.target_column}"
    if job.status == JobStatus.COMPLETED:
        metrics = job.metrics or {}
        value = metrics.get(job.metric or "")
        label = METRIC_LABELS.get(job.metric or "", job.metric or "score")
        score = f"{label}: {value:.4f}" if isinstance(value, int | float) else "no test score"
        model = metrics.get("best_estimator") or "a model"
        subject = f"Run completed: {name} ({score})"
        body = (
            f"Your training run {name} completed.\n\n"
            f"Test {score} (best model: {model}).\n\n"
            f"Results, downloads and deployment: {link}\n"
        )
    else:
        subject = f"Run failed: {name}"
        body = (
            f"Your training run {name} failed.\n\n"
            f"{job.error_message or 'It stopped without a message.'}\n\n"
            f"What happened and what to do: {link}\n"
        )
    return subject, body


def job_notify(*, job: Job) -> bool:
    """Email the owner about a finished run if they opted in; True when this call sent it.

    The claim row is written before sending and removed again if sending fails, so a
    later sweep retries; a second call for the same run finds the claim and sends nothing.
    """
    from jobs.models import JobNotification

    if job.status not in NOTIFIED_STATUSES:
        return False
    user = (
        get_user_model().objects.filter(pk=job.owner_id).first()
        if str(job.owner_id).isdigit()
        else None
    )
    if user is None or not user.email or not notifications_enabled(user_id=user.pk):
        return False
    try:
        with transaction.atomic():
            JobNotification.objects.create(run_key=run_key(job), job_id=job.job_id)
    except IntegrityError:
        return False  # someone sent it already
    subject, body = _message(job)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception:  # SMTP or SES failures: the next sweep tries again
        logger.exception("Could not email %s about job %s", user.pk, job.job_id)
        JobNotification.objects.filter(run_key=run_key(job)).delete()
        return False
    return True


def jobs_notify_finished(*, repository: JobRepository | None = None) -> int:
    """Email the owners of runs that finished within AUTOML_NOTIFY_WINDOW_HOURS; how many
    emails went out. Newest first through the status index, stopping at the window."""
    from jobs.models import NotificationPreference

    if not NotificationPreference.objects.filter(email_on_finish=True).exists():
        return 0  # nobody opted in: no index reads at all
    repository = repository or wiring.job_repository()
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(hours=settings.AUTOML_NOTIFY_WINDOW_HOURS)
    sent, cursor = 0, None
    while True:
        page = repository.list_recent(statuses=NOTIFIED_STATUSES, limit=PAGE, cursor=cursor)
        for job in page.items:
            updated = parse_time(job.updated_at)
            if updated is not None and updated < cutoff:
                return sent
            sent += job_notify(job=job)
        cursor = page.next_cursor
        if cursor is None:
            return sent
