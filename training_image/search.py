"""The model search: FLAML's AutoML over LightGBM, XGBoost, random forest and extra trees.

The search is a fixed, seeded plan, so the same data, settings and seed give the same trials,
the same model and the same scores run after run. Each learner starts from FLAML's zero-shot,
data-dependent defaults (`flaml.default`) and a small PORTFOLIO of regularised configurations,
each with no more trees than its first trial may afford (a share of the search, by the
planning estimates of `budget.planned_fit_seconds`: from the data's shape, never from a
stopwatch). FLAML then searches locally from each learner's best point (CFO), the learners
taking turns (round robin: its default learner choice weighs measured trial times), with no
sampling and no per-trial time limit, until the search has converged (counted in trials, and
decided in FLAML's own thread between two trials) or has run its planned trials. The learner
flaml.default expects to win goes first, so a strong model is on the board within seconds.

The time budget is only a cap: a monitor thread tails FLAML's trial log (its public
`log_file_name` output) to report progress and to end the search early when it must leave
time for refitting and export; such a cut is listed in the result (`SearchResult.cut`), as
the run is then no longer reproducible. The folds are ours (`oof.plan_folds`) and FLAML's
metric is `oof.OutOfFoldMetric`, which keeps each trial's out-of-fold predictions for the
ensemble.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training_image import linear
from training_image.budget import planned_tree_seconds
from training_image.contract import LOWER_IS_BETTER
from training_image.metrics import best_possible, is_better, score_from_flaml_loss
from training_image.oof import LARGE_ROWS, Candidate, FoldPlan, OutOfFoldMetric, plan_folds

__all__ = ["Candidate", "FoldPlan", "SearchResult", "run_search"]

ESTIMATORS = ("lgbm", "xgboost", "rf", "extra_tree")
# A linear learner beside the trees: trees approximate a smooth trend in steps, and on small
# data a straight line often generalises better. Measured on the quality bench's splits (test
# score): diabetes R² 0.36 for a lasso against 0.29-0.35 for every tree model; breast cancer
# ROC AUC 0.995 for a standardized logistic regression against 0.983. Their out-of-fold
# predictions make them ensemble members only where they help.
REGRESSION_ESTIMATORS = (*ESTIMATORS, "lassolars")
CLASSIFICATION_ESTIMATORS = (*ESTIMATORS, linear.LEARNER)


def default_estimators(task: str, n_rows: int) -> tuple[str, ...]:
    """The learners searched when the caller names none, for `n_rows` rows with a target."""
    if task == "regression":
        return REGRESSION_ESTIMATORS
    # On large data the trees win and the logistic regression's many cheap trials only take
    # time from them (credit card default, 30k rows: test ROC AUC 0.7745 with it, 0.7781
    # without).
    return CLASSIFICATION_ESTIMATORS if n_rows <= LARGE_ROWS else ESTIMATORS


# Converged: every starting point was tried, then the last quarter of the trials (at least
# 5, and PATIENCE_ROUNDS turns of the learners) brought no real gain. Counted in trials, not seconds, so that it ends the search at the
# same trial run after run.
# A real gain is 0.001 on scores between 0 and 1 (AUC, accuracy, F1, R²), 0.2 % otherwise;
# smaller ones are within the noise of a validation estimate.
PATIENCE_TRIALS = 5
PATIENCE_SHARE = 0.25
# ... and at least two turns of every learner (round robin): each learner's local search
# gets two tries from its best point before the search is called converged.
PATIENCE_ROUNDS = 2
# Large data (above LARGE_ROWS): trials are few and costly, each one still often finds a gain.
PATIENCE_TRIALS_LARGE = 10
PATIENCE_SHARE_LARGE = 0.5
MIN_GAIN_BOUNDED = 1e-3
MIN_GAIN_RELATIVE = 2e-3
# The plan's length: the starting points, then up to this many local-search trials per learner
# (convergence usually ends the search long before).
LOCAL_TRIALS_PER_LEARNER = 20
MONITOR_INTERVAL = 0.2
HISTORY_LIMIT = 500
# A starting point's trial may take this share of the search (planned); bigger
# configurations are shrunk to fit (see affordable_configs).
START_TRIAL_SHARE = 0.08
N_FOLDS_FOR_LIMITS = 5  # zero-shot limits assume a fold fits 4/5 of the rows
MIN_START_TREES = {"lgbm": 20, "xgboost": 20, "rf": 32, "extra_tree": 32}
MAX_SCALED_LEARNING_RATE = 0.3
# Explicit values for what flaml.default leaves to the library (an empty configuration), so
# the local search starts from the library's defaults rather than from its low-cost corner.
LIBRARY_DEFAULTS: dict[str, dict[str, Any]] = {
    "lgbm": {
        "n_estimators": 100,
        "num_leaves": 31,
        "min_child_samples": 20,
        "learning_rate": 0.1,
        "log_max_bin": 8,
        "colsample_bytree": 1.0,
        "reg_alpha": 1 / 1024,
        "reg_lambda": 1.0,
    },
    "xgboost": {
        "n_estimators": 100,
        "max_leaves": 64,
        "min_child_weight": 1.0,
        "learning_rate": 0.3,
        "subsample": 1.0,
        "colsample_bylevel": 1.0,
        "colsample_bytree": 1.0,
        "reg_alpha": 1 / 1024,
        "reg_lambda": 1.0,
    },
}
# Starting points beside flaml.default's: shallow, slow boosting and leaf-size-limited forests,
# which its portfolio lacks and small noisy data needs. On the shared datasets' training rows
# (5-fold CV R²): insurance 0.840 for LightGBM with 4 leaves at rate 0.03 against 0.818 at its
# defaults; diabetes 0.517 for extra trees with 5-row leaves against 0.484 for a default forest;
# wine quality 0.494 for fully grown extra trees (flaml.default caps their leaves).
PORTFOLIO: dict[str, list[dict[str, Any]]] = {
    "lgbm": [
        {
            "n_estimators": 400,
            "num_leaves": 4,
            "min_child_samples": 20,
            "learning_rate": 0.03,
            "colsample_bytree": 0.8,
        },
        {
            "n_estimators": 300,
            "num_leaves": 16,
            "min_child_samples": 10,
            "learning_rate": 0.05,
            "colsample_bytree": 0.7,
        },
    ],
    "xgboost": [
        {
            "n_estimators": 400,
            "max_leaves": 4,
            "learning_rate": 0.03,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
        }
    ],
    "rf": [{"n_estimators": 128, "max_features": 0.8, "min_samples_leaf": 5}],
    "extra_tree": [
        {"n_estimators": 128, "max_features": 1.0, "min_samples_leaf": 1},  # unbounded leaves
        {"n_estimators": 128, "max_features": 0.7, "min_samples_leaf": 5},
    ],
}
# Hyperparameters we add to FLAML's spaces (see size_capped_space).
EXTRA_SPACE: dict[str, dict[str, Any]] = {
    "rf": {"min_samples_leaf": 1},
    "extra_tree": {"min_samples_leaf": 1},
}
LEARNER_OF = {
    "LGBMEstimator": "lgbm",
    "XGBoostSklearnEstimator": "xgboost",
    "RandomForestEstimator": "rf",
    "ExtraTreesEstimator": "extra_tree",
    "LassoLarsEstimator": "lassolars",
    "StandardizedLRL2Classifier": linear.LEARNER,
}


def estimator_class(name: str) -> Any:
    """FLAML's wrapper class for a learner name (it maps a config to sklearn parameters)."""
    from flaml.automl.model import (
        ExtraTreesEstimator,
        LassoLarsEstimator,
        LGBMEstimator,
        RandomForestEstimator,
        XGBoostSklearnEstimator,
    )

    return {
        "lgbm": LGBMEstimator,
        "xgboost": XGBoostSklearnEstimator,
        "rf": RandomForestEstimator,
        "extra_tree": ExtraTreesEstimator,
        "lassolars": LassoLarsEstimator,
        linear.LEARNER: linear.flaml_learner(),
    }[name]


