"""Metric names, their FLAML spelling, and scoring predictions the same way everywhere.

Classification predictions are probability matrices over label codes 0..K-1; regression
predictions are values. Scores are in the metric's own units (higher is better unless the
metric is in `contract.LOWER_IS_BETTER`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training_image.contract import LOWER_IS_BETTER


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
    """`metric` of `prediction` (probabilities or values) against codes or values `y`."""
    from sklearn import metrics as m

    y = np.asarray(y)
    p = np.asarray(prediction)
    if metric in ("r2", "rmse", "mae", "mape"):
        if metric == "r2":
            return float(m.r2_score(y, p))
        if metric == "rmse":
            return float(np.sqrt(m.mean_squared_error(y, p)))
        if metric == "mae":
            return float(m.mean_absolute_error(y, p))
        return float(m.mean_absolute_percentage_error(y, p))
    labels = np.arange(p.shape[1])
    predicted = np.argmax(p, axis=1)
    if metric == "roc_auc":
        return float(m.roc_auc_score(y, p[:, 1]))
    if metric == "ap":
        return float(m.average_precision_score(y, p[:, 1]))
    if metric == "accuracy":
        return float(m.accuracy_score(y, predicted))
    if metric == "f1":
        return float(m.f1_score(y, predicted, zero_division=0))
    if metric == "f1_macro":
        return float(m.f1_score(y, predicted, average="macro", labels=labels, zero_division=0))
    if metric == "log_loss":
        return float(m.log_loss(y, normalised(p), labels=labels))
    if metric == "roc_auc_ovr":
        return float(m.roc_auc_score(y, p, multi_class="ovr", labels=labels))
    raise ValueError(f"unknown metric {metric!r}")


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
        from sklearn.metrics import log_loss

        ll = float(log_loss(y, normalised(proba), labels=np.arange(proba.shape[1])))
        return 1.0 - value + self.weight * min(ll, 10.0), {"score": value, "log_loss": ll}


def selection_score(metric: str, y: Any, prediction: Any, n_rows: int) -> float:
    """`score`, with the same log-loss tie-break as the search for TIE_BROKEN metrics."""
    value = score(metric, y, prediction)
    if metric in TIE_BROKEN:
        value -= TieBreakMetric(metric, n_rows).weight * min(score("log_loss", y, prediction), 10.0)
    return value
