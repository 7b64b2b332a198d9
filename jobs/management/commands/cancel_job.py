"""`manage.py cancel_job JOB_ID`: stop a pending, queued or running job."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automl_lite import wiring
from core.exceptions import ApplicationError
from jobs import services


class Command(BaseCommand):
    help = (
        "Cancel a pending, queued or running job (its container is stopped; the record keeps it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", help="id of the job to cancel")

    def handle(self, *args: Any, **options: Any) -> None:
        job = wiring.job_repository().get(options["job_id"])
        if job is None:
            raise CommandError(f"Job {options['job_id']} not found")
        try:
            job = services.job_cancel(job=job)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Job {job.job_id}: {job.status}")
