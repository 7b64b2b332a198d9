"""`manage.py purge_datasets [--older-than SECONDS]`: delete uploads never confirmed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.exceptions import ApplicationError
from datasets import services


class Command(BaseCommand):
    help = (
        "Delete datasets still `uploading` (never confirmed) and not updated for SECONDS "
        "(default AUTOML_UPLOAD_ABANDON_AFTER), with any partial file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help="age in seconds (>= 0; default: AUTOML_UPLOAD_ABANDON_AFTER)",
        )
        parser.add_argument("--dry-run", action="store_true", help="list, do not delete")

    def handle(self, *args: Any, **options: Any) -> None:
        seconds = options["older_than"]
        if seconds is None:
            seconds = settings.AUTOML_UPLOAD_ABANDON_AFTER
        if seconds < 0:
            raise CommandError("--older-than must be 0 or more seconds")
        try:
            purged = services.datasets_purge_abandoned(
                older_than=dt.timedelta(seconds=seconds), dry_run=options["dry_run"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        verb = "Would delete" if options["dry_run"] else "Deleted"
        for dataset_id in purged:
            self.stdout.write(f"  {dataset_id}")
        self.stdout.write(
            f"{verb} {len(purged)} unconfirmed upload(s) older than {seconds} second(s)."
        )
