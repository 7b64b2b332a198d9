"""Metric names, their FLAML spelling, and scoring predictions the same way everywhere.

Classification predictions are probability matrices over label codes 0..K-1; regression
predictions are values. Scores are in the metric's own units (higher is better unless the
metric is in `contract.LOWER_IS_BETTER`).

numpy only, so the web's workers score a validation file with the very functions training
scored its test split with, without loading scikit-learn; `tests/training_image/test_metrics.py`
checks each against scikit-learn's definition.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from training_image.contract import LOWER_IS_BETTER, mape_applies


def score_from_flaml_loss(metric: str, loss: float) -> float:
    """FLAML minimises `1 - score` for higher-is-better metrics and the metric itself otherwise."""
    return float(loss) if metric in LOWER_IS_BETTER else 1.0 - float(loss)


def best_possible(metric: str) -> float:
    """The best score a metric can take (a perfect model)."""
    return 0.0 if metric in LOWER_IS_BETTER else 1.0


def is_better(metric: str, a: float, b: float) -> bool:
    """Is score `a` strictly better than score `b`?"""
    return a < b if metric in LOWER_IS_BETTER else a > b


def normalised(proba: Any) -> np.ndarray:
    """Probabilities clipped away from 0 and summing to exactly 1 per row (float32 models
    drift by a few ulps, which sklearn's log_loss warns about)."""
    p = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1.0)
    return p / p.sum(axis=1, keepdims=True)


def score(metric: str, y: Any, prediction: Any) -> float:
    """`metric` of `prediction` (probabilities or values) against codes or values `y`.

    Raises:
        ValueError: the metric is unknown, or undefined on these rows (ROC AUC or average
            precision when a class is absent from `y`).
    """
    y = np.asarray(y)
    p = np.asarray(prediction)
    if metric in ("r2", "rmse", "mae", "mape"):
        return REGRESSION_SCORES[metric](y.astype(np.float64), p.astype(np.float64))
    y = y.astype(np.int64)
    k = p.shape[1]
    predicted = np.argmax(p, axis=1)
    if metric == "roc_auc":
        return roc_auc(y == 1, p[:, 1])
    if metric == "ap":
        return average_precision(y == 1, p[:, 1])
    if metric == "accuracy":
        return float(np.mean(predicted == y))
    if metric == "f1":
        return float(_f1(confusion(y, predicted, max(k, 2)))[1])
    if metric == "f1_macro":
        return float(np.mean(_f1(confusion(y, predicted, k))))
    if metric == "log_loss":
        return log_loss(y, p)
    if metric == "roc_auc_ovr":
        return roc_auc_ovr(y, p)
    raise ValueError(f"unknown metric {metric!r}")


# --------------------------------------------------------------------------- the definitions


