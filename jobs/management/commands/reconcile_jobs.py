"""`manage.py reconcile_jobs`: fail or re-queue live jobs whose run died (what beat runs every 60 s)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jobs import services


class Command(BaseCommand):
    help = (
        "Compare queued/running jobs with the runner: dead runs are failed (lost) or "
        "re-queued (interrupted, attempts left); stale heartbeats are stopped and failed. "
        "Jobs their container recorded as interrupted are resubmitted once the runner has "
        "given up on the run, and left alone while it retries the run itself."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--requeue-waiting",
            action="store_true",
            help="also hand queued jobs without a run back to the runner (local start-up only)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = services.jobs_reconcile(requeue_waiting=options["requeue_waiting"])
        self.stdout.write(str(report))
        for job_id in report.failed:
            self.stdout.write(f"  failed    {job_id}")
        for job_id in report.requeued:
            self.stdout.write(f"  re-queued {job_id}")
        for job_id in report.resubmitted:
            self.stdout.write(f"  handed to the runner again {job_id}")
        for job_id in report.retrying:
            self.stdout.write(f"  being retried by the runner {job_id}")
