"""Validation: a scored file that also holds the target, measured like the test split was.

When a batch's file has the job's target column, `jobs.prediction_files` hands each chunk to a
`Validator` beside writing its predictions. At the end the report holds the same metrics as
training reported on its test rows (`training_image.metrics.headline`, the very function the
container used), each beside its training value, and each feature's drift from the training
rows (`training_image.drift`, against the model card's `drift_reference`). Rows whose target is
missing, unreadable or a class the model never saw are left out of the metrics and counted,
with examples; the predictions are written for them all the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jobs.inference import ModelSpec, Predictions
from training_image import contract, drift, metrics
from training_image.contract import Job
from training_image.features import is_missing
from training_image.labels import class_codes, label_text

EXAMPLES = 5  # distinct unusable target values shown
SAME_SHARE, SAME_ABSOLUTE = 0.01, 0.005  # a difference this small reads as "the same"


def change(metric: str, value: float, training: float) -> str:
    """`better`, `worse` or `same` (within 1 % of the training value, or 0.005) than the
    model's test score, in the metric's own direction."""
    difference = value - training
    if abs(difference) <= max(SAME_SHARE * abs(training), SAME_ABSOLUTE):
        return "same"
    better = difference < 0 if metric in contract.LOWER_IS_BETTER else difference > 0
    return "better" if better else "worse"


class Validator:
    """Collects the target, the predictions and the drift counts of a file, chunk by chunk.

    Args:
        job: the job whose model scores the file.
        spec: its model spec.
        card: its model card (training metrics and the drift reference).
        decimal: the file's decimal mark (a regression target written `3,5`).
    """

    def __init__(self, job: Job, spec: ModelSpec, card: Mapping[str, Any], *, decimal: str):
        self.job = job
        self.card = card
        self.regression = spec.problem_type == "regression"
        self.decimal = decimal
        self.codes = {} if self.regression else class_codes(spec.classes, job.class_names)
        self.n_classes = len(spec.classes)
        self.targets: list[np.ndarray] = []
        self.predictions: list[np.ndarray] = []
        self.rows = 0
        self.skipped = {"missing_target": 0, "unseen_class": 0, "unreadable_target": 0}
        self.examples: dict[str, list[str]] = {"unseen_class": [], "unreadable_target": []}
        reference = card.get("drift_reference")
        self.drift = drift.DriftCounter(spec.feature_specs, reference) if reference else None

    def add(
        self,
        targets: Sequence[str],
        columns: Mapping[str, Sequence[Any]],
        predictions: Predictions,
    ) -> None:
        """One chunk: its target cells, its feature columns (None = missing) and predictions."""
        self.rows += len(targets)
        if self.drift is not None:
            self.drift.add(columns, len(targets))
        values, keep = self._read_targets(targets)
        if not keep.any():
            return
        self.targets.append(values[keep])
        if self.regression:
            predicted = np.asarray(predictions.labels, dtype=np.float64)
        else:
            predicted = np.asarray(predictions.probabilities, dtype=np.float64)
        self.predictions.append(predicted[keep])

    def _read_targets(self, targets: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.regression:
            values = np.full(len(targets), np.nan)
            for i, cell in enumerate(targets):
                values[i] = self._number(cell)
            return values, ~np.isnan(values)
        codes = np.full(len(targets), -1, dtype=np.int64)
        seen: dict[str, tuple[int, str | None]] = {}  # few distinct cells: read each once
        for i, cell in enumerate(targets):
            found = seen.get(cell)
            if found is None:
                found = seen[cell] = self._code(cell)
            code, reason = found
            codes[i] = code
            if reason is not None:
                self._unusable(reason, cell.strip())
        return codes, codes >= 0

    def _number(self, cell: str) -> float:
        text = cell.strip()
        if is_missing(text):
            self._unusable("missing_target", text)
            return np.nan
        try:
            number = float(text.replace(",", ".") if self.decimal == "," else text)
        except ValueError:
            number = np.nan
        if not np.isfinite(number):
            self._unusable("unreadable_target", text)
            return np.nan
        return number

    def _code(self, cell: str) -> tuple[int, str | None]:
        """The class code of a target cell (-1 when unusable) and why it is unusable."""
        text = label_text(cell)
        if text is None:
            return -1, "missing_target"
        code = self.codes.get(text)
        return (-1, "unseen_class") if code is None else (code, None)

    def _unusable(self, reason: str, text: str) -> None:
        self.skipped[reason] += 1
        examples = self.examples.get(reason)
        if examples is not None and text not in examples and len(examples) < EXAMPLES:
            examples.append(text[:40])

    def report(self) -> dict[str, Any]:
        """The validation report (`batch_validation_key` in the reports storage)."""
        metric = self.card.get("metric") or self.job.metric
        training = dict(self.card.get("metrics") or {})
        scored = int(sum(len(t) for t in self.targets))
        values: dict[str, float] = {}
        if scored:
            y = np.concatenate(self.targets)
            prediction = np.concatenate(self.predictions)
            values = metrics.headline(metric, y, prediction, regression=self.regression)
        rows = []
        for name, value in values.items():
            before = training.get(name)
            rows.append(
                {
                    "name": name,
                    "validation": round(value, 6),
                    "training_test": None if before is None else round(float(before), 6),
                    "difference": None if before is None else round(value - float(before), 6),
                    "lower_is_better": name in contract.LOWER_IS_BETTER,
                    "change": None if before is None else change(name, value, float(before)),
                }
            )
        rows.sort(key=lambda r: (r["name"] != metric, r["name"]))
        return {
            "target": self.job.target_column,
            "metric": metric,
            "rows": self.rows,
            "rows_scored": scored,
            "skipped": dict(self.skipped),
            "examples": {k: v for k, v in self.examples.items() if v},
            "metrics": rows,
            "drift": self.drift.result() if self.drift is not None else None,
            "drift_unavailable": None
            if self.drift is not None
            else "This model was trained before drift was recorded: train it again to compare "
            "files with its training rows.",
        }
