"""Raw request values turned into ONNX graph inputs, with the standard library."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from core.exceptions import InvalidInput
from jobs.model_spec import Feature, ModelError, ModelSpec

T = TypeVar("T")

_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
_EPOCH = dt.datetime(1970, 1, 1)


def _number(value: Any, feature: Feature) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if text == "":
        return math.nan
    if feature.encoding == "boolean":
        lowered = text.lower()
        if lowered in _TRUE:
            return 1.0
        if lowered in _FALSE:
            return 0.0
    try:
        number = float(text)
    except ValueError:
        raise InvalidInput(
            f"Cannot convert '{value}' to number for feature '{feature.column}'",
            {"column": feature.column, "value": str(value), "expected": "a number"},
        ) from None
    return number


def _category(value: Any, missing_token: str) -> str:
    if value is None:
        return missing_token
    if isinstance(value, bool):
        value = str(value)
    text = str(value).strip()
    return text if text else missing_token


def _date_parts(value: Any, feature: Feature) -> dict[str, float]:
    """The same parts `preprocess.datetime_parts` computes, with `datetime.strptime`."""
    if value is None or str(value).strip() == "":
        return {}
    text = str(value).strip()
    try:
        if feature.datetime_format:
            when = dt.datetime.strptime(text, feature.datetime_format)
        else:
            when = dt.datetime.fromisoformat(text)
    except ValueError:
        expected = f" (expected like {feature.datetime_format})" if feature.datetime_format else ""
        raise InvalidInput(
            f"Cannot convert '{value}' to a date for feature '{feature.column}'{expected}",
            {
                "column": feature.column,
                "value": str(value),
                "expected": f"a date like {feature.datetime_format}"
                if feature.datetime_format
                else "an ISO date (YYYY-MM-DD)",
            },
        ) from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return {
        "year": float(when.year),
        "month": float(when.month),
        "day": float(when.day),
        "dayofweek": float(when.weekday()),
        "dayofyear": float(when.timetuple().tm_yday),
        "hour": float(when.hour),
        "epoch_days": (when - _EPOCH).total_seconds() / 86_400,
    }


def _convert_all(
    values: Sequence[Any], feature: Feature, convert: Callable[[Any, Feature], T]
) -> list[T]:
    """`convert` applied to each value; a refusal names its row (0-based) in `extra["row"]`."""
    out: list[T] = []
    try:
        for value in values:
            out.append(convert(value, feature))
    except InvalidInput as exc:
        raise InvalidInput(exc.message, {**exc.extra, "row": len(out)}) from None
    return out


def _numbers(values: Sequence[Any], feature: Feature) -> list[float]:
    """`_number` of each value, with a fast path for the common column of plain numbers."""
    try:
        # float() strips blanks around a number as `_number` does; anything it refuses
        # (a blank cell, "yes" for a boolean, a typo) takes the exact path below.
        return [math.nan if v is None else float(v) for v in values]
    except (TypeError, ValueError):
        return _convert_all(values, feature, _number)


def _categories(values: Sequence[Any], missing_token: str) -> list[str]:
    """`_category` of each value, with a fast path for a column of text and missing cells."""
    try:
        return [missing_token if v is None else (v.strip() or missing_token) for v in values]
    except AttributeError:  # numbers or booleans among the values
        return [_category(v, missing_token) for v in values]


def missing_features(spec: ModelSpec, features: Mapping[str, Any]) -> list[str]:
    """The model's feature columns absent from a request, in the model's order."""
    return [c for c in spec.feature_columns if c not in features]


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
    by_column = {f.column: f for f in spec.features}
    feeds: dict[str, Any] = {}
    parts_cache: dict[str, list[dict[str, float]]] = {}
    for graph_input in spec.inputs:
        feature = by_column.get(graph_input.column)
        if feature is None:
            raise ModelError("Model metadata missing feature columns information")
        raw = columns[graph_input.column]
        if len(raw) != n_rows:
            raise ValueError(f"column {graph_input.column!r} has {len(raw)} values, not {n_rows}")
        if graph_input.derived:
            if graph_input.column not in parts_cache:
                parts_cache[graph_input.column] = _convert_all(raw, feature, _date_parts)
            part = graph_input.derived
            values = [parts.get(part, math.nan) for parts in parts_cache[graph_input.column]]
            array = np.array(values, dtype=np.float32)
        elif graph_input.dtype == "string":
            if feature.encoding == "text":
                # Free text is lower-cased before the graph's tokenizer (as the card's notes say).
                texts = ["" if v is None else str(v).lower() for v in raw]
            else:
                token = spec.missing_token
                texts = _categories(raw, token)
            array = np.array(texts, dtype=object)
        else:
            array = np.array(_numbers(raw, feature), dtype=np.float32)
        feeds[graph_input.name] = array.reshape(n_rows, 1)
    return feeds
