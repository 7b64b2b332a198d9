"""Honest numbers on the test split the search never saw, next to a trivial baseline.

Also: feature importance on the original columns, and a leakage check that flags a single
column which predicts the target almost perfectly on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training_image import metrics as metric_lib
from training_image.metrics import regression_metrics
from training_image.serialize import jsonable

CURVE_POINTS = 200
RESIDUAL_POINTS = 500
LEAKAGE_THRESHOLD = 0.98
LEAKAGE_MAX_ROWS = 5_000
LEAKAGE_MAX_COLUMNS = 60
# Checked whatever the time left: the most important columns, where a leak shows first (a
# column that gives the target away is what the model leans on most), at a few milliseconds.
LEAKAGE_MIN_COLUMNS = 3


def _thin(values: Sequence[float], limit: int) -> list[int]:
    """Indices of at most `limit` points spread over `values`, keeping both ends."""
    n = len(values)
    if n <= limit:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, limit).round().astype(int).tolist()))


def evaluate_classifier(
    model: Any,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    y_train: np.ndarray,
    *,
    classes: Sequence[Any],
    metric: str,
) -> dict[str, Any]:
    """Test metrics, baseline, confusion matrix, curves and per-class report.

    Args:
        model: the fitted pipeline (raw rows in, probabilities over `classes` out).
        X_test: raw test rows.
        y_test: test label codes (index into `classes`).
        y_train: training label codes (for the majority-class baseline).
        classes: original labels in code order.
        metric: the metric the search optimised.
    """
    from sklearn import metrics as m

    binary = len(classes) == 2
    proba = np.asarray(model.predict_proba(X_test), dtype=np.float64)
    test_metrics = metric_lib.headline(metric, y_test, proba, regression=False)

    prior = np.bincount(y_train, minlength=len(classes)) / len(y_train)
    baseline_proba = np.tile(prior, (len(y_test), 1))
    baseline = metric_lib.headline(metric, y_test, baseline_proba, regression=False)

    codes = np.arange(len(classes))
    predicted = np.argmax(proba, axis=1)
    labels = [jsonable(c) for c in classes]
    out: dict[str, Any] = {
        "test_metrics": test_metrics,
        "baseline": {"name": "majority class", "metrics": baseline},
        "confusion_matrix": {
            "labels": labels,
            "matrix": m.confusion_matrix(y_test, predicted, labels=codes).tolist(),
        },
    }
    precision, recall, f1, support = m.precision_recall_fscore_support(
        y_test, predicted, labels=codes, zero_division=0
    )
    out["per_class"] = [
        {
            "label": labels[i],
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i in codes
    ]
    if binary and len(np.unique(y_test)) == 2:
        fpr, tpr, _ = m.roc_curve(y_test, proba[:, 1])
        keep = _thin(fpr, CURVE_POINTS)
        out["roc_curve"] = {
            "fpr": [float(fpr[i]) for i in keep],
            "tpr": [float(tpr[i]) for i in keep],
            "auc": float(m.roc_auc_score(y_test, proba[:, 1])),
        }
        prec, rec, _ = m.precision_recall_curve(y_test, proba[:, 1])
        keep = _thin(prec, CURVE_POINTS)
        out["pr_curve"] = {
            "precision": [float(prec[i]) for i in keep],
            "recall": [float(rec[i]) for i in keep],
            "ap": float(m.average_precision_score(y_test, proba[:, 1])),
        }
    return out


def evaluate_regressor(
    model: Any,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    y_train: np.ndarray,
    *,
    metric: str,
    seed: int,
) -> dict[str, Any]:
    """Test metrics, mean baseline and a sample of residuals."""
    predicted = np.asarray(model.predict(X_test), dtype=np.float64)
    test_metrics = metric_lib.headline(metric, y_test, predicted, regression=True)
    mean = np.full(len(y_test), float(np.mean(y_train)))
    baseline = regression_metrics(y_test, mean)
    rows = np.arange(len(y_test))
    if len(rows) > RESIDUAL_POINTS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, RESIDUAL_POINTS, replace=False))
    return {
        "test_metrics": test_metrics,
        "baseline": {"name": "mean of the training target", "metrics": baseline},
        "residuals": {
            "predicted": [float(predicted[i]) for i in rows],
            "actual": [float(y_test[i]) for i in rows],
        },
    }


# --------------------------------------------------------------------------- importance


def _model_importances(model: Any) -> np.ndarray | None:
    """Normalised importances of the encoded features, for any model we train."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    from training_image.preprocess import learner

    inner = learner(model)
    if isinstance(inner, (VotingClassifier, VotingRegressor)):
        weights = [1.0] * len(inner.estimators_) if inner.weights is None else list(inner.weights)
        parts = [
            (w, _model_importances(est)) for w, est in zip(weights, inner.estimators_, strict=True)
        ]
        parts = [(w, imp) for w, imp in parts if imp is not None]
        if not parts:
            return None
        total = sum(w for w, _ in parts)
        return sum(w * imp for w, imp in parts) / total
    booster = getattr(inner, "booster_", None)
    if booster is not None and hasattr(booster, "feature_importance"):
        values = np.asarray(booster.feature_importance(importance_type="gain"), dtype=float)
    elif hasattr(inner, "feature_importances_"):
        values = np.asarray(inner.feature_importances_, dtype=float)
    else:
        return None
    values = np.nan_to_num(values, nan=0.0)
    total = values.sum()
    return values / total if total > 0 else values


