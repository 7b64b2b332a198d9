"""The earlier edition's training pipeline, re-implemented rule by rule for the benchmark.

Source: `../shared/reference-pipeline.md`. This module is the baseline our pipeline must beat, so
it copies the earlier edition's choices, weaknesses included (imputation on all rows before the
split, ordinal codes for every string, a 20 % split that never trains the model, batch medians at
prediction time). It is never imported by the product.

Where the rules are silent we chose the most literal reading and say so next to the code:

* quasi-constant: the top value's share among the *non-missing* values (pandas'
  `value_counts(normalize=True)`, which drops missing values); a column with no value at all
  is constant too;
* "unique" ratios are distinct non-missing values divided by rows;
* the string ID sample is the first 100 non-missing values;
* FLAML runs with `n_jobs=1` (the benchmark's fairness rule on a shared 2-core machine) and
  `verbose=0` (logging only); every other setting is the one the rules name or FLAML's default.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split

# Rule 2: drop reasons, in the order the rules are applied.
QUASI_CONSTANT = "quasi_constant"
DUPLICATE = "duplicate"
ID_LIKE = "id_like"
HIGH_CARDINALITY = "high_cardinality_string"
DROP_ORDER = (QUASI_CONSTANT, DUPLICATE, ID_LIKE, HIGH_CARDINALITY)

QUASI_CONSTANT_SHARE = 0.98
ID_NAME_PATTERNS = (
    r"^id$",
    r"_id$",
    r"^id_",
    r"_id_",
    r"^uuid$",
    r"^guid$",
    r"order.*id",
    r"customer.*id",
    r"user.*id",
    r"transaction.*id",
    r"product.*id",
    r"session.*id",
    r"^index$",
    r"^row.*num",
    r"^serial",
    r"^record.*id",
)
_ID_NAME = re.compile("|".join(f"(?:{p})" for p in ID_NAME_PATTERNS))
ID_UNIQUE_SHARE = 0.95
ID_CODE_VALUE = re.compile(r"^[A-Za-z0-9\-_]+$")
ID_CODE_SAMPLE = 100
ID_CODE_SHARE = 0.90
HIGH_CARDINALITY_SHARE = 0.5

# Rule 3.
CLASSIFICATION = "classification"
REGRESSION = "regression"
MAX_INTEGER_CLASSES = 10
MAX_FEW_CLASSES = 20
FEW_CLASSES_SHARE = 0.05

# Rule 4.
UNKNOWN = "Unknown"

# Rule 5: the code the earlier edition gave a category it had not seen in training (rule 9).
UNSEEN_CODE = -1

# Rule 6.
TEST_SIZE = 0.2
RANDOM_STATE = 42

# Rule 7.
ESTIMATORS = ("lgbm", "xgboost", "rf", "extra_tree")
METRICS = {"binary": "f1", "multiclass": "accuracy", "regression": "r2"}


@dataclass(frozen=True)
class DroppedColumn:
    name: str
    reason: str


def is_string_column(column: pd.Series) -> bool:
    """True for text columns (pandas `str`/object dtype); numbers and booleans are not strings."""
    return ptypes.is_string_dtype(column) or ptypes.is_object_dtype(column)


def is_numeric_column(column: pd.Series) -> bool:
    return ptypes.is_numeric_dtype(column) and not ptypes.is_bool_dtype(column)


def _unique_share(column: pd.Series) -> float:
    return column.nunique(dropna=True) / len(column) if len(column) else 0.0


def is_quasi_constant(column: pd.Series) -> bool:
    """Rule 2a: the most frequent value covers ≥ 98 % of the rows, missing values ignored."""
    shares = column.value_counts(normalize=True, dropna=True)
    return shares.empty or float(shares.iloc[0]) >= QUASI_CONSTANT_SHARE


def is_id_like(column: pd.Series) -> bool:
    """Rule 2c: an ID name, a 1-step unique integer run, or a mostly unique code column."""
    if _ID_NAME.search(str(column.name).lower()):
        return True
    if ptypes.is_integer_dtype(column) and not ptypes.is_bool_dtype(column):
        values = np.sort(column.to_numpy())
        return len(values) > 1 and bool(np.all(np.diff(values) == 1))
    if is_string_column(column) and _unique_share(column) > ID_UNIQUE_SHARE:
        sample = column.dropna().astype(str).head(ID_CODE_SAMPLE)
        if sample.empty:
            return False
        code_share = sample.map(lambda v: bool(ID_CODE_VALUE.match(v))).mean()
        return bool(code_share >= ID_CODE_SHARE)
    return False


def is_high_cardinality_string(column: pd.Series) -> bool:
    """Rule 2d: a string column with more than half its rows distinct."""
    return is_string_column(column) and _unique_share(column) > HIGH_CARDINALITY_SHARE


def columns_to_drop(features: pd.DataFrame) -> list[DroppedColumn]:
    """Rule 2: every dropped feature with the first rule (in rule order) that dropped it.

    Each rule runs over the columns the earlier rules kept, so a column is dropped at most
    once and a duplicate is only compared with earlier columns still present.
    """
    kept = list(features.columns)
    dropped: list[DroppedColumn] = []

    def drop(reason: str, names: Sequence[str]) -> None:
        for name in names:
            kept.remove(name)
            dropped.append(DroppedColumn(name, reason))

    drop(QUASI_CONSTANT, [c for c in kept if is_quasi_constant(features[c])])
    duplicates = [
        c
        for i, c in enumerate(kept)
        if any(features[c].equals(features[earlier]) for earlier in kept[:i])
    ]
    drop(DUPLICATE, duplicates)
    drop(ID_LIKE, [c for c in kept if is_id_like(features[c])])
    drop(HIGH_CARDINALITY, [c for c in kept if is_high_cardinality_string(features[c])])
    return dropped


def _is_integer_like(column: pd.Series) -> bool:
    if ptypes.is_integer_dtype(column):
        return True
    if not ptypes.is_float_dtype(column):
        return False
    values = column.dropna().to_numpy()
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def detect_problem_type(target: pd.Series) -> str:
    """Rule 3: `classification` or `regression` for a target column."""
    if not is_numeric_column(target):
        return CLASSIFICATION
    n_unique = target.nunique(dropna=True)
    if _is_integer_like(target) and n_unique <= MAX_INTEGER_CLASSES:
        return CLASSIFICATION
    if n_unique < MAX_FEW_CLASSES and n_unique / len(target) < FEW_CLASSES_SHARE:
        return CLASSIFICATION
    return REGRESSION


def detect_task(target: pd.Series) -> str:
    """Rule 3 refined into the metric's task: `binary`, `multiclass` or `regression`."""
    if detect_problem_type(target) == REGRESSION:
        return "regression"
    return "binary" if target.nunique(dropna=True) == 2 else "multiclass"