def make_estimator(name: str, config: dict[str, Any], *, task: str, n_jobs: int) -> Any:
    """A plain, unfitted sklearn/LightGBM/XGBoost estimator for a FLAML config."""
    config = {k: v for k, v in config.items() if k != "FLAML_sample_size"}
    wrapper = estimator_class(name)(task=task, n_jobs=n_jobs, **config)
    return wrapper.estimator_class(**wrapper.params)


@dataclass
class Trial:
    time: float  # seconds since the search started
    trial: int
    estimator: str
    loss: float
    score: float
    trial_time: float
    sample_size: int
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    task: str
    metric: str
    best_estimator: str
    best_config: dict[str, Any]
    validation_score: float
    configs: dict[str, dict[str, Any]]  # best config per learner that finished a trial
    scores: dict[str, float]  # best validation score per learner
    trials: list[Trial]
    plan: FoldPlan  # how each trial was validated
    y: np.ndarray  # the search rows' label codes or values (candidates' predictions are on them)
    stopped: str  # "converged", "planned" (every planned trial ran), "time", "requested"
    seconds: float
    # Finished trials with their out-of-fold predictions: every learner's best first (best
    # first among them), then the runners-up. Empty only if no trial could be recorded.
    candidates: list[Candidate] = field(default_factory=list)
    planned_trials: int = 0  # the plan's length (the most trials it runs)
    # What the time budget cut from the plan (empty: the search ran as planned).
    cut: list[str] = field(default_factory=list)

    @property
    def eval_method(self) -> str:
        return self.plan.eval_method

    @property
    def folds(self) -> int | None:
        return self.plan.n_splits

    @property
    def n_trials(self) -> int:
        return len(self.trials)

    def leaderboard(self) -> list[dict[str, Any]]:
        rows = []
        for name in self.scores:
            mine = [t for t in self.trials if t.estimator == name]
            rows.append(
                {
                    "estimator": name,
                    "best_score": self.scores[name],
                    "trials": len(mine),
                    "time": round(sum(t.trial_time for t in mine), 3),
                }
            )
        lower = self.metric in LOWER_IS_BETTER
        return sorted(rows, key=lambda r: r["best_score"], reverse=not lower)

    def history(self) -> list[dict[str, Any]]:
        trials = self.trials
        if len(trials) > HISTORY_LIMIT:
            step = len(trials) / HISTORY_LIMIT
            trials = [trials[int(i * step)] for i in range(HISTORY_LIMIT)]
        return [
            {
                "time": round(t.time, 3),
                "trial": t.trial,
                "estimator": t.estimator,
                "score": t.score,
            }
            for t in trials
        ]


