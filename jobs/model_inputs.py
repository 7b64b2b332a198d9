"""Raw request values turned into ONNX graph inputs, by the rule `training_image/features.py`
defines once for training and serving (the saved pipeline's `prepare` step uses it too)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.exceptions import InvalidInput
from jobs.model_spec import ModelError, ModelSpec
from training_image import features as rule


def missing_features(spec: ModelSpec, features: Mapping[str, Any]) -> list[str]:
    """The model's feature columns absent from a request, in the model's order."""
    return [c for c in spec.feature_columns if c not in features]


def check_row(
    spec: ModelSpec, row: Mapping[str, Any]
) -> tuple[list[rule.Problem], list[rule.Problem]]:
    """Every problem of one row: (errors, warnings), in the model's feature order.

    Errors: a missing feature, a value of the wrong type, an infinity, a number in another unit
    than the one the column was written with, a date in another format,
    a category the model never saw (with the allowed values). Warnings (never blocking): a number
    outside the training range, a category outside the most frequent ones the card lists.
    """
    errors: list[rule.Problem] = []
    warnings: list[rule.Problem] = []
    for f in spec.features:
        if f.column not in row:
            errors.append(
                rule.Problem(
                    f.column, "missing", f"Feature '{f.column}' is missing", None, "a value"
                )
            )
            continue
        error, warning = rule.check_value(
            column=f.column,
            encoding=f.encoding,
            value=row[f.column],
            datetime_format=f.datetime_format,
            categories=f.categories,
            all_categories_known=f.all_categories_known,
            minimum=f.minimum,
            maximum=f.maximum,
            unit=f.unit,
        )
        if error is not None:
            errors.append(error)
        if warning is not None:
            warnings.append(warning)
    return errors, warnings


def refusal(errors: Sequence[rule.Problem], *, row: int | None = None) -> InvalidInput:
    """One 400 for every error of a row.

    `detail` keeps the earlier edition's sentences (`Missing required features: ['a', 'b']`,
    `Cannot convert 'x' to number for feature 'f'`), joined with "; "; `extra.errors` lists
    each problem as `{feature, code, message, value?, expected?, allowed?}`.
    """
    missing = [p.feature for p in errors if p.code == "missing"]
    parts = [f"Missing required features: {missing!r}"] if missing else []
    parts += [p.message for p in errors if p.code != "missing"]
    extra: dict[str, Any] = {"errors": [p.as_dict() for p in errors]}
    if missing:
        extra["missing"] = missing
    if row is not None:
        extra["row"] = row
    return InvalidInput("; ".join(parts), extra)


def build_inputs(spec: ModelSpec, features: Mapping[str, Any]) -> dict[str, Any]:
    """One row of graph inputs from raw values (numpy arrays shaped [1, 1]).

    Raises:
        InvalidInput: a feature is missing, or a value cannot be read as its type.
    """
    missing = missing_features(spec, features)
    if missing:
        raise InvalidInput(f"Missing required features: {missing!r}")
    return build_column_inputs(spec, {c: (features.get(c),) for c in spec.feature_columns}, 1)


def build_column_inputs(
    spec: ModelSpec, columns: Mapping[str, Sequence[Any]], n_rows: int
) -> dict[str, Any]:
    """N rows of graph inputs (numpy arrays shaped [N, 1]) from raw values by column.

    Each value goes through the same conversion as a one-row request, so a row scores
    the same alone or in a batch.

    Args:
        spec: the model's inputs and features.
        columns: for each feature column, its N raw values (None is missing).
        n_rows: N.

    Raises:
        InvalidInput: a feature column is absent, or a value cannot be read as its type
            (`extra` then holds `row` (0-based), `column`, `value` and `expected`).
    """
    import numpy as np

    missing = [c for c in spec.feature_columns if c not in columns]
    if missing:
        raise InvalidInput(f"Missing required features: {missing!r}")
    feeds: dict[str, Any] = {}
    for feature in spec.feature_specs:
        raw = columns[feature.column]
        if len(raw) != n_rows:
            raise ValueError(f"column {feature.column!r} has {len(raw)} values, not {n_rows}")
        try:
            prepared = rule.prepare_column(feature, raw, strict=True)
        except rule.RowProblem as exc:
            value = raw[exc.row]
            raise InvalidInput(
                exc.problem.message,
                {
                    "row": exc.row,
                    "column": feature.column,
                    "value": str(value),
                    "expected": exc.problem.expected,
                },
            ) from None
        for name, values in zip(feature.inputs, prepared, strict=True):
            dtype = object if spec.input_dtypes.get(name) == "string" else np.float32
            feeds[name] = np.asarray(values, dtype=dtype).reshape(n_rows, 1)
    return feeds


__all__ = ["ModelError", "build_column_inputs", "build_inputs", "check_row", "missing_features"]
