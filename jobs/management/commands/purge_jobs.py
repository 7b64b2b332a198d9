"""`manage.py purge_jobs --older-than DAYS`: delete old finished jobs and their files."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.exceptions import ApplicationError
from jobs import services
from training_image.contract import TERMINAL_STATUSES, JobStatus


class Command(BaseCommand):
    help = "Delete finished jobs (and their model files and reports) not updated for DAYS days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than", type=int, required=True, metavar="DAYS", help="age in days (>= 0)"
        )
        parser.add_argument(
            "--status",
            action="append",
            choices=sorted(str(s) for s in TERMINAL_STATUSES),
            help="only jobs in this status (repeatable; default: completed, failed, cancelled)",
        )
        parser.add_argument(
            "--delete-data",
            action="store_true",
            help="also delete each job's dataset when no other job uses it",
        )
        parser.add_argument("--dry-run", action="store_true", help="list, do not delete")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than"]
        if days < 0:
            raise CommandError("--older-than must be 0 or more days")
        statuses = options["status"] or [
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
        ]
        try:
            purged = services.jobs_purge(
                older_than=dt.timedelta(days=days),
                statuses=statuses,
                delete_data=options["delete_data"],
                dry_run=options["dry_run"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        verb = "Would delete" if options["dry_run"] else "Deleted"
        for job_id in purged:
            self.stdout.write(f"  {job_id}")
        self.stdout.write(f"{verb} {len(purged)} job(s) older than {days} day(s).")