def imputation_values(features: pd.DataFrame) -> dict[str, Any]:
    """Rule 4: median for numbers, mode (or "Unknown") for strings, over the rows given."""
    values: dict[str, Any] = {}
    for name in features.columns:
        column = features[name]
        if is_string_column(column):
            modes = column.mode(dropna=True)
            values[name] = modes.iloc[0] if not modes.empty else UNKNOWN
        elif is_numeric_column(column):
            values[name] = column.median()
    return values


def impute(features: pd.DataFrame, values: dict[str, Any]) -> pd.DataFrame:
    return features.fillna(value=values)


def fit_ordinal_encoders(features: pd.DataFrame) -> dict[str, list[str]]:
    """Rule 5: one encoder per string column; a value's code is its rank among sorted labels."""
    return {
        name: sorted(features[name].dropna().astype(str).unique())
        for name in features.columns
        if is_string_column(features[name])
    }


def encode(features: pd.DataFrame, encoders: dict[str, list[str]]) -> pd.DataFrame:
    """Replace each encoded column by its codes; categories never seen get -1 (rule 9)."""
    encoded = features.copy()
    for name, labels in encoders.items():
        codes = {label: code for code, label in enumerate(labels)}
        encoded[name] = features[name].astype(str).map(codes).fillna(UNSEEN_CODE).astype("int64")
    return encoded


def flaml_settings(task: str, time_budget: float, *, n_jobs: int = 1) -> dict[str, Any]:
    """Rule 7: the `AutoML.fit` keyword arguments for `task` (binary/multiclass/regression)."""
    return {
        "task": REGRESSION if task == "regression" else CLASSIFICATION,
        "metric": METRICS[task],
        "time_budget": time_budget,
        "estimator_list": list(ESTIMATORS),
        "early_stop": True,
        "retrain_full": True,
        # Not part of the earlier edition: one core so both sides of the benchmark are equal.
        "n_jobs": n_jobs,
        "verbose": 0,
    }


