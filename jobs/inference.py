"""Serving a deployed model: one row, many rows or a file's columns in, decoded predictions out.

The model card (`model_card.json`) says which graph inputs exist and how each is made from an
original column (`jobs/model_spec.py`); `jobs/model_inputs.py` checks a row and builds those
inputs by the rule of `training_image/features.py`, which the saved pipeline's `prepare` step
applies too, so a served prediction matches `model.pkl`'s; `jobs/model_cache.py` keeps the ONNX
sessions in a bounded LRU cache. Missing values are passed as NaN / the missing token and imputed
inside the graph with the *training* statistics. A row with bad values is refused with every
problem listed (`check_row`); a number outside the training range only warns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from automl_lite import wiring
from core.exceptions import InvalidInput
from jobs.model_cache import LoadedModel, ModelCache
from jobs.model_inputs import (
    build_column_inputs,
    build_inputs,
    check_row,
    refusal,
)
from jobs.model_spec import ModelError, ModelSpec, model_spec
from training_image.contract import Job, ModelCard

__all__ = [
    "InvalidInput",
    "LoadedModel",
    "ModelCache",
    "ModelError",
    "ModelSpec",
    "Predictions",
    "build_column_inputs",
    "build_inputs",
    "check_row",
    "job_spec",
    "load_card",
    "model_cache",
    "model_spec",
    "predict",
    "predict_columns",
    "predict_rows",
]

logger = logging.getLogger(__name__)

# The process's one cache of ONNX sessions (built by wiring, on the wired storages).
model_cache = wiring.model_cache()


def load_card(job: Job) -> ModelCard:
    """The job's model_card.json (ModelError when it is missing or unreadable)."""
    return model_cache.load_card(job)


def _label(value: Any, classes: list[Any], mapping: Mapping[str, Any]) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, int) and not isinstance(value, bool):
        if str(value) in mapping:
            return mapping[str(value)]
        if 0 <= value < len(classes):
            return classes[value]
    return value


@dataclass
class Predictions:
    """The decoded outputs for N rows, by column (so a chunk never becomes N dicts).

    Attributes:
        labels: per row, the prediction in the target's original labels (classification)
            or the model's number (regression: the raw output array, in its float dtype).
        regression: whether `labels` are numbers.
        classes: the class labels (as text) of the columns of `probabilities`.
        probabilities: [N, K] class probabilities, or None.
    """

    labels: Any
    regression: bool = False
    classes: list[str] | None = None
    probabilities: Any = None

    def __len__(self) -> int:
        return len(self.labels)

    def best_probability(self) -> Any:
        """Each row's largest class probability (an [N] array), or None."""
        if self.probabilities is None or not self.classes:
            return None
        return self.probabilities.max(axis=1)

    def row(self, index: int) -> dict[str, Any]:
        """Row `index` as the one-row API answers it: prediction, probability, probabilities."""
        if self.regression:
            return {
                "prediction": float(self.labels[index]),
                "probability": None,
                "probabilities": None,
            }
        probabilities: dict[str, float] | None = None
        if self.probabilities is not None and self.classes:
            probabilities = {
                c: float(p) for c, p in zip(self.classes, self.probabilities[index], strict=True)
            }
        probability = max(probabilities.values()) if probabilities else None
        return {
            "prediction": self.labels[index],
            "probability": probability,
            "probabilities": probabilities,
        }


def job_spec(job: Job) -> ModelSpec:
    """The job's model spec: from the cached model, else from its card (no graph load).

    Raises:
        ModelError: the card is missing or unusable.
    """
    if job.job_id in model_cache:
        return model_cache.get(job).spec
    return model_spec(load_card(job))


def predict(
    job: Job, features: Mapping[str, Any], *, explain: bool | None = False
) -> dict[str, Any]:
    """Score one row; the prediction comes back in the target's original labels.

    Args:
        job: a job with a model.
        features: the row, column -> raw value.
        explain: add the top feature contributions (`jobs.explain`); None: when they stay
            within the latency budget.

    Returns:
        `{prediction, probability, probabilities, warnings}` (and `explanation`,
        `explanation_info` when explained): `warnings` lists what the model scored but may
        not judge well (a number outside the training range, a rare category).

    Raises:
        InvalidInput: every problem of the row at once (400): missing features, values of the
            wrong type, unseen categories (`extra.errors`, one entry per problem).
        ModelError: unusable metadata or a failed inference (500).
    """
    if not isinstance(features, Mapping):
        raise InvalidInput("features must be an object of column names to values")
    spec = job_spec(job)
    errors, warnings = check_row(spec, features)
    if errors:
        raise refusal(errors)
    columns = {c: [features.get(c)] for c in spec.feature_columns}
    predictions = predict_columns(job, columns, 1)
    result = predictions.row(0)
    result["warnings"] = [w.as_dict() for w in warnings]
    if explain is None:
        from jobs.explain import explain_by_default

        explain = explain_by_default(job)
    if explain:
        from jobs.explain import explain as explain_row

        class_index = None
        if not predictions.regression and predictions.probabilities is not None:
            class_index = int(predictions.probabilities[0].argmax())
        label = None if predictions.regression else result["prediction"]
        result.update(explain_row(job, features, class_index=class_index, label=label))
    return result


