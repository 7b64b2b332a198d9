"""Per-prediction feature contributions of a saved pipeline (model.pkl), by model type.

Each method splits one row's model output into a baseline plus one contribution per encoded
feature; contributions of the encoded features of one original column (one-hot slots, TF-IDF
words, date parts, missing flags) are summed into that column's.

* LightGBM, XGBoost: tree SHAP from the booster (`pred_contrib=True` / `pred_contribs=True`),
  exact, in the model's raw output (log-odds for classification).
* Random forest, extra trees: the path attribution of Saabas (each split's change of the node
  value, averaged over the trees), exact as a decomposition of the prediction but an
  approximation of SHAP; in probability (classification) or target units.
* Linear models: coefficient x encoded value, exact for the model relative to an all-zero
  input; in log-odds (logistic regression) or target units.
* The ensemble: the members' contributions weighted as the blend weights them, an
  approximation (the members' units differ when they mix boosters with forests).

Heavy (numpy, scikit-learn, LightGBM/XGBoost): the web imports it only to explain a prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

METHODS = {
    "tree_shap": ("Tree SHAP from the booster", True),
    "saabas": ("Saabas path attribution over the trees (approximates SHAP)", False),
    "linear": ("coefficient × encoded value (relative to an all-zero input)", True),
    "blend": ("weighted sum of the ensemble members' contributions (approximate)", False),
}


@dataclass
class Contributions:
    """One row's contributions per encoded feature, toward one output."""

    values: np.ndarray  # [n_encoded]
    baseline: float
    method: str  # a key of METHODS
    unit: str  # "log-odds", "probability" or "value"

    @property
    def exact(self) -> bool:
        return METHODS[self.method][1] and self.method != "blend"


def contributions(model: Any, X: np.ndarray, class_index: int | None) -> Contributions | None:
    """Contributions of the one row `X` ([1, n_encoded]) toward class `class_index`
    (None for regression); None when the model type has no method here."""
    from training_image.preprocess import learner
    from training_image.target_transform import is_log_target

    if is_log_target(model):  # the learner's own output is log(1 + y)
        found = contributions(learner(model), X, class_index)
        if found is not None:
            found.unit = "log(1 + value)"
        return found
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    model = learner(model)
    if isinstance(model, VotingClassifier | VotingRegressor):
        return _blend(model, X, class_index)
    if hasattr(model, "booster_"):
        return _lightgbm(model, X, class_index)
    if hasattr(model, "get_booster"):
        return _xgboost(model, X, class_index)
    if hasattr(model, "estimators_") and hasattr(model.estimators_[0], "tree_"):
        return _saabas(model, X, class_index)
    if hasattr(model, "coef_"):
        return _linear(model, X, class_index)
    return None


def _pick(raw: np.ndarray, n_features: int, class_index: int | None, n_classes: int) -> Any:
    """(contributions, baseline) for the class from a [1, (n+1)] or [1, K*(n+1)] array."""
    raw = np.asarray(raw, dtype=np.float64).reshape(-1)
    if class_index is None or n_classes <= 2:
        row = raw[: n_features + 1]
        sign = -1.0 if class_index == 0 and n_classes == 2 else 1.0
        return sign * row[:-1], sign * row[-1]
    row = raw.reshape(n_classes, n_features + 1)[class_index]
    return row[:-1], row[-1]


def _lightgbm(model: Any, X: np.ndarray, class_index: int | None) -> Contributions:
    # One thread: a single row gains nothing from OpenMP, whose start-up costs milliseconds.
    raw = model.booster_.predict(X, pred_contrib=True, num_threads=1)
    n_classes = len(getattr(model, "classes_", ())) or 1
    values, baseline = _pick(raw, X.shape[1], class_index, n_classes)
    unit = "value" if class_index is None else "log-odds"
    return Contributions(values, float(baseline), "tree_shap", unit)


def _xgboost(model: Any, X: np.ndarray, class_index: int | None) -> Contributions:
    import xgboost

    booster = model.get_booster()
    booster.set_param({"nthread": 1})  # a single row: threads only add start-up time
    raw = booster.predict(xgboost.DMatrix(X, nthread=1), pred_contribs=True)
    n_classes = len(getattr(model, "classes_", ())) or 1
    values, baseline = _pick(raw, X.shape[1], class_index, n_classes)
    unit = "value" if class_index is None else "log-odds"
    return Contributions(values, float(baseline), "tree_shap", unit)


def _node_values(tree: Any, class_index: int | None) -> np.ndarray:
    value = tree.tree_.value[:, 0, :]
    if class_index is None:
        return value[:, 0]
    totals = value.sum(axis=1)
    totals[totals == 0] = 1.0
    return value[:, class_index] / totals