@dataclass
class PreparedData:
    """Rules 1–6 applied to a frame: what FLAML is fitted on and reported against."""

    task: str
    dropped: list[DroppedColumn]
    features: list[str]
    fill_values: dict[str, Any]
    encoders: dict[str, list[str]]
    target_labels: list[Any] | None  # the string target's sorted labels (code = index)
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def prepare(df: pd.DataFrame, target: str, *, task: str | None = None) -> PreparedData:
    """Rules 1–6: drop, detect, impute on all rows, encode, then split 80/20.

    Args:
        df: The training frame, target included.
        target: Name of the target column.
        task: `binary`, `multiclass` or `regression`; detected with rule 3 when None.

    Returns:
        The prepared split and everything learned on the way.
    """
    if target not in df.columns:
        raise ValueError(f"Target column {target!r} is not in the frame.")
    # Unspecified by the rules: a row without a target cannot be learned from.
    df = df[df[target].notna()]
    y = df[target]
    x = df.drop(columns=[target])
    task = task or detect_task(y)
    dropped = columns_to_drop(x)
    x = x.drop(columns=[d.name for d in dropped])
    fill_values = imputation_values(x)
    x = impute(x, fill_values)
    encoders = fit_ordinal_encoders(x)
    x = encode(x, encoders)
    target_labels = None
    if task != "regression" and is_string_column(y):
        target_labels = sorted(y.astype(str).unique())
        codes = {label: code for code, label in enumerate(target_labels)}
        y = y.astype(str).map(codes).astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(
        x,
        y,
        test_size=TEST_SIZE,
        random_state=RANDOM_STATE,
        stratify=y if task != "regression" else None,
    )
    return PreparedData(
        task=task,
        dropped=dropped,
        features=list(x.columns),
        fill_values=fill_values,
        encoders=encoders,
        target_labels=target_labels,
        x_train=x_train,
        x_test=x_test,
        y_train=y_train,
        y_test=y_test,
    )


def report(task: str, y_true: pd.Series, y_pred: np.ndarray) -> dict[str, float]:
    """Rule 8: the metrics the earlier edition showed for its 20 % split."""
    if task == "regression":
        return {
            "r2": float(skm.r2_score(y_true, y_pred)),
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        }
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "f1_weighted": float(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "precision_weighted": float(
            skm.precision_score(y_true, y_pred, average="weighted", zero_division=0)
        ),
        "recall_weighted": float(
            skm.recall_score(y_true, y_pred, average="weighted", zero_division=0)
        ),
    }


@dataclass
class ReferenceModel:
    """A fitted earlier-edition pipeline; `predict` takes raw rows like the original service."""

    task: str
    dropped: list[DroppedColumn]
    features: list[str]
    encoders: dict[str, list[str]]
    target_labels: list[Any] | None
    automl: Any
    report: dict[str, float] = field(default_factory=dict)
    fit_seconds: float = 0.0

    @property
    def classes_(self) -> np.ndarray:
        """Class labels in `predict_proba` column order (original labels)."""
        codes = np.asarray(self.automl.classes_)
        if self.target_labels is None:
            return codes
        return np.asarray([self.target_labels[int(c)] for c in codes], dtype=object)

    def transform(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Rule 9: impute with the batch's own medians/modes, unseen categories → -1."""
        missing = [c for c in self.features if c not in rows.columns]
        if missing:
            raise ValueError(f"Missing columns for prediction: {', '.join(missing)}")
        x = rows[self.features]
        return encode(impute(x, imputation_values(x)), self.encoders)

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        predicted = np.asarray(self.automl.predict(self.transform(rows)))
        if self.target_labels is None:
            return predicted
        return np.asarray([self.target_labels[int(c)] for c in predicted], dtype=object)

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.automl.predict_proba(self.transform(rows)))


def fit_reference(
    df: pd.DataFrame,
    target: str,
    *,
    time_budget: float,
    task: str | None = None,
    n_jobs: int = 1,
) -> ReferenceModel:
    """Run the earlier edition's whole training pipeline (rules 1–8) on `df`.

    Args:
        df: Raw training rows, target included.
        target: Name of the target column.
        time_budget: FLAML's search budget in seconds.
        task: `binary`, `multiclass` or `regression`; rule 3 decides when None.
        n_jobs: Threads FLAML may use.

    Returns:
        The fitted model with its rule-8 report on the internal 20 % split.
    """
    from flaml import AutoML

    started = time.perf_counter()
    data = prepare(df, target, task=task)
    automl = AutoML()
    automl.fit(data.x_train, data.y_train, **flaml_settings(data.task, time_budget, n_jobs=n_jobs))
    model = ReferenceModel(
        task=data.task,
        dropped=data.dropped,
        features=data.features,
        encoders=data.encoders,
        target_labels=data.target_labels,
        automl=automl,
    )
    # The 20 % split was imputed and encoded with the training rows, so it is scored as is.
    model.report = report(data.task, data.y_test, np.asarray(automl.predict(data.x_test)))
    model.fit_seconds = time.perf_counter() - started
    return model
