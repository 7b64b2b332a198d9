"""`manage.py resubmit_job JOB_ID`: run a failed job again (attempt + 1)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automl_lite import wiring
from core.exceptions import ApplicationError
from jobs import services


class Command(BaseCommand):
    help = "Resubmit a failed job (failed -> queued, attempt + 1, up to AUTOML_MAX_ATTEMPTS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", help="id of the failed job")

    def handle(self, *args: Any, **options: Any) -> None:
        job = wiring.job_repository().get(options["job_id"])
        if job is None:
            raise CommandError(f"Job {options['job_id']} not found")
        try:
            job = services.job_resubmit(job=job)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if job.status == "failed":
            raise CommandError(job.error_message or "The job could not be started")
        self.stdout.write(f"Job {job.job_id}: {job.status} (attempt {job.attempt})")
