"""`manage.py create_tables`: the record store's schema (SQLite) or tables (DynamoDB)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.exceptions import ServiceUnavailable
from training_image.contract import (
    DYNAMO_BATCHES_INDEXES,
    DYNAMO_BATCHES_KEY,
    DYNAMO_DATASETS_INDEXES,
    DYNAMO_DATASETS_KEY,
    DYNAMO_JOBS_INDEXES,
    DYNAMO_JOBS_KEY,
)


class Command(BaseCommand):
    help = (
        "Create the dataset, job and prediction batch record stores: the SQLite schema in local mode, or the "
        "DynamoDB tables with their indexes (on-demand, point-in-time recovery on) in AWS "
        "mode. Safe to run again: existing records are kept."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        if settings.IS_AWS:
            self._dynamodb()
        else:
            self._sqlite()

    def _sqlite(self) -> None:
        from core.sqlite import ensure_schema

        try:
            path = ensure_schema(settings.AUTOML_RECORDS_PATH)
        except (OSError, ServiceUnavailable) as exc:
            raise CommandError(
                f"Cannot prepare the records file {settings.AUTOML_RECORDS_PATH}: {exc}"
            ) from exc
        self._say(f"SQLite records ready at {path}")

    def _dynamodb(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from automl_lite import wiring
        from core.dynamodb import ensure_table

        client = wiring.boto3_client("dynamodb")
        tables = (
            (settings.AUTOML_DATASETS_TABLE, DYNAMO_DATASETS_KEY, DYNAMO_DATASETS_INDEXES),
            (settings.AUTOML_JOBS_TABLE, DYNAMO_JOBS_KEY, DYNAMO_JOBS_INDEXES),
            (settings.AUTOML_BATCHES_TABLE, DYNAMO_BATCHES_KEY, DYNAMO_BATCHES_INDEXES),
        )
        for name, key, indexes in tables:
            try:
                done = ensure_table(client, name, key, indexes)
            except (BotoCoreError, ClientError) as exc:
                raise CommandError(f"Cannot create the DynamoDB table {name}: {exc}") from exc
            for line in done or [f"table {name} is up to date"]:
                self._say(line)
        # Jobs written before the history's filter indexes existed get their index keys.
        filled = wiring.job_repository().fill_index_keys()
        if filled:
            self._say(f"filled the filter index keys of {filled} jobs")

    def _say(self, line: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(line)