def feature_importance(model: Any, sources: Sequence[str]) -> list[dict[str, Any]]:
    """Importance per original column (summed over its encoded features), largest first."""
    values = _model_importances(model)
    if values is None or len(values) != len(sources):
        return []
    totals: dict[str, float] = {}
    for source, value in zip(sources, values, strict=True):
        totals[source] = totals.get(source, 0.0) + float(value)
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
    return [{"feature": name, "importance": round(value, 6)} for name, value in ranked]


# --------------------------------------------------------------------------- leakage


@dataclass
class LeakageCheck:
    warnings: list[dict[str, Any]]  # evaluation.json's `leakage_warnings`
    checked: int  # columns checked
    columns: int  # columns to check (more than `checked` when the deadline came first)


def leakage_warnings(
    encoded: np.ndarray,
    y: np.ndarray,
    sources: Sequence[str],
    *,
    problem_type: str,
    seed: int,
    columns: Sequence[str] | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LeakageCheck:
    """Columns that predict the target almost perfectly on their own (cross-validated).

    A one-column decision tree is scored with 3-fold cross-validation on at most
    LEAKAGE_MAX_ROWS training rows: ROC AUC (binary), balanced accuracy (multiclass) or R²
    (regression). A score at or above LEAKAGE_THRESHOLD earns a warning: such a column is
    often only known after the outcome (a leak), which makes the model useless in practice.
    Columns are checked in the order given (most important first), past the first
    LEAKAGE_MIN_COLUMNS only until `deadline` (a `clock()` value), when one is given.
    """
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    rng = np.random.default_rng(seed)
    rows = np.arange(len(y))
    if len(rows) > LEAKAGE_MAX_ROWS:
        rows = np.sort(rng.choice(rows, LEAKAGE_MAX_ROWS, replace=False))
    X, target = encoded[rows], y[rows]
    source_array = np.asarray(sources, dtype=object)
    names = list(dict.fromkeys(columns if columns is not None else sources))[:LEAKAGE_MAX_COLUMNS]
    if len(target) < 30:
        return LeakageCheck([], len(names), len(names))
    classification = problem_type != "regression"
    if classification and np.bincount(target).min() < 3:
        return LeakageCheck([], len(names), len(names))
    splitter = (
        StratifiedKFold(3, shuffle=True, random_state=seed)
        if classification
        else KFold(3, shuffle=True, random_state=seed)
    )
    leaf = max(5, len(target) // 200)
    warnings_out = []
    checked = 0
    for name in names:
        if deadline is not None and checked >= LEAKAGE_MIN_COLUMNS and clock() >= deadline:
            break
        checked += 1
        idx = np.flatnonzero(source_array == name)
        if idx.size == 0:
            continue
        if classification:
            tree = DecisionTreeClassifier(min_samples_leaf=leaf, random_state=seed)
            if problem_type == "binary":
                proba = cross_val_predict(
                    tree, X[:, idx], target, cv=splitter, method="predict_proba"
                )
                value = metric_lib.score("roc_auc", target, proba)
                label = "ROC AUC"
            else:
                predicted = cross_val_predict(tree, X[:, idx], target, cv=splitter)
                from sklearn.metrics import balanced_accuracy_score

                value = float(balanced_accuracy_score(target, predicted))
                label = "balanced accuracy"
        else:
            tree = DecisionTreeRegressor(min_samples_leaf=leaf, random_state=seed)
            predicted = cross_val_predict(tree, X[:, idx], target, cv=splitter)
            value = metric_lib.score("r2", target, predicted)
            label = "R²"
        if value >= LEAKAGE_THRESHOLD:
            warnings_out.append(
                {
                    "feature": name,
                    "score": round(value, 4),
                    "message": (
                        f"'{name}' alone predicts the target almost perfectly ({label} "
                        f"{value:.3f} in cross-validation). If its value is only known after the "
                        "outcome, exclude it: the model would not work on new data."
                    ),
                }
            )
    return LeakageCheck(warnings_out, checked, len(names))
