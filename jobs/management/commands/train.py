"""`manage.py train PATH --target COL`: the whole training pipeline in the terminal.

The same function the container runs (`training_image.pipeline.train_frame`), with a
progress bar, the metrics printed at the end, and the artifacts written to `--out`.
No job record, no worker, no web server.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from training_image.contract import (
    CONTAINER_MIN_TIME_BUDGET,
    MAX_TIME_BUDGET,
    METRIC_LABELS,
    METRICS,
    PROBLEM_TYPES,
    auto_time_budget,
)

ALL_METRICS = sorted({m for names in METRICS.values() for m in names})


class Command(BaseCommand):
    help = "Train a model on a CSV file from the terminal and write its artifacts to a folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the CSV file to train on")
        parser.add_argument("--target", required=True, help="the column to predict")
        parser.add_argument(
            "--time-budget",
            type=int,
            default=None,
            help=f"seconds for the whole run, {CONTAINER_MIN_TIME_BUDGET}-{MAX_TIME_BUDGET} "
            "(default: from the row count)",
        )
        parser.add_argument(
            "--metric", choices=ALL_METRICS, default=None, help="metric to optimise (default: auto)"
        )
        parser.add_argument(
            "--problem-type",
            choices=PROBLEM_TYPES,
            default=None,
            help="binary, multiclass or regression (default: detected)",
        )
        parser.add_argument(
            "--exclude", action="append", default=[], metavar="COL", help="column to leave out"
        )
        parser.add_argument(
            "--out", default=None, help="folder for the artifacts (default: ./<file>-model)"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed")
        parser.add_argument(
            "--no-reports", action="store_true", help="skip the HTML reports (faster)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from training_image.data import load_csv
        from training_image.errors import TrainingError
        from training_image.pipeline import train_frame

        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        budget = options["time_budget"]
        if budget is not None and not CONTAINER_MIN_TIME_BUDGET <= budget <= MAX_TIME_BUDGET:
            raise CommandError(
                f"--time-budget must be between {CONTAINER_MIN_TIME_BUDGET} and {MAX_TIME_BUDGET}"
            )
        try:
            df = load_csv(path)
        except TrainingError as exc:
            raise CommandError(exc.message) from None
        target = options["target"]
        if target not in df.columns:
            shown = ", ".join(str(c) for c in list(df.columns)[:20])
            raise CommandError(f"Target column '{target}' not found; the columns are: {shown}")
        budget = budget or auto_time_budget(len(df))
        out = Path(options["out"] or f"{path.stem}-model")
        self.stdout.write(
            f"Training on {path.name}: {len(df):,} rows, target '{target}', budget {budget} s"
        )
        bar = _ProgressBar(budget, enabled=options["verbosity"] > 0)
        try:
            result = train_frame(
                df,
                target,
                time_budget=budget,
                problem_type=options["problem_type"],
                metric=options["metric"],
                excluded=options["exclude"],
                seed=settings.AUTOML_SEED if options["seed"] is None else options["seed"],
                progress=bar.update,
                out_dir=out,
                reports=not options["no_reports"],
            )
        except TrainingError as exc:
            raise CommandError(exc.message) from None
        finally:
            bar.close()
        self._print_result(result, out)

    def _print_result(self, result: Any, out: Path) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"Best model: {result.metrics.get('best_estimator')} "
                f"({result.problem_type}, optimised {METRIC_LABELS.get(result.metric, result.metric)})"
            )
        )
        for name, value in result.metrics.items():
            if isinstance(value, float):
                self.stdout.write(f"  {name:<18} {value:.4f}")
        for warning in result.warnings:
            self.stdout.write(self.style.WARNING(f"  note: {warning}"))
        self.stdout.write(f"Artifacts in {out.resolve()}:")
        for name, file in sorted(result.artifacts.items()):
            self.stdout.write(f"  {name:<22} {file.stat().st_size:>10,} bytes")


class _ProgressBar:
    """A tqdm bar over the search budget, fed by train_frame's progress callback."""

    def __init__(self, budget: int, *, enabled: bool) -> None:
        from tqdm import tqdm

        self._lock = threading.Lock()  # the callback may come from a helper thread
        self._bar = tqdm(
            total=budget,
            unit="s",
            disable=not enabled,
            bar_format="{l_bar}{bar}| {n:.0f}/{total} s",
        )

    def update(self, progress: dict[str, Any]) -> None:
        with self._lock:
            elapsed = float(progress.get("elapsed") or 0.0)
            self._bar.n = min(elapsed, self._bar.total)
            postfix = {"phase": progress.get("phase"), "trials": progress.get("trials")}
            if progress.get("best_estimator"):
                score = progress.get("best_score")
                best = progress["best_estimator"]
                postfix["best"] = f"{best} {score:.4f}" if isinstance(score, float) else best
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.refresh()

    def close(self) -> None:
        with self._lock:
            self._bar.close()