def _saabas(model: Any, X: np.ndarray, class_index: int | None) -> Contributions:
    X = np.asarray(X, dtype=np.float32)
    values = np.zeros(X.shape[1])
    baseline = 0.0
    for tree in model.estimators_:
        nodes = _node_values(tree, class_index)
        path = tree.decision_path(X).indices  # root first, in visiting order
        features = tree.tree_.feature
        baseline += nodes[path[0]]
        for parent, child in zip(path[:-1], path[1:], strict=True):
            values[features[parent]] += nodes[child] - nodes[parent]
    n = len(model.estimators_)
    unit = "value" if class_index is None else "probability"
    return Contributions(values / n, baseline / n, "saabas", unit)


def _linear(model: Any, X: np.ndarray, class_index: int | None) -> Contributions:
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(getattr(model, "intercept_", 0.0), dtype=np.float64).reshape(-1)
    x = np.asarray(X, dtype=np.float64).reshape(-1)
    if coef.ndim == 1:  # regression
        return Contributions(coef * x, float(intercept[0]), "linear", "value")
    if coef.shape[0] == 1:  # binary: the coefficients are toward class 1
        sign = -1.0 if class_index == 0 else 1.0
        return Contributions(sign * coef[0] * x, sign * float(intercept[0]), "linear", "log-odds")
    k = class_index or 0
    return Contributions(coef[k] * x, float(intercept[k]), "linear", "log-odds")


def _blend(model: Any, X: np.ndarray, class_index: int | None) -> Contributions | None:
    weights = np.asarray(
        model.weights if model.weights is not None else np.ones(len(model.estimators_)),
        dtype=np.float64,
    )
    weights = weights / weights.sum()
    total = np.zeros(X.shape[1])
    baseline = 0.0
    units = set()
    for member, weight in zip(model.estimators_, weights, strict=True):
        part = contributions(member, X, class_index)
        if part is None:
            return None
        total += weight * part.values
        baseline += weight * part.baseline
        units.add(part.unit)
    unit = units.pop() if len(units) == 1 else "mixed"
    return Contributions(total, baseline, "blend", unit)


def by_column(values: np.ndarray, sources: Sequence[str]) -> dict[str, float]:
    """Encoded-feature contributions summed per original column."""
    totals: dict[str, float] = {}
    for source, value in zip(sources, values, strict=True):
        totals[source] = totals.get(source, 0.0) + float(value)
    return totals


class RowEncoder:
    """The encoded features of one row, computed from the fitted encoder's learned values
    without pandas or ColumnTransformer (which cost milliseconds per row): the median
    imputer's statistics, missing flags, one-hot and ordinal categories, TF-IDF.

    `encode` returns None for an encoder it does not know; callers then use the pipeline.
    """

    def __init__(self, pipeline: Any) -> None:
        self.preparer = pipeline.named_steps["prepare"]
        self.encoder = pipeline.named_steps["encode"]
        self.known = all(
            name == "remainder"
            or transformer == "drop"
            or name in ("numeric", "missing", "onehot", "ordinal")
            or name.startswith(("text_", "words_"))
            for name, transformer, _ in self.encoder.transformers_
        )

    def encode(self, row: dict[str, Any]) -> np.ndarray | None:
        from training_image import features as rule

        if not self.known:
            return None
        prepared: dict[str, Any] = {}
        for f in self.preparer.features:
            values = rule.prepare_column(f, [row.get(f.column)], strict=False)
            for name, column in zip(f.inputs, values, strict=True):
                prepared[name] = column[0]
        parts: list[np.ndarray] = []
        for name, transformer, columns in self.encoder.transformers_:
            if name == "remainder" or transformer == "drop":
                continue
            if name == "numeric":
                x = np.array([prepared[c] for c in columns], dtype=np.float64)
                parts.append(np.where(np.isnan(x), transformer.statistics_, x))
            elif name == "missing":
                parts.append(np.isnan(np.array([prepared[c] for c in columns], dtype=np.float64)))
            elif name == "onehot":
                for column, categories in zip(columns, transformer.categories_, strict=True):
                    parts.append((categories == prepared[column]).astype(np.float64))
            elif name == "ordinal":
                codes = []
                for column, categories in zip(columns, transformer.categories_, strict=True):
                    hits = np.flatnonzero(categories == prepared[column])
                    codes.append(float(hits[0]) if len(hits) else -1.0)
                parts.append(np.array(codes))
            elif name.startswith("words_"):
                parts.append(transformer.transform([prepared[columns]]).ravel())
            else:  # text_<input>: the fitted vectorizer on the one document
                parts.append(transformer.transform([prepared[columns]]).toarray().ravel())
        return np.concatenate(parts).astype(np.float32).reshape(1, -1)
