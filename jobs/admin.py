"""Jobs in the Django admin: every owner's jobs, read from the job repository.

The actions are the product's own services (cancel, resubmit, delete), so the admin obeys
the same state machine and clean-up as the pages and the API.
"""

from __future__ import annotations

import logging

from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from automl_lite import wiring
from core.exceptions import ApplicationError
from core.record_admin import RecordAction, RecordAdmin
from jobs import services
from jobs.models import JobRecord
from training_image.contract import LIVE_STATUSES, ErrorType, Job, JobStatus, utcnow

logger = logging.getLogger(__name__)


def cancel(request: HttpRequest, job: Job) -> str:
    services.job_cancel(job=job)
    return f"Cancelled job {job.job_id}."


def resubmit(request: HttpRequest, job: Job) -> str:
    again = services.job_resubmit(job=job)
    if again.status == JobStatus.FAILED:
        raise ApplicationError(again.error_message or "The runner did not accept the job.")
    return f"Resubmitted job {job.job_id} (attempt {again.attempt})."


def mark_failed(request: HttpRequest, job: Job) -> str:
    """Fail a live job that is stuck, and stop its run if one is still going."""
    failed = wiring.job_repository().transition(
        job.job_id,
        JobStatus.FAILED,
        expected=LIVE_STATUSES,
        error_type=str(ErrorType.LOST),
        error_message=(
            f"Marked as failed by staff ({request.user.get_username()}). Resubmit it to run again."
        ),
        error_phase=(job.progress or {}).get("phase"),
        completed_at=utcnow(),
    )
    try:
        wiring.runner().cancel(failed)
    except Exception:  # the record is failed; stopping the run is best effort
        logger.exception("Could not stop the run of job %s marked failed", job.job_id)
    return f"Marked job {job.job_id} as failed."


def delete(request: HttpRequest, job: Job) -> str:
    summary = services.job_delete(job=job)
    return f"Deleted job {job.job_id} and {len(summary.deleted_resources)} of its files."


def is_live(job: Job) -> bool:
    return job.status in LIVE_STATUSES


@admin.register(JobRecord)
class JobRecordAdmin(RecordAdmin):
    noun = "job"
    id_field = "job_id"
    statuses = tuple(JobStatus)
    columns = (
        ("Status", "status"),
        ("Dataset", "dataset_name"),
        ("Target", "target_column"),
        ("Problem", "problem_type"),
        ("Attempt", "attempt"),
        ("Tags", "tags"),
        ("Created", "created_at"),
        ("Updated", "updated_at"),
    )
    search_attributes = ("dataset_name", "target_column", "tags")

    def repository(self):  # a JobRepository
        return wiring.job_repository()

    def record_actions(self) -> list[RecordAction]:
        return [
            RecordAction("cancel", "Cancel", "change", cancel, is_live),
            RecordAction(
                "resubmit", "Resubmit", "change", resubmit, lambda j: j.status == JobStatus.FAILED
            ),
            RecordAction("mark_failed", "Mark failed", "change", mark_failed, is_live),
            RecordAction("delete", "Delete", "delete", delete),
        ]

    def lookup(self, text: str) -> list[Job] | None:
        """A job id, or a dataset id (its jobs)."""
        found = super().lookup(text)
        return found or wiring.job_repository().list_for_dataset(text) or None

    def related(self, record: Job) -> list[tuple[str, list[tuple[str, str]]]]:
        url = reverse("admin:datasets_datasetrecord_change", args=[record.dataset_id])
        return [("Dataset", [(f"{record.dataset_name or 'dataset'} ({record.dataset_id})", url)])]

    def user_page(self, record: Job) -> str | None:
        try:
            return reverse("jobs:detail", args=[record.job_id])
        except NoReverseMatch:
            return None
