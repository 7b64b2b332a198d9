"""`manage.py predict JOB_ID IN.csv OUT.csv`: score a CSV file with a job's model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automl_lite import wiring
from core.exceptions import ApplicationError
from jobs import services


class Command(BaseCommand):
    help = (
        "Score every row of a CSV file with a completed job's model and write the rows with "
        "their predictions (as POST /api/jobs/<id>/predictions does; no deployment needed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", help="id of a completed job")
        parser.add_argument("input", help="CSV with the model's feature columns (others are kept)")
        parser.add_argument("output", help="where to write the scored CSV ('-' for stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        job = wiring.job_repository().get(options["job_id"])
        if job is None:
            raise CommandError(f"Job {options['job_id']} not found")
        source = Path(options["input"])
        if not source.is_file():
            raise CommandError(f"No such file: {source}")
        try:
            with source.open("rb") as handle:
                scored = services.job_predict_file(job=job, uploaded_file=handle)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        with scored.file:
            if options["output"] == "-":
                self.stdout.write(scored.file.read().decode("utf-8"), ending="")
                return
            with open(options["output"], "wb") as out:
                shutil.copyfileobj(scored.file, out)
        self.stdout.write(
            f"Scored {scored.rows} rows with job {job.job_id} in {scored.seconds:.2f} s "
            f"-> {options['output']}"
        )
