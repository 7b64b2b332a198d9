"""How the time budget is shared: the search gets what is left after everything else.

The search stops early enough to leave room for the model-dependent work after it (refits,
ONNX export) and a fixed share for evaluation, pickling and reports.
"""

from __future__ import annotations

import os

# Seconds kept free after the search for evaluation, the leakage check, pickling and reports,
# on top of the model-dependent refit and export time (post_search_seconds).
RESERVE_SECONDS = 2.0
RESERVE_BUDGET_SHARE = 0.05
# Seconds to convert a model to ONNX and check it, per second of fitting it (measured on
# telco churn with flaml.default configs: LightGBM 2.5x, XGBoost 0.7x, forests 3-4.5x).
EXPORT_FACTOR = {"lgbm": 3.0, "xgboost": 1.0, "rf": 4.5, "extra_tree": 4.5}


def post_search_seconds(fit_seconds: dict[str, float], *, flaml_refit: bool) -> float:
    """Model-dependent seconds after the search: fits and ONNX export of the chosen model(s).

    Args:
        fit_seconds: learner -> seconds to fit its configuration once on the training rows.
        flaml_refit: FLAML refits the best model itself after cross-validation (small data),
            and the refit on all rows is planned for too. On large data that refit only
            happens when time is left over.
    """
    total = 0.0
    all_rows = 1.25 if flaml_refit else 0.0
    for name, seconds in fit_seconds.items():
        # Refit on the training rows, maybe on all rows (1.25x the rows), then export.
        total += seconds * (1.0 + all_rows + EXPORT_FACTOR.get(name, 3.0))
    if flaml_refit and fit_seconds:
        total += max(fit_seconds.values())
    return total


# Below this many cells (rows x columns) one thread per model is faster: starting threads
# for a forest of small trees costs more than it saves (measured: 100 trees on 220 rows take
# 0.12 s on one thread, 0.17 s on two).
SINGLE_THREAD_CELLS = 200_000


def default_n_jobs(cells: int) -> int:
    if cells < SINGLE_THREAD_CELLS:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
