"""`manage.py analyze PATH`: the analysis the upload page makes, printed as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datasets.analysis import CsvRejected, analyze_csv


class Command(BaseCommand):
    help = (
        "Analyze a CSV file as an upload would be (streaming, bounded memory) and print the "
        "analysis as JSON. Exits with status 1 and a one-line message when the file is rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the CSV file to analyze")
        parser.add_argument(
            "--indent", type=int, default=2, help="JSON indentation (0 for one line)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            analysis = analyze_csv(path)
        except CsvRejected as rejected:
            raise CommandError(f"{path.name}: {rejected.message}") from None
        indent = options["indent"] or None
        self.stdout.write(json.dumps(analysis, indent=indent, ensure_ascii=False, default=str))
