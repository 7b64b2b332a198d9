"""The model search: FLAML's AutoML over LightGBM, XGBoost, random forest and extra trees.

Each learner starts from FLAML's zero-shot, data-dependent defaults (`flaml.default`), kept
within SIZE_CAPS, and the learner flaml.default expects to win goes first, so a strong model
is on the board within seconds. A monitor thread tails FLAML's trial log (its public
`log_file_name` output) to report progress and to stop the search once it has converged or
must leave time for refitting and export.
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

from training_image.contract import LOWER_IS_BETTER
from training_image.metrics import score_from_flaml_loss, search_metric

ESTIMATORS = ("lgbm", "xgboost", "rf", "extra_tree")
ESTIMATOR_LABELS = {
    "lgbm": "LightGBM",
    "xgboost": "XGBoost",
    "rf": "Random forest",
    "extra_tree": "Extra trees",
    "ensemble": "Ensemble",
}
# Up to this many training rows, 5-fold cross-validation; above, one holdout split (a fifth
# of the rows, a tenth above 10k). Measured on telco churn (4.5k rows, 60 s): the same test
# ROC AUC with holdout in 19 s as with 5-fold CV in 44 s.
CV_MAX_ROWS = 2_000
N_SPLITS = 5
HOLDOUT_RATIO = 0.2
HOLDOUT_RATIO_LARGE = 0.1
LARGE_ROWS = 10_000
# Converged: the last quarter of the search (at least 2 s and 5 trials) brought no real gain.
# A real gain is 0.001 on scores between 0 and 1 (AUC, accuracy, F1, R²), 0.2 % otherwise;
# smaller ones are within the noise of a validation estimate.
PATIENCE_TRIALS = 5
PATIENCE_MIN_SECONDS = 2.0
PATIENCE_SHARE = 0.25
# Large data (above LARGE_ROWS): trials are few and costly, each one still often finds a gain.
PATIENCE_TRIALS_LARGE = 10
PATIENCE_SHARE_LARGE = 0.5
MIN_GAIN_BOUNDED = 1e-3
MIN_GAIN_RELATIVE = 2e-3
MONITOR_INTERVAL = 0.2
TRIAL_BUDGET_SHARE = 0.25
HISTORY_LIMIT = 500
# Configurations per learner offered to the ensemble. 3 was measured worse at 60 s on the
# small shared datasets (the greedy weights overfit the out-of-fold predictions: auto_mpg
# test R² 0.894 -> 0.859), so each learner offers its best one.
TOP_CONFIGS = 1


def estimator_class(name: str) -> Any:
    """FLAML's wrapper class for a learner name (it maps a config to sklearn parameters)."""
    from flaml.automl.model import (
        ExtraTreesEstimator,
        LGBMEstimator,
        RandomForestEstimator,
        XGBoostSklearnEstimator,
    )

    return {
        "lgbm": LGBMEstimator,
        "xgboost": XGBoostSklearnEstimator,
        "rf": RandomForestEstimator,
        "extra_tree": ExtraTreesEstimator,
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
class Candidate:
    """One configuration the ensemble may use: a learner's best, or one of its runners-up."""

    id: str  # the learner's name for its best config, "<learner>_2", "<learner>_3" after it
    estimator: str
    config: dict[str, Any]
    score: float
    fit_seconds: float


@dataclass
class SearchResult:
    task: str
    metric: str
    best_estimator: str
    best_config: dict[str, Any]
    validation_score: float
    configs: dict[str, dict[str, Any]]  # best config per learner that finished a trial
    scores: dict[str, float]  # best validation score per learner
    fit_times: dict[str, float]  # seconds to fit each learner's best config once on all rows
    trials: list[Trial]
    eval_method: str  # "cv" or "holdout"
    folds: int | None
    stopped: str  # "converged", "time", "budget", "requested"
    seconds: float
    candidates: list[Candidate] = field(default_factory=list)  # bests first, then runners-up

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
    reference: float | None = None  # score at the last real gain
    last_improvement_trial: int = 0
    last_improvement_time: float = 0.0
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


def size_capped_space(n_rows: int, estimators: Sequence[str]) -> dict[str, dict[str, Any]]:
    """FLAML `custom_hp`: the size hyperparameters with SIZE_CAPS as upper bounds."""
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
    return space


def _search_space(name: str, task: str, shape: tuple[int, ...]) -> dict[str, Any]:
    from flaml.automl.task.factory import task_factory

    return estimator_class(name).search_space(data_size=shape, task=task_factory(task))


def zero_shot_configs(
    task: str, X: np.ndarray, y: np.ndarray, estimators: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """FLAML's zero-shot, data-dependent defaults (flaml.default), within SIZE_CAPS."""
    from flaml.default import suggest_config

    n_rows = len(y)
    points: dict[str, list[dict[str, Any]]] = {}
    for name in estimators:
        try:
            suggested = suggest_config(task, X, y, name, k=1)
        except (FileNotFoundError, KeyError, ValueError):
            continue  # no portfolio for this learner and task: FLAML's static start
        # Keep only hyperparameters of this task's space: flaml.default's regression extra
        # trees carry a `criterion` the regression space lacks, which breaks FLAML's check.
        space = _search_space(name, task, X.shape)
        config = {k: v for k, v in suggested[0]["hyperparameters"].items() if k in space}
        for hp, cap in SIZE_CAPS.get(name, {}).items():
            upper = max(5, min(cap, _space_upper(name, hp, n_rows)))
            if hp in config:
                config[hp] = int(min(max(int(config[hp]), 4), upper))
            elif hp == "max_leaves":
                config[hp] = upper  # an empty forest config means unbounded trees
            elif hp == "n_estimators" and name in ("rf", "extra_tree"):
                config[hp] = min(100, upper)  # sklearn's default, made explicit
        points[name] = [config]
    return points


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


def choose_eval_method(n_rows: int) -> tuple[str, int | None]:
    return ("cv", N_SPLITS) if n_rows <= CV_MAX_ROWS else ("holdout", None)


def holdout_ratio(n_rows: int) -> float:
    return HOLDOUT_RATIO if n_rows <= LARGE_ROWS else HOLDOUT_RATIO_LARGE


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
    reserve: Callable[[SearchState], float] | None = None,
    on_trial: Callable[[SearchState], None] | None = None,
    converge: bool = True,
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
        deadline: `time.monotonic()` value the search must leave room before.
        reserve: seconds to keep free before `deadline`, given the search so far.
        on_trial: called (from a monitor thread) after each finished trial; an exception it
            raises stops the search and is raised again from here.
        converge: stop early once the search has converged.

    Returns:
        The best configuration per learner, scores, trial history and why the search stopped.
    """
    from flaml import AutoML

    logging.getLogger("flaml").setLevel(logging.ERROR)
    eval_method, folds = choose_eval_method(len(y))
    started = time.monotonic()
    if deadline is not None:
        time_budget = max(1.0, min(time_budget, deadline - started))
    automl = AutoML()
    with tempfile.TemporaryDirectory(prefix="flaml-") as tmp:
        log_path = Path(tmp) / "trials.jsonl"
        monitor = _Monitor(
            automl,
            log_path,
            metric=metric,
            eval_method=eval_method,
            n_rows=len(y),
            started=started,
            budget=time_budget,
            deadline=deadline,
            reserve=reserve,
            on_trial=on_trial,
            converge=converge,
        )
        settings: dict[str, Any] = {
            "task": task,
            "metric": search_metric(metric, len(y)),
            "time_budget": time_budget,
            # No single trial may take more than a share of the search: boosting trials stop
            # adding trees at this limit (FLAML passes it as their fit budget).
            "train_time_limit": max(1.0, TRIAL_BUDGET_SHARE * time_budget),
            "estimator_list": zero_shot_order(task, X, y, estimators),
            "starting_points": zero_shot_configs(task, X, y, estimators),
            "custom_hp": size_capped_space(len(y), estimators),
            "eval_method": eval_method,
            "seed": seed,
            "n_jobs": n_jobs,
            "early_stop": True,
            "retrain_full": False,
            "log_file_name": str(log_path),
            "log_type": "all",
            "verbose": 0,
            "keep_search_state": False,
        }
        if folds:
            settings["n_splits"] = folds
        else:
            settings["split_ratio"] = holdout_ratio(len(y))
        if sample_weight is not None:
            settings["sample_weight"] = sample_weight
        monitor.start()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                automl.fit(X, y, **settings)
        finally:
            monitor.finish()
        if monitor.error is not None:
            raise monitor.error
    state = monitor.state
    seconds = time.monotonic() - started
    if state.best is None:
        raise TimeoutError("the search finished no model within its time budget")
    # Each learner's best trial, from the trial log (its config is exactly what was scored).
    best_by_learner: dict[str, Trial] = {}
    for t in state.trials:
        if t.estimator not in best_by_learner or t.loss < best_by_learner[t.estimator].loss:
            best_by_learner[t.estimator] = t
    configs = {name: t.config for name, t in best_by_learner.items()}
    n_rows = len(y)
    fit_times = {
        name: full_fit_seconds(t, n_rows=n_rows, folds=folds) for name, t in best_by_learner.items()
    }
    best = state.best.estimator
    candidates = _candidates(state.trials, n_rows=n_rows, folds=folds)
    return SearchResult(
        task=task,
        metric=metric,
        best_estimator=best,
        best_config=configs[best],
        validation_score=state.best.score,
        configs=configs,
        scores={name: t.score for name, t in best_by_learner.items()},
        fit_times=fit_times,
        trials=state.trials,
        eval_method=eval_method,
        folds=folds,
        stopped=state.stop_reason or ("time" if monitor.moved_end else "budget"),
        seconds=seconds,
        candidates=candidates,
    )


def _candidates(trials: Sequence[Trial], *, n_rows: int, folds: int | None) -> list[Candidate]:
    """Each learner's TOP_CONFIGS best distinct configurations; every learner's best first."""
    ranked: dict[str, list[Trial]] = {}
    for t in sorted(trials, key=lambda t: t.loss):
        seen = ranked.setdefault(t.estimator, [])
        key = json.dumps(t.config, sort_keys=True, default=str)
        if len(seen) < TOP_CONFIGS and all(
            json.dumps(o.config, sort_keys=True, default=str) != key for o in seen
        ):
            seen.append(t)
    out = []
    for rank in range(TOP_CONFIGS):
        for name, best in ranked.items():
            if rank < len(best):
                t = best[rank]
                out.append(
                    Candidate(
                        id=name if rank == 0 else f"{name}_{rank + 1}",
                        estimator=name,
                        config=t.config,
                        score=t.score,
                        fit_seconds=full_fit_seconds(t, n_rows=n_rows, folds=folds),
                    )
                )
    return out


def full_fit_seconds(trial: Trial, *, n_rows: int, folds: int | None) -> float:
    """Rough seconds to fit a trial's config once on all `n_rows` training rows."""
    if folds:
        # A CV trial fits `folds` models on (folds-1)/folds of the rows.
        return trial.trial_time / folds * folds / (folds - 1)
    return trial.trial_time * n_rows / max(1, trial.sample_size)


class _Monitor(threading.Thread):
    """Tails FLAML's trial log: progress, convergence and deadline stops."""

    def __init__(
        self,
        automl: Any,
        log_path: Path,
        *,
        metric: str,
        eval_method: str,
        n_rows: int,
        started: float,
        budget: float,
        deadline: float | None,
        reserve: Callable[[SearchState], float] | None,
        on_trial: Callable[[SearchState], None] | None,
        converge: bool,
    ) -> None:
        super().__init__(name="search-monitor", daemon=True)
        self.automl = automl
        self.log_path = log_path
        self.metric = metric
        self.eval_method = eval_method
        self.n_rows = n_rows
        self.started = started
        self.budget = budget
        self.deadline = deadline
        self.reserve = reserve
        self.on_trial = on_trial
        self.converge = converge
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
        except BaseException as error:  # noqa: BLE001 - handed back to the caller's thread
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
            # Only a real gain over the last real gain resets the patience clock.
            if state.reference is None or self._real_gain(state.reference, trial.score):
                state.reference = trial.score
                state.last_improvement_trial = trial.trial
                state.last_improvement_time = time.monotonic() - self.started

    def _real_gain(self, old: float, new: float) -> bool:
        gain = old - new if self.metric in LOWER_IS_BETTER else new - old
        if self.metric in LOWER_IS_BETTER or self.metric == "mape":
            return gain > MIN_GAIN_RELATIVE * abs(old)
        return gain > MIN_GAIN_BOUNDED

    def _stop_reason(self) -> str | None:
        now = time.monotonic()
        state = self.state
        if self.deadline is not None:
            reserve = self.reserve(state) if self.reserve is not None else 0.0
            end = min(self.started + self.budget, self.deadline - reserve)
            if state.best is not None and now >= end:
                return "time"
            # Trials get FLAML's remaining budget as their own: keep it short of the reserve.
            if _set_search_end(self.automl, max(end - self.started, 1e-9)):
                self.moved_end = True
        if not self.converge or state.best is None:
            return None
        learners = getattr(self.automl, "estimator_list", None) or ()
        if len({t.estimator for t in state.trials}) < min(2, len(learners)):
            return None  # a second learner first: the ensemble needs one to blend with
        elapsed = now - self.started
        stale_trials = state.trials[-1].trial - state.last_improvement_trial
        stale_seconds = elapsed - state.last_improvement_time
        large = self.eval_method == "holdout" and self.n_rows > LARGE_ROWS
        share = PATIENCE_SHARE_LARGE if large else PATIENCE_SHARE
        patience = max(PATIENCE_MIN_SECONDS, share * elapsed)
        trials = PATIENCE_TRIALS_LARGE if large else PATIENCE_TRIALS
        if stale_trials >= trials and stale_seconds >= patience:
            return "converged"
        return None


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