def predict_rows(job: Job, rows: Sequence[Mapping[str, Any]]) -> Predictions:
    """Score N rows (mappings of column to raw value) with one run of the graph.

    Raises:
        InvalidInput: the first bad row, with every problem it has (400); `extra["row"]` is
            its 0-based index.
        ModelError: unusable metadata or a failed inference (500).
    """
    # Check the card before loading the graph, so a bad request costs no model load.
    spec = job_spec(job)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(
                "Each row must be an object of column names to values", {"row": index}
            )
        errors, _ = check_row(spec, row)
        if errors:
            raise refusal(errors, row=index)
    columns = {c: [row.get(c) for row in rows] for c in spec.feature_columns}
    return predict_columns(job, columns, len(rows))


def predict_columns(job: Job, columns: Mapping[str, Sequence[Any]], n_rows: int) -> Predictions:
    """Score N rows given column by column (each feature column's N raw values).

    The batch path of `predict_rows`, for callers that read rows by column (a CSV chunk).

    Raises:
        InvalidInput: an absent feature column or an unreadable value (400); see
            `build_column_inputs` for the `extra` it carries.
        ModelError: unusable metadata or a failed inference (500).
    """
    loaded = model_cache.get(job)
    feeds = build_column_inputs(loaded.spec, columns, n_rows)
    if n_rows == 0:
        return _empty(loaded)
    try:
        outputs = loaded.session.run(None, feeds)
    except Exception as exc:  # never show raw onnxruntime text to clients
        logger.exception("Inference failed for job %s", job.job_id)
        raise ModelError("Prediction error: the model could not score this input") from exc
    names = [o.name for o in loaded.session.get_outputs()]
    return _decode(loaded, dict(zip(names, outputs, strict=False)), outputs, n_rows)


def _is_regression(spec: ModelSpec, outputs: list[Any]) -> bool:
    return spec.problem_type == "regression" or not spec.classes and len(outputs) == 1


def _empty(loaded: LoadedModel) -> Predictions:
    import numpy as np

    if loaded.spec.problem_type == "regression":
        return Predictions(labels=np.zeros(0, dtype=np.float32), regression=True)
    return Predictions(labels=[])


def _decode(
    loaded: LoadedModel, named: dict[str, Any], outputs: list[Any], n_rows: int
) -> Predictions:
    import numpy as np

    spec = loaded.spec
    mapping = {str(k): v for k, v in loaded.card["label_mapping"].items()}
    first = outputs[0]
    if _is_regression(spec, outputs):
        return Predictions(labels=np.asarray(first).reshape(-1), regression=True)
    raw_labels = first.reshape(-1).tolist() if hasattr(first, "reshape") else list(first)
    decoded: dict[Any, Any] = {}  # few distinct codes: decode each once
    labels = []
    for code in raw_labels:
        if code not in decoded:
            decoded[code] = _label(code, spec.classes, mapping)
        labels.append(decoded[code])
    raw = next(
        (named[n] for n in named if "prob" in n.lower()), outputs[1] if len(outputs) > 1 else None
    )
    if raw is None:
        return Predictions(labels=labels)
    if isinstance(raw, list) and raw and isinstance(raw[0], Mapping):  # ZipMap output
        keys = list(raw[0])
        classes = [str(_label(k, spec.classes, mapping)) for k in keys]
        matrix = np.array([[float(r[k]) for k in keys] for r in raw], dtype=np.float64)
    else:
        matrix = np.asarray(raw).reshape(n_rows, -1)
        classes = [str(_label(i, spec.classes, mapping)) for i in range(matrix.shape[1])]
    return Predictions(labels=labels, classes=classes, probabilities=matrix)