@dataclass
class SearchState:
    """What the monitor knows so far (shared with the progress callback)."""

    trials: list[Trial] = field(default_factory=list)
    best: Trial | None = None
    stop_reason: str | None = None


# Upper bounds on model size. FLAML's spaces allow forests of 2048 trees with 32k leaves
# each; such a model takes minutes to fit, refit and convert to ONNX and serves slowly,
# for no measurable gain on the data this product sees.
SIZE_CAPS: dict[str, dict[str, int]] = {
    "lgbm": {"n_estimators": 4096, "num_leaves": 1024},
    "xgboost": {"n_estimators": 4096, "max_leaves": 1024},
    "rf": {"n_estimators": 128, "max_leaves": 2048},
    "extra_tree": {"n_estimators": 128, "max_leaves": 2048},
}


def _space_upper(name: str, hp: str, n_rows: int) -> int:
    """FLAML's own upper bound for a size hyperparameter (see flaml/automl/model.py)."""
    forest = name in ("rf", "extra_tree")
    if hp == "n_estimators":
        return min(2048 if forest else 32768, n_rows)
    return min(32768, n_rows >> 1 if forest else n_rows)


def min_child_samples_upper(fit_rows: int) -> int:
    """LightGBM's leaf-size floor may reach a quarter of a fold's rows, not FLAML's 129: on
    iris (72 rows per fold) flaml.default's 53 leaves no split at all."""
    return max(4, min(129, fit_rows // 4))


def min_samples_leaf_upper(fit_rows: int) -> int:
    return max(2, min(64, fit_rows // 8))


def size_capped_space(
    n_rows: int, estimators: Sequence[str], fit_rows: int | None = None
) -> dict[str, dict[str, Any]]:
    """FLAML `custom_hp`: the size hyperparameters with SIZE_CAPS as upper bounds, and
    LightGBM's leaf-size floor within what the rows of one fold allow."""
    from flaml import tune

    space: dict[str, dict[str, Any]] = {}
    for name in estimators:
        for hp, cap in SIZE_CAPS.get(name, {}).items():
            upper = max(5, min(cap, _space_upper(name, hp, n_rows)))
            space.setdefault(name, {})[hp] = {
                "domain": tune.lograndint(lower=4, upper=upper),
                "init_value": 4,
                "low_cost_init_value": 4,
            }
    for name in ("rf", "extra_tree"):
        if name in estimators:
            # Not in FLAML's forest space; sklearn's leaf-size floor is what smooths a forest
            # on small noisy data (diabetes, 5-fold CV R²: extra trees 0.516 with 5-row leaves).
            space.setdefault(name, {})["min_samples_leaf"] = {
                "domain": tune.lograndint(
                    lower=1, upper=min_samples_leaf_upper(fit_rows or n_rows) + 1
                ),
                "init_value": 1,
            }
    if "lgbm" in estimators:
        upper = min_child_samples_upper(fit_rows or n_rows)
        space.setdefault("lgbm", {})["min_child_samples"] = {
            "domain": tune.lograndint(lower=2, upper=upper),
            "init_value": min(20, upper),
        }
    return space


def _search_space(name: str, task: str, shape: tuple[int, ...]) -> dict[str, Any]:
    from flaml.automl.task.factory import task_factory

    return estimator_class(name).search_space(data_size=shape, task=task_factory(task))


def zero_shot_configs(
    task: str, X: np.ndarray, y: np.ndarray, estimators: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Starting points per learner: FLAML's zero-shot, data-dependent defaults
    (flaml.default) first, then the PORTFOLIO's, all within SIZE_CAPS and the rows."""
    from flaml.default import suggest_config

    n_rows = len(y)
    fit_rows = int(n_rows * (1 - 1 / N_FOLDS_FOR_LIMITS))
    points: dict[str, list[dict[str, Any]]] = {}
    for name in estimators:
        # Only hyperparameters of this task's space (plus ours): flaml.default's regression
        # extra trees carry a `criterion` the regression space lacks, which breaks FLAML.
        space = set(_search_space(name, task, X.shape)) | set(EXTRA_SPACE.get(name, {}))
        try:
            suggested = [suggest_config(task, X, y, name, k=1)[0]["hyperparameters"]]
        except (FileNotFoundError, KeyError, ValueError):
            suggested = []  # no portfolio for this learner and task
        configs = []
        for hyper in [*suggested, *PORTFOLIO.get(name, [])]:
            config = {**LIBRARY_DEFAULTS.get(name, {}), **hyper}
            config = {k: v for k, v in config.items() if k in space}
            config = _within_limits(name, config, n_rows=n_rows, fit_rows=fit_rows)
            if config not in configs:
                configs.append(config)
        if configs:
            points[name] = configs
    return points


def _within_limits(
    name: str, config: dict[str, Any], *, n_rows: int, fit_rows: int
) -> dict[str, Any]:
    config = dict(config)
    for hp, cap in SIZE_CAPS.get(name, {}).items():
        upper = max(5, min(cap, _space_upper(name, hp, n_rows)))
        if hp in config:
            wanted = int(max(int(config[hp]), 4))
            config[hp] = int(min(wanted, upper))
            if hp == "n_estimators" and wanted > upper:
                _keep_learning_budget(config, wanted)
        elif hp == "max_leaves":
            config[hp] = upper  # an empty forest config means unbounded trees
        elif hp == "n_estimators" and name in ("rf", "extra_tree"):
            config[hp] = min(100, upper)  # sklearn's default, made explicit
    if "min_child_samples" in config:
        limit = min_child_samples_upper(fit_rows)
        config["min_child_samples"] = int(min(int(config["min_child_samples"]), limit))
    if name in ("rf", "extra_tree"):
        limit = min_samples_leaf_upper(fit_rows)
        config["min_samples_leaf"] = int(min(int(config.get("min_samples_leaf", 1)), limit))
    return config


def _keep_learning_budget(config: dict[str, Any], trees_before: int) -> None:
    """Fewer boosting rounds: raise the learning rate so rounds x rate stays about the same
    (4096 rounds at rate 0.003 cut to 800 would stop far short of a good fit)."""
    rate = config.get("learning_rate")
    if rate is None:
        return  # a forest: fewer trees only add variance
    scaled = float(rate) * trees_before / max(1, int(config["n_estimators"]))
    config["learning_rate"] = float(min(MAX_SCALED_LEARNING_RATE, max(float(rate), scaled)))


def affordable_configs(
    configs: dict[str, list[dict[str, Any]]],
    *,
    n_features: int,
    plan: FoldPlan,
    seconds: float,
) -> dict[str, list[dict[str, Any]]]:
    """Shrink each starting configuration whose first trial would take more than `seconds`.

    A trial fits `plan.fits_per_trial` models on one fold's rows; what a tree costs there is
    planned from the data's shape (`budget.planned_tree_seconds`), so the same data and
    budget always give the same starting points.
    """
    fit_rows = len(plan.folds[0][0])
    per_fit = seconds / plan.fits_per_trial
    out: dict[str, list[dict[str, Any]]] = {}
    for name, points in configs.items():
        shrunk = []
        for config in points:
            trees = int(config.get("n_estimators") or 0)
            if trees <= MIN_START_TREES.get(name, 8):
                shrunk.append(config)
                continue
            per_tree = planned_tree_seconds(name, config, fit_rows, n_features)
            affordable = int(per_fit / per_tree)
            if affordable >= trees:
                shrunk.append(config)
                continue
            config = {**config, "n_estimators": max(MIN_START_TREES.get(name, 8), affordable)}
            _keep_learning_budget(config, trees)
            shrunk.append(config)
        out[name] = shrunk
    return out


def zero_shot_order(
    task: str, X: np.ndarray, y: np.ndarray, estimators: Sequence[str]
) -> list[str]:
    """The learners, the one flaml.default expects to win first."""
    from flaml.default import suggest_learner

    order = list(estimators)
    try:
        first = suggest_learner(task, X, y, estimator_list=order)
    except (FileNotFoundError, KeyError, ValueError):
        return order
    if first in order:
        order.remove(first)
        order.insert(0, first)
    return order


@dataclass
class _SearchRun:
    """What flows between the stages of `run_search`; each stage fills in its part."""

    X: np.ndarray
    y: np.ndarray
    task: str
    metric: str
    seed: int
    n_jobs: int
    estimators: Sequence[str]
    sample_weight: np.ndarray | None
    deadline: float | None
    converge: bool
    clock: Callable[[], float]
    started: float
    time_budget: float
    planned_seconds: float  # the search's planned share of the budget (sizes the starts)
    # The values `y` stands for, when the search learns a transform of them (log(1 + y)):
    # every score and recorded prediction is in these units.
    y_units: np.ndarray | None = None
    inverse: Callable[[np.ndarray], np.ndarray] | None = None
    time_budget: float  # seconds from `fit_started`, once the search is planned
    plan: FoldPlan = field(init=False)
    fit_started: float = field(init=False)  # when FLAML's search started
    recorder: OutOfFoldMetric = field(init=False)
    starts: dict[str, list[dict[str, Any]]] = field(init=False)  # learner -> starting points
    order: list[str] = field(init=False)  # the learners, in turn
    planned_trials: int = field(init=False)
    monitor: _Monitor = field(init=False)
    convergence: _Convergence = field(init=False)
    cap: _Cap = field(init=False)
    reserve: Callable[[], float] | None = None  # seconds to keep free before the deadline

    @property
    def classification(self) -> bool:
        return self.task != "regression"

    def end(self) -> float:
        """When the search must end (`clock()`): its budget, or earlier to keep the reserve
        free before the deadline (re-estimated from what the trials measured so far)."""
        end = self.fit_started + self.time_budget
        if self.deadline is None:
            return end
        return min(end, self.deadline - (self.reserve() if self.reserve is not None else 0.0))


def run_search(
    X: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    metric: str,
    time_budget: float,
    seed: int,
    n_jobs: int,
    estimators: Sequence[str] = ESTIMATORS,
    sample_weight: np.ndarray | None = None,
    deadline: float | None = None,
    reserve: Callable[[list[Candidate], FoldPlan], float] | None = None,
    on_trial: Callable[[SearchState], None] | None = None,
    converge: bool = True,
    target_transform: str | None = None,
    planned_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SearchResult:
    """Search models and hyperparameters on encoded features `X` and label codes / values `y`.

    Args:
        X: float32 feature matrix (training rows only).
        y: label codes 0..K-1 (classification) or values (regression).
        task: "binary", "multiclass" or "regression".
        metric: one of contract.METRICS[task].
        time_budget: the most seconds the search may take.
        seed: random seed for FLAML and the splits.
        n_jobs: threads per model.
        estimators: FLAML learner names to try.
        sample_weight: per-row weights (class balancing), or None.
        deadline: `clock()` value the search must leave room before.
        reserve: seconds to keep free before `deadline`, given the candidates so far (best
            first) and the folds their predictions are on.
        on_trial: called (from a monitor thread) after each finished trial; an exception it
            raises stops the search and is raised again from here.
        converge: stop early once the search has converged.
        target_transform: "log1p" to learn log(1 + y) (`target_transform.choose`); the
            folds are still scored, and the predictions kept, in y's own units.
        planned_seconds: the search's share of the job's budget as planned from the
            settings (default `time_budget`). The starting points are sized from it, never
            from the time left when the search starts, which varies run to run with what
            came before (imports, profiling, reports): sized from that, a starting point's
            tree count differed by a few trees between two runs, and the scores with it.
        clock: the run's clock (`time.monotonic`; a test may pass a slower one). FLAML keeps
            its own as well: its time budget is a cap behind this one.

    Returns:
        The best configuration per learner, the candidates with their out-of-fold
        predictions, scores, trial history and why the search stopped.
    """
    from flaml import AutoML  # imported before the clock starts: it takes a while the first time

    logging.getLogger("flaml").setLevel(logging.ERROR)
    started = clock()
    if deadline is not None:
        time_budget = max(1.0, min(time_budget, deadline - started))
    logged = target_transform == "log1p"
    run = _SearchRun(
        X=X,
        y=np.log1p(y) if logged else y,
        y_units=y if logged else None,
        inverse=np.expm1 if logged else None,
        task=task,
        metric=metric,
        seed=seed,
        n_jobs=n_jobs,
        estimators=estimators,
        sample_weight=sample_weight,
        deadline=deadline,
        converge=converge,
        clock=clock,
        started=started,
        time_budget=time_budget,
        planned_seconds=time_budget if planned_seconds is None else planned_seconds,
    )
    _plan_search(run)
    _fit_flaml(run, AutoML(), reserve=reserve, on_trial=on_trial)
    return _search_result(run)


def _plan_search(run: _SearchRun) -> None:
    """The folds, the metric that records each trial, and the affordable starting points."""
    run.plan = plan_folds(run.y, classification=run.classification, seed=run.seed)
    run.recorder = OutOfFoldMetric(
        run.metric,
        run.plan,
        run.y,
        n_classes=int(run.y.max()) + 1 if run.classification else 0,
        learner_of=LEARNER_OF,
        X=run.X,
        inverse=run.inverse,
        clock=run.clock,
    )
    run.starts = affordable_configs(
        zero_shot_configs(run.task, run.X, run.y, run.estimators),
        n_features=run.X.shape[1],
        plan=run.plan,
        seconds=START_TRIAL_SHARE * run.planned_seconds,
    )
    run.order = zero_shot_order(run.task, run.X, run.y, run.estimators)
    starting_points = sum(len(points) for points in run.starts.values())
    run.planned_trials = starting_points + LOCAL_TRIALS_PER_LEARNER * len(run.order)
    # Planning (flaml.default's suggestions) came out of the search's time.
    run.fit_started = run.clock()
    run.time_budget = max(1.0, run.time_budget - (run.fit_started - run.started))


def _flaml_settings(run: _SearchRun, log_path: Path) -> tuple[dict[str, Any], Any, Any]:
    """FLAML's `fit` settings, with the rows it fits on (all of them, or a holdout's fit rows)."""
    X, y, plan, time_budget = run.X, run.y, run.plan, run.time_budget
    settings: dict[str, Any] = {
        "task": run.task,
        "metric": run.recorder,
        # The cap; FLAML hands a trial the time left as its fit budget, so no trial is cut
        # short unless the search is (no `train_time_limit`: it would cut by the stopwatch).
        "time_budget": time_budget,
        "max_iter": run.planned_trials,
        "estimator_list": run.order,
        "starting_points": run.starts,
        # Deterministic choices: FLAML's default learner choice and its sampling of large
        # data are driven by measured trial times; CFO's local search is not.
        "learner_selector": "roundrobin",
        "hpo_method": "cfo",
        "sample": False,
        "custom_hp": size_capped_space(len(y), run.estimators, len(plan.folds[0][0])),
        "eval_method": plan.eval_method,
        "seed": run.seed,
        "n_jobs": run.n_jobs,
        "early_stop": False,  # FLAML's own rule compares elapsed times; _Convergence counts
        "retrain_full": False,
        "log_file_name": str(log_path),
        "log_type": "all",
        "verbose": 0,
        "keep_search_state": False,
    }
    X_fit, y_fit, weights = X, y, run.sample_weight
    if plan.eval_method == "cv":
        settings["split_type"] = plan.splitter
    else:
        fit_rows, valid_rows = plan.folds[0]
        X_fit, y_fit = X[fit_rows], y[fit_rows]
        settings["X_val"], settings["y_val"] = X[valid_rows], y[valid_rows]
        if run.sample_weight is not None:
            weights = run.sample_weight[fit_rows]
            settings["sample_weight_val"] = run.sample_weight[valid_rows]
    if weights is not None:
        settings["sample_weight"] = weights
    return settings, X_fit, y_fit


def _fit_flaml(
    run: _SearchRun,
    automl: Any,
    *,
    reserve: Callable[[list[Candidate], FoldPlan], float] | None,
    on_trial: Callable[[SearchState], None] | None,
) -> None:
    """Run FLAML's search (`automl`, a fresh `flaml.AutoML`) with the monitor beside it;
    re-raise what the monitor caught."""
    if linear.LEARNER in run.estimators:
        automl.add_learner(linear.LEARNER, linear.flaml_learner())
    if reserve is not None:
        run.reserve = _cached_reserve(reserve, run.recorder, run.plan)
    with tempfile.TemporaryDirectory(prefix="flaml-") as tmp:
        log_path = Path(tmp) / "trials.jsonl"
        run.monitor = monitor = _Monitor(automl, log_path, run, on_trial=on_trial)
        large = run.plan.eval_method == "holdout" and len(run.y) > LARGE_ROWS
        patience = max(
            PATIENCE_TRIALS_LARGE if large else PATIENCE_TRIALS, PATIENCE_ROUNDS * len(run.order)
        )
        run.convergence = _Convergence(
            automl,
            run.metric,
            min_trials=sum(len(points) for points in run.starts.values()) + patience,
            patience_trials=patience,
            patience_share=PATIENCE_SHARE_LARGE if large else PATIENCE_SHARE,
            enabled=run.converge,
        )
        run.cap = _Cap(automl, run, window=len(run.order))

        def on_finished(candidate: Candidate) -> None:
            run.convergence(candidate)
            run.cap(candidate)

        run.recorder.on_finished = on_finished
        settings, X_fit, y_fit = _flaml_settings(run, log_path)
        monitor.start()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                automl.fit(X_fit, y_fit, **settings)
        finally:
            monitor.finish()
        if monitor.error is not None:
            raise monitor.error


def _search_result(run: _SearchRun) -> SearchResult:
    """The candidates the recorder kept, each learner's best trial and why the search ended."""
    state, plan = run.monitor.state, run.plan
    seconds = run.clock() - run.started
    if state.best is None:
        raise TimeoutError("the search finished no model within its time budget")
    # Each learner's best trial, from the trial log (its config is exactly what was scored).
    best_by_learner: dict[str, Trial] = {}
    for t in state.trials:
        if t.estimator not in best_by_learner or t.loss < best_by_learner[t.estimator].loss:
            best_by_learner[t.estimator] = t
    candidates = run.recorder.candidates()
    if not candidates:
        # Nothing recorded (FLAML changed how it calls the metric): its best config alone.
        t = state.best
        model = make_estimator(t.estimator, t.config, task=run.task, n_jobs=run.n_jobs)
        per_fit = t.trial_time / plan.fits_per_trial / plan.fit_share
        candidates = [Candidate(t.estimator, t.estimator, t.config, t.score, per_fit, model)]
    best = candidates[0]
    stopped = state.stop_reason or run.convergence.reason or run.cap.reason
    if stopped is None:
        # FLAML ended by itself: every planned trial ran, or its time budget (the cap) ran out.
        ran_out = run.monitor.moved_end or seconds >= run.time_budget
        stopped = "time" if ran_out and len(state.trials) < run.planned_trials else "planned"
    cut = []
    if stopped == "time":
        cut.append(
            f"search: the time budget ended it after {len(state.trials)} of up to "
            f"{run.planned_trials} planned trials, before it converged"
        )
    return SearchResult(
        task=run.task,
        metric=run.metric,
        best_estimator=best.estimator,
        best_config=best.config,
        validation_score=best.score,
        configs={name: t.config for name, t in best_by_learner.items()},
        scores={name: t.score for name, t in best_by_learner.items()},
        trials=state.trials,
        plan=plan,
        y=run.y if run.y_units is None else run.y_units,
        stopped=stopped,
        seconds=seconds,
        candidates=candidates,
        planned_trials=run.planned_trials,
        cut=cut,
    )


def _cached_reserve(
    reserve: Callable[[list[Candidate], FoldPlan], float], recorder: OutOfFoldMetric, plan: FoldPlan
) -> Callable[[], float]:
    """`reserve` for the monitor's polls, computed again only when a trial has finished."""
    cache: dict[str, float] = {}

    def current() -> float:
        if cache.get("version") != recorder.finished:
            cache["value"] = reserve(recorder.snapshot(), plan)
            cache["version"] = recorder.finished
        return cache["value"]

    return current


class _Monitor(threading.Thread):
    """Tails FLAML's trial log: progress, and the stop when a trial runs past the search's
    end (the cap: a cut; `_Cap` stops between trials, `_Convergence` decides convergence)."""

    def __init__(
        self,
        automl: Any,
        log_path: Path,
        run: _SearchRun,
        *,
        on_trial: Callable[[SearchState], None] | None,
    ) -> None:
        super().__init__(name="search-monitor", daemon=True)
        self.automl = automl
        self.log_path = log_path
        self.run_ = run
        self.metric = run.metric
        self.on_trial = on_trial
        self.state = SearchState()
        self.error: BaseException | None = None
        self.moved_end = False  # the search end was brought forward to keep the reserve
        self._done = threading.Event()
        self._offset = 0
        self._buffer = ""

    def run(self) -> None:
        while not self._done.wait(MONITOR_INTERVAL):
            self._poll()

    def finish(self) -> None:
        self._done.set()
        self.join(timeout=5)
        self._read_new_trials()  # the last trials, after FLAML returned

    def _poll(self) -> None:
        try:
            if self._read_new_trials() and self.on_trial is not None:
                self.on_trial(self.state)
            reason = self._stop_reason()
        except BaseException as error:  # handed back to the caller's thread
            self.error = error
            reason = "requested"
        if reason and self.state.stop_reason is None:
            self.state.stop_reason = reason
            _request_stop(self.automl)

    def _read_new_trials(self) -> bool:
        try:
            with open(self.log_path, encoding="utf-8") as f:
                f.seek(self._offset)
                chunk = f.read()
                self._offset = f.tell()
        except FileNotFoundError:
            return False
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split("\n")
        added = False
        for line in lines:
            record = json.loads(line) if line.strip() else {}
            if "learner" not in record or record.get("validation_loss") is None:
                continue  # checkpoint lines
            loss = float(record["validation_loss"])
            if not math.isfinite(loss):
                continue
            logged = record.get("logged_metric") or {}
            value = logged.get("score") if isinstance(logged, dict) else None
            trial = Trial(
                time=float(record.get("wall_clock_time") or 0.0),
                trial=len(self.state.trials) + 1,
                estimator=str(record["learner"]),
                loss=loss,
                score=float(value)
                if value is not None
                else score_from_flaml_loss(self.metric, loss),
                trial_time=float(record.get("trial_time") or 0.0),
                sample_size=int(record.get("sample_size") or 0),
                config=dict(record.get("config") or {}),
            )
            self._add(trial)
            added = True
        return added

    def _add(self, trial: Trial) -> None:
        state = self.state
        state.trials.append(trial)
        if state.best is None or trial.loss < state.best.loss:
            state.best = trial

    def _stop_reason(self) -> str | None:
        run = self.run_
        end = run.end()
        if self.state.best is not None and run.clock() >= end:
            return "time"
        # Trials get FLAML's remaining budget as their own: keep it short of the reserve.
        if _set_search_end(self.automl, max(end - run.fit_started, 1e-9)):
            self.moved_end = True
        return None


class _Cap:
    """Ends the search between two trials when the next one would not finish before the
    search's end: its expected length is what the last `window` trials took (a turn of the
    learners), measured on the run's clock. The first trials always run.

    Like `_Convergence` it is called in FLAML's thread with each finished trial.
    """

    def __init__(self, automl: Any, run: _SearchRun, *, window: int) -> None:
        self.automl = automl
        self.run = run
        self.window = max(1, window)
        self.last = run.fit_started
        self.durations: list[float] = []
        self.reason: str | None = None  # "time" once it has stopped the search

    def __call__(self, candidate: Candidate) -> None:
        now = self.run.clock()
        self.durations.append(now - self.last)
        self.last = now
        if self.reason is not None or len(self.durations) < self.window:
            return
        recent = self.durations[-self.window :]
        if now + sum(recent) / len(recent) > self.run.end():
            self.reason = "time"
            _request_stop(self.automl)


class _Convergence:
    """Ends the search once it has converged: every starting point was tried, then the last
    PATIENCE_SHARE of the trials (at least `patience_trials`) brought no real gain, or a
    model is perfect.

    It is the recorder's `on_finished`, so it sees each finished trial in FLAML's thread and
    asks FLAML to stop before the next one starts: the same trials end the search every run.
    """

    def __init__(
        self,
        automl: Any,
        metric: str,
        *,
        min_trials: int,
        patience_trials: int,
        patience_share: float,
        enabled: bool,
    ) -> None:
        self.automl = automl
        self.metric = metric
        self.min_trials = min_trials
        self.patience_trials = patience_trials
        self.patience_share = patience_share
        self.enabled = enabled
        self.trials = 0
        self.best: float | None = None
        self.reference: float | None = None  # the best score at the last real gain
        self.last_gain = 0  # the trial that made it
        self.reason: str | None = None  # "converged" once it has

    def __call__(self, candidate: Candidate) -> None:
        self.trials += 1
        score = candidate.score
        if self.best is None or is_better(self.metric, score, self.best):
            self.best = score
            # Only a real gain over the last real gain resets the patience.
            if self.reference is None or real_gain(self.metric, self.reference, score):
                self.reference, self.last_gain = score, self.trials
        if not self.enabled or self.reason is not None:
            return
        stale = self.trials - self.last_gain
        patience = max(self.patience_trials, self.patience_share * self.trials)
        # A perfect model leaves nothing to gain (mushrooms: ROC AUC 1.0 in every fold).
        perfect = score == best_possible(self.metric)
        if perfect or (self.trials >= self.min_trials and stale >= patience):
            self.reason = "converged"
            _request_stop(self.automl)


def real_gain(metric: str, old: float, new: float) -> bool:
    """Whether score `new` improves on `old` by more than a validation estimate's noise."""
    gain = old - new if metric in LOWER_IS_BETTER else new - old
    if metric in LOWER_IS_BETTER or metric == "mape":
        return gain > MIN_GAIN_RELATIVE * abs(old)
    return gain > MIN_GAIN_BOUNDED


def _set_search_end(automl: Any, seconds: float) -> bool:
    """Move the end of FLAML's search to `seconds` after it started.

    FLAML has no public hook for this; its search loop re-reads `_state.time_budget` before
    and after every trial (to stop, and to give the next trial its budget). Changing that
    one number is the least invasive way in. If FLAML's internals change, the search simply
    runs to the time budget it was given.
    """
    state = getattr(automl, "_state", None)
    current = getattr(state, "time_budget", None)
    # Only while searching (FLAML sets -1 for its final refit) and only ever earlier.
    if isinstance(current, (int, float)) and 0 < seconds < current:
        state.time_budget = seconds
        return True
    return False


def _request_stop(automl: Any) -> None:
    """Make FLAML end its search after the running trial."""
    _set_search_end(automl, 1e-9)
