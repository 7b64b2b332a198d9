"""`manage.py resubmit_job JOB_ID` / `--failed-since DATE`: run failed jobs again (attempt + 1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automl_lite import wiring
from core.exceptions import ApplicationError
from jobs import services
from training_image.contract import Job, JobStatus

PAGE = 200


def _since(raw: str) -> str:
    """`DATE` (YYYY-MM-DD, or an ISO date and time; UTC unless it says otherwise) as the
    record timestamp text it is compared with."""
    try:
        moment = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"--failed-since: {raw!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Command(BaseCommand):
    help = (
        "Resubmit a failed job (failed -> queued, attempt + 1, up to AUTOML_MAX_ATTEMPTS), or "
        "with --failed-since every job that failed since DATE for a reason a retry can fix."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", nargs="?", help="id of the failed job")
        parser.add_argument(
            "--failed-since",
            metavar="DATE",
            help="resubmit every resubmittable job that failed at or after DATE (UTC)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        job_id, since = options["job_id"], options["failed_since"]
        if bool(job_id) == bool(since):
            raise CommandError("Give either a JOB_ID or --failed-since DATE.")
        if job_id:
            self._one(job_id)
        else:
            self._since(_since(since))

    def _one(self, job_id: str) -> None:
        job = wiring.job_repository().get(job_id)
        if job is None:
            raise CommandError(f"Job {job_id} not found")
        try:
            job = services.job_resubmit(job=job)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if job.status == "failed":
            raise CommandError(job.error_message or "The job could not be started")
        self.stdout.write(f"Job {job.job_id}: {job.status} (attempt {job.attempt})")

    def _failed_since(self, since: str) -> list[Job]:
        # The status index lists failed jobs newest update first: stop at the first older one.
        repository = wiring.job_repository()
        found: list[Job] = []
        cursor = None
        while True:
            page = repository.list_recent(statuses=[JobStatus.FAILED], limit=PAGE, cursor=cursor)
            for job in page.items:
                if (job.completed_at or job.updated_at) >= since:
                    found.append(job)
                elif job.updated_at < since:
                    return found
            cursor = page.next_cursor
            if cursor is None:
                return found

    def _since(self, since: str) -> None:
        jobs = self._failed_since(since)
        resubmitted = skipped = 0
        for job in reversed(jobs):  # oldest first
            if not services.is_resubmittable(job):
                skipped += 1
                self.stdout.write(
                    f"Job {job.job_id}: skipped ({job.error_type or 'no error type'})"
                )
                continue
            try:
                job = services.job_resubmit(job=job)
            except ApplicationError as exc:
                skipped += 1
                self.stdout.write(f"Job {job.job_id}: skipped ({exc.message})")
                continue
            resubmitted += 1
            self.stdout.write(f"Job {job.job_id}: {job.status} (attempt {job.attempt})")
        self.stdout.write(
            f"{resubmitted} resubmitted, {skipped} skipped of {len(jobs)} failed since {since}."
        )
