"""Serving a deployed model: ONNX sessions in a bounded LRU cache, and rows built in stdlib.

The model card (`model_card.json`) says which graph inputs exist and how each is made
from an original column (`onnx.inputs`: name, column, dtype float|string, derived
date part). This module builds those inputs from a request's raw values with the
standard library, the same way the saved pipeline's `RawFramePreparer` does it with
pandas, so a served prediction matches `model.pkl`'s. Missing values are passed as
NaN / the missing token and imputed inside the graph with the *training* statistics;
unseen categories go to the graph, whose encoder handles them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings

from automl_lite import wiring
from core.exceptions import ApplicationError, InvalidInput
from training_image.contract import ARTIFACT_STORAGE, MODEL_CARD, MODEL_ONNX, Job

logger = logging.getLogger(__name__)
T = TypeVar("T")

MISSING_TOKEN = "__missing__"  # default when the card does not name one
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
_EPOCH = dt.datetime(1970, 1, 1)


class ModelError(ApplicationError):
    """The deployed model or its metadata cannot serve (a server-side fault)."""

    status_code = 500


# --------------------------------------------------------------------------- the model card


@dataclass(frozen=True)
class GraphInput:
    """One input of the ONNX graph and the raw column it is built from."""

    name: str
    column: str
    dtype: str  # "float" | "string"
    derived: str | None = None  # a date part ("year", "dayofweek", ...) or None
    encoding: str | None = None  # numeric | boolean | onehot | ordinal | text | datetime
    format: str | None = None  # strptime format of a datetime column


@dataclass(frozen=True)
class Feature:
    """One original column the model takes, as a form field or an API feature."""

    column: str
    kind: str  # numeric | integer | boolean | categorical | text | datetime
    encoding: str  # numeric | boolean | onehot | ordinal | text | datetime
    datetime_format: str | None = None
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    is_integer: bool = False
    example: Any = None

    @property
    def is_numeric(self) -> bool:
        return self.encoding in ("numeric", "boolean")

    @property
    def legacy_type(self) -> str:
        return "numeric" if self.encoding in ("numeric", "boolean") else "categorical"

    @property
    def input_type(self) -> str:
        if self.encoding == "numeric":
            return "number"
        if self.encoding == "boolean" or self.categories:
            return "select"
        if self.encoding == "datetime":
            return "date"
        return "text"

    @property
    def choices(self) -> list[str]:
        if self.encoding == "boolean" and not self.categories:
            return ["true", "false"]
        return [c for c in self.categories if c != MISSING_TOKEN]


@dataclass
class ModelSpec:
    """What serving needs from a model card."""

    problem_type: str
    features: list[Feature]
    inputs: list[GraphInput]
    outputs: list[str] = field(default_factory=list)
    classes: list[Any] = field(default_factory=list)
    missing_token: str = MISSING_TOKEN

    @property
    def feature_columns(self) -> list[str]:
        return [f.column for f in self.features]


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def model_spec(card: Mapping[str, Any], job: Job | None = None) -> ModelSpec:
    """Read a model card (plus the job's preprocessing summary for ranges and categories).

    Raises:
        ModelError: the card lists no features or no ONNX inputs.
    """
    pre = (job.preprocessing if job else None) or {}
    onnx = card.get("onnx") if isinstance(card.get("onnx"), Mapping) else {}
    inputs = [
        GraphInput(
            name=str(i["name"]),
            column=str(i.get("column", i["name"])),
            dtype="string" if str(i.get("dtype", "float")) == "string" else "float",
            derived=i.get("derived") or None,
            encoding=i.get("encoding") or None,
            format=i.get("format") or None,
        )
        for i in onnx.get("inputs") or []
        if isinstance(i, Mapping) and i.get("name")
    ]
    numeric_stats = pre.get("numeric_stats") or {}
    categorical_values = pre.get("categorical_values") or {}
    feature_types = pre.get("feature_types") or {}
    features: list[Feature] = []
    for entry in card.get("features") or []:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping):
            continue
        column = str(entry.get("name") or entry.get("column"))
        kind = str(entry.get("kind") or feature_types.get(column) or "numeric")
        graph = [i for i in inputs if i.column == column]
        encoding = (
            entry.get("encoding")
            or next((i.encoding for i in graph if i.encoding), None)
            or _guess_encoding(kind, graph)
        )
        stats = numeric_stats.get(column) or {}
        categories = (
            entry.get("allowed_values")
            or entry.get("categories")
            or categorical_values.get(column)
            or []
        )
        fmt = entry.get("format") or entry.get("datetime_format")
        fmt = fmt or next((i.format for i in graph if i.format), None)
        features.append(
            Feature(
                column=column,
                kind=kind,
                encoding=str(encoding),
                datetime_format=fmt,
                categories=tuple(str(c) for c in categories),
                minimum=_float(entry.get("min", stats.get("min"))),
                maximum=_float(entry.get("max", stats.get("max"))),
                is_integer=bool(entry.get("is_integer", stats.get("is_integer", False))),
                example=entry.get("example"),
            )
        )
    if not features or not inputs:
        raise ModelError("Model metadata missing feature columns information")
    outputs = [
        str(o["name"] if isinstance(o, Mapping) else o) for o in onnx.get("outputs") or [] if o
    ]
    return ModelSpec(
        problem_type=str(card.get("problem_type") or (job.problem_type if job else "") or ""),
        features=features,
        inputs=inputs,
        outputs=outputs,
        classes=list(card.get("classes") or []),
        missing_token=str(onnx.get("missing_token") or card.get("missing_token") or MISSING_TOKEN),
    )


def _guess_encoding(kind: str, graph: list[GraphInput]) -> str:
    if any(i.derived for i in graph):
        return "datetime"
    if graph and graph[0].dtype == "string":
        return "text" if kind == "text" else "onehot"
    return "boolean" if kind == "boolean" else "numeric"


# --------------------------------------------------------------------------- raw values -> inputs


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


# --------------------------------------------------------------------------- the cache


@dataclass
class LoadedModel:
    """A ready ONNX session with what is needed to feed it and read its outputs."""

    session: Any
    spec: ModelSpec
    card: dict[str, Any]


class ModelCache:
    """A bounded, thread-safe LRU of loaded ONNX sessions, keyed by job id."""

    def __init__(self, maxsize: int | None = None) -> None:
        self._maxsize = maxsize
        self._items: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def maxsize(self) -> int:
        return self._maxsize or settings.AUTOML_MODEL_CACHE_SIZE

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._items

    def get(self, job: Job) -> LoadedModel:
        """The job's loaded model, from the cache or loaded now (evicting the oldest)."""
        with self._lock:
            if job.job_id in self._items:
                self._items.move_to_end(job.job_id)
                return self._items[job.job_id]
        loaded = _load(job)  # outside the lock: loading can take a while
        with self._lock:
            self._items[job.job_id] = loaded
            self._items.move_to_end(job.job_id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return loaded

    def evict(self, job_id: str) -> None:
        """Forget the job's model (deleted or undeployed)."""
        with self._lock:
            self._items.pop(job_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


model_cache = ModelCache()


def _read_artifact(job: Job, name: str) -> bytes:
    key = (job.artifacts or {}).get(name)
    if not key:
        raise ModelError(f"The model's {name} is missing")
    try:
        with wiring.storage(ARTIFACT_STORAGE[name]).open(key, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ModelError(f"The model's {name} is missing from storage") from None


def load_card(job: Job) -> dict[str, Any]:
    """The job's model_card.json (ModelError when it is missing or unreadable)."""
    try:
        card = json.loads(_read_artifact(job, MODEL_CARD).decode("utf-8"))
    except ValueError:
        raise ModelError("Model metadata missing feature columns information") from None
    if not isinstance(card, dict):
        raise ModelError("Model metadata missing feature columns information")
    return card


def _load(job: Job) -> LoadedModel:
    import onnxruntime as ort

    card = load_card(job)
    spec = model_spec(card, job)
    options = ort.SessionOptions()
    # One request scores one row: threads cost more than they give, and the web shares cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(
            _read_artifact(job, MODEL_ONNX), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - a corrupt model is a server fault, not user input
        logger.exception("Could not load the ONNX model of job %s", job.job_id)
        raise ModelError("Prediction error: the model could not be loaded") from exc
    return LoadedModel(session=session, spec=spec, card=card)


# --------------------------------------------------------------------------- predict


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
    return model_spec(load_card(job), job)


def predict(job: Job, features: Mapping[str, Any]) -> dict[str, Any]:
    """Score one row; the prediction comes back in the target's original labels.

    Raises:
        InvalidInput: missing features or unreadable values (400).
        ModelError: unusable metadata or a failed inference (500).
    """
    if not isinstance(features, Mapping):
        raise InvalidInput("features must be an object of column names to values")
    return predict_rows(job, [features]).row(0)


def predict_rows(job: Job, rows: Sequence[Mapping[str, Any]]) -> Predictions:
    """Score N rows (mappings of column to raw value) with one run of the graph.

    Raises:
        InvalidInput: a row misses features or holds an unreadable value (400);
            `extra["row"]` is its 0-based index.
        ModelError: unusable metadata or a failed inference (500).
    """
    # Check the card before loading the graph, so a bad request costs no model load.
    spec = job_spec(job)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(
                "Each row must be an object of column names to values", {"row": index}
            )
        missing = missing_features(spec, row)
        if missing:
            raise InvalidInput(
                f"Missing required features: {missing!r}", {"row": index, "missing": missing}
            )
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
    except Exception as exc:  # noqa: BLE001 - never show raw onnxruntime text to clients
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
    mapping = {str(k): v for k, v in (loaded.card.get("label_mapping") or {}).items()}
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
