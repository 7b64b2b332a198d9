"""A right-skewed positive regression target learnt on the log scale, when validation says so.

Prices, counts and charges spread over orders of magnitude: trees fitted to the raw values
spend their splits on the few largest rows. Fitted to log(1 + y) they model relative
differences; `expm1` brings predictions back. Whether that wins is measured, not assumed:
`choose` fits the same quick LightGBM both ways on the same folds and keeps the log only when
its R² *in the target's own units* is higher by MIN_GAIN. The saved model is scikit-learn's
own `TransformedTargetRegressor` (so `model.pkl` needs no code of ours for it); ONNX gets the
inner model's graph followed by `Exp` and `- 1` (`export.register_converters`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_SKEW = 0.75  # below this a target is near symmetric: the log cannot help much
MIN_GAIN = 0.002  # R² the log must add on the quick check to be used
CHECK_ROWS = 20_000  # rows the quick check fits on (a sample of larger tables)
CHECK_FOLDS = 3
CHECK_TREES = 150
LOG1P = "log1p"


@dataclass(frozen=True)
class TargetChoice:
    """Whether the search learns log(1 + y), and the quick check's numbers (for the card)."""

    transform: str | None  # "log1p" or None
    reason: str
    r2_raw: float | None = None
    r2_log: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "transform": self.transform,
            "reason": self.reason,
            "r2_raw": self.r2_raw,
            "r2_log": self.r2_log,
        }


def skewness(y: np.ndarray) -> float:
    y = np.asarray(y, dtype=np.float64)
    spread = y.std()
    return 0.0 if spread == 0 else float(np.mean(((y - y.mean()) / spread) ** 3))


def choose(X: Any, y: np.ndarray, *, seed: int, n_jobs: int = 1) -> TargetChoice:
    """Learn log(1 + y) or y? A quick LightGBM both ways, scored in y's units.

    Args:
        X: the encoded training features.
        y: the training target.
        seed: the run's seed (the folds and the sample).
        n_jobs: LightGBM threads.
    """
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 50 or not np.all(np.isfinite(y)) or y.min() < 0:
        return TargetChoice(None, "the target has negative values or too few rows")
    skew = skewness(y)
    if skew < MIN_SKEW:
        return TargetChoice(None, f"the target is not right-skewed (skewness {skew:.2f})")
    from lightgbm import LGBMRegressor
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(seed)
    rows = np.arange(len(y))
    if len(rows) > CHECK_ROWS:
        rows = np.sort(rng.choice(rows, CHECK_ROWS, replace=False))
    X_check = X[rows] if not hasattr(X, "iloc") else X.iloc[rows]
    y_check = y[rows]
    raw = np.empty(len(rows))
    logged = np.empty(len(rows))
    for fit_rows, held in KFold(CHECK_FOLDS, shuffle=True, random_state=seed).split(rows):
        params = {"n_estimators": CHECK_TREES, "random_state": seed, "n_jobs": n_jobs}
        model = LGBMRegressor(**params, verbose=-1)
        raw[held] = model.fit(X_check[fit_rows], y_check[fit_rows]).predict(X_check[held])
        model = LGBMRegressor(**params, verbose=-1)
        model.fit(X_check[fit_rows], np.log1p(y_check[fit_rows]))
        logged[held] = np.expm1(model.predict(X_check[held]))
    total = float(np.sum((y_check - y_check.mean()) ** 2)) or 1.0
    r2_raw = 1.0 - float(np.sum((y_check - raw) ** 2)) / total
    r2_log = 1.0 - float(np.sum((y_check - logged) ** 2)) / total
    if r2_log >= r2_raw + MIN_GAIN:
        reason = (
            f"the target is right-skewed (skewness {skew:.2f}) and a quick check scored "
            f"R² {r2_log:.4f} learning log(1 + y) against {r2_raw:.4f} on y"
        )
        return TargetChoice(LOG1P, reason, round(r2_raw, 6), round(r2_log, 6))
    reason = (
        f"learning log(1 + y) did not help on a quick check (R² {r2_log:.4f} against "
        f"{r2_raw:.4f} on y)"
    )
    return TargetChoice(None, reason, round(r2_raw, 6), round(r2_log, 6))


def wrap(regressor: Any, transform: str | None) -> Any:
    """The regressor, fitted on log(1 + y) and predicting y, when `transform` says so."""
    if transform is None:
        return regressor
    from sklearn.compose import TransformedTargetRegressor

    return TransformedTargetRegressor(
        regressor=regressor, func=np.log1p, inverse_func=np.expm1, check_inverse=False
    )


def is_log_target(model: Any) -> bool:
    return type(model).__name__ == "TransformedTargetRegressor"