def confusion(y: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """K x K counts: row = true code, column = predicted code."""
    return np.bincount(y * k + predicted, minlength=k * k).reshape(k, k)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    return np.divide(
        numerator, denominator, out=np.zeros_like(numerator), where=np.asarray(denominator) > 0
    )


def _precision_recall(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tp = np.diag(matrix)
    return _ratio(tp, matrix.sum(axis=0)), _ratio(tp, matrix.sum(axis=1))


def _f1(matrix: np.ndarray) -> np.ndarray:
    """Per-class F1, 2tp / (2tp + fp + fn)."""
    tp = np.diag(matrix)
    return _ratio(2 * tp, matrix.sum(axis=0) + matrix.sum(axis=1))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1]
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC is undefined when the rows hold only one class")
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_auc_ovr(y: np.ndarray, proba: np.ndarray) -> float:
    """Macro mean of each class's ROC AUC against the rest."""
    return float(np.mean([roc_auc(y == c, proba[:, c]) for c in range(proba.shape[1])]))


def average_precision(positive: np.ndarray, scores: np.ndarray) -> float:
    """Sum over thresholds of precision times the recall gained (scikit-learn's definition)."""
    positive = np.asarray(positive, dtype=bool)
    if not positive.any():
        raise ValueError("average precision is undefined when the rows hold no positive")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    ordered = np.asarray(scores, dtype=np.float64)[order]
    last = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]  # end of each threshold
    tps = np.cumsum(positive[order])[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log probability of the true class (probabilities `normalised` first)."""
    p = normalised(proba)
    eps = np.finfo(np.float64).eps
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], eps, 1 - eps))))


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    residual = float(np.sum((y - p) ** 2))
    total = float(np.sum((y - np.mean(y)) ** 2))
    if total == 0.0:  # a constant target: perfect or nothing, as scikit-learn scores it
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def _mape(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(y - p) / np.maximum(np.abs(y), np.finfo(np.float64).eps)))


REGRESSION_SCORES = {
    "r2": _r2,
    "rmse": lambda y, p: float(np.sqrt(np.mean((y - p) ** 2))),
    "mae": lambda y, p: float(np.mean(np.abs(y - p))),
    "mape": _mape,
}


def classification_metrics(y: Any, proba: Any, *, binary: bool) -> dict[str, float]:
    """Headline metrics from label codes `y` and probabilities over codes 0..K-1.

    ROC AUC is left out when a class is missing from `y` (it is undefined there).
    """
    y = np.asarray(y, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    k = proba.shape[1]
    predicted = np.argmax(proba, axis=1)
    matrix = confusion(y, predicted, k)
    precision, recall = _precision_recall(matrix)
    f1 = _f1(matrix)
    support = matrix.sum(axis=1)
    present = support > 0
    out = {
        "accuracy": float(np.mean(predicted == y)),
        "balanced_accuracy": float(np.mean(recall[present])),
        "f1_macro": float(np.mean(f1)),
        "f1_weighted": float(np.average(f1, weights=support)) if support.sum() else 0.0,
        "precision": float(precision[1] if binary else np.mean(precision)),
        "recall": float(recall[1] if binary else np.mean(recall)),
        "log_loss": log_loss(y, proba),
    }
    # A class missing from the rows: ROC AUC is undefined there, so it is left out.
    with contextlib.suppress(ValueError):
        out["roc_auc"] = roc_auc(y == 1, proba[:, 1]) if binary else roc_auc_ovr(y, proba)
    return out


def regression_metrics(y: Any, predicted: Any) -> dict[str, float]:
    """R², RMSE, MAE, and MAPE where no target is zero or near it (it would be ~1e14 there)."""
    y = np.asarray(y, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    out = {name: REGRESSION_SCORES[name](y, predicted) for name in ("r2", "rmse", "mae")}
    if mape_applies(y):
        out["mape"] = _mape(y, predicted)
    return out


def headline(metric: str, y: Any, prediction: Any, *, regression: bool) -> dict[str, float]:
    """The metrics a job reports on a set of rows (its test split, a validation file): the
    headline set, and the metric the search optimised when it is not among them (left out
    where it is undefined on these rows)."""
    if regression:
        out = regression_metrics(y, prediction)
    else:
        out = classification_metrics(y, prediction, binary=np.asarray(prediction).shape[1] == 2)
    if metric not in out:
        with contextlib.suppress(ValueError):
            out[metric] = score(metric, y, prediction)
    return out


# Metrics that count right answers tie often (every model gets the same number right on a
# small validation fold); the search then breaks ties by log loss, which favours the
# better-calibrated, usually better-generalising model.
TIE_BROKEN = frozenset({"accuracy", "f1", "f1_macro"})


class TieBreakMetric:
    """A FLAML custom metric: `1 - score` plus a tiny log-loss term that only breaks ties.

    The log-loss weight is below one validation row's worth of the metric, so it never
    outweighs a real difference in right answers.

    Args:
        metric: our metric name (one of TIE_BROKEN).
        n_rows: training rows (validation folds are a share of them).
    """

    def __init__(self, metric: str, n_rows: int) -> None:
        self.metric = metric
        self.weight = 0.05 / max(n_rows, 1)

    def __call__(
        self,
        X_val: Any,
        y_val: Any,
        estimator: Any,
        labels: Any,
        X_train: Any,
        y_train: Any,
        weight_val: Any = None,
        weight_train: Any = None,
        *args: Any,
    ) -> tuple[float, dict[str, float]]:
        proba = np.asarray(estimator.predict_proba(X_val), dtype=np.float64)
        y = np.asarray(y_val)
        return self.loss(y, proba, score(self.metric, y, proba))

    def loss(self, y: Any, proba: np.ndarray, value: float) -> tuple[float, dict[str, float]]:
        """FLAML's loss for a fold whose `metric` score is `value`, and what to log."""
        ll = log_loss(np.asarray(y, dtype=np.int64), proba)
        return 1.0 - value + self.weight * min(ll, 10.0), {"score": value, "log_loss": ll}


def selection_score(metric: str, y: Any, prediction: Any, n_rows: int) -> float:
    """`score`, with the same log-loss tie-break as the search for TIE_BROKEN metrics."""
    value = score(metric, y, prediction)
    if metric in TIE_BROKEN:
        value -= TieBreakMetric(metric, n_rows).weight * min(score("log_loss", y, prediction), 10.0)
    return value
