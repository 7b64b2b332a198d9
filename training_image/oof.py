"""Out-of-fold predictions of every search trial, recorded by the metric FLAML calls.

FLAML scores a trial by calling its metric once per validation fold with the model it just
fitted. `OutOfFoldMetric` is that metric: it scores the fold the way the product scores
(`metrics.score`, with the log-loss tie-break for count-based metrics) and keeps the
predictions. Every finished trial thus leaves its out-of-fold predictions on the search rows
and the exact, unfitted estimator that made them, so the ensemble is chosen without fitting
anything again, and the shipped model is refitted with the very parameters that were scored
(a boosting trial cut short by its time limit keeps the trees it actually grew).

The folds are ours (`plan_folds`), handed to FLAML as a splitter object (cross-validation) or
as an explicit validation set (holdout), so each call can be matched to its rows by a
fingerprint of the validation matrix.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training_image.budget import NODES_GROW_WITH_ROWS
from training_image.contract import LOWER_IS_BETTER
from training_image.metrics import TIE_BROKEN, TieBreakMetric, score

# Up to CV_MAX_ROWS training rows, cross-validation: 5 folds, 3 above FEW_FOLDS_ROWS (every
# row is still validated once, at 2 fits per trial instead of 4; measured on fair_affairs,
# 3.8k rows, accuracy 0.474 with CV against 0.450 with a holdout). Repeating the folds on
# small data was measured slower for no better test scores. Above CV_MAX_ROWS: one stratified
# holdout split (a fifth of the rows, a tenth above LARGE_ROWS).
N_SPLITS = 5
FEW_FOLDS = 3
FEW_FOLDS_ROWS = 2_000
CV_MAX_ROWS = 5_000
HOLDOUT_RATIO = 0.2
HOLDOUT_RATIO_LARGE = 0.1
LARGE_ROWS = 10_000
KEEP_PER_LEARNER = 4  # best trials per learner whose predictions are kept for the ensemble


@dataclass
class FoldPlan:
    """How the search rows are split to validate each trial."""

    eval_method: str  # "cv" or "holdout"
    folds: list[tuple[np.ndarray, np.ndarray]]  # (fit rows, validation rows), FLAML's order
    n_rows: int
    n_splits: int | None = None  # folds (cv)
    splitter: Any = None  # the sklearn splitter FLAML gets as `split_type` (cv)

    @property
    def evaluated(self) -> np.ndarray:
        """Rows that get at least one out-of-fold prediction."""
        return np.unique(np.concatenate([valid for _, valid in self.folds]))

    @property
    def fits_per_trial(self) -> int:
        return len(self.folds)

    @property
    def fit_share(self) -> float:
        """Share of the rows one trial's model is fitted on."""
        return len(self.folds[0][0]) / self.n_rows

    def describe(self) -> str:
        if self.eval_method == "holdout":
            return f"holdout ({len(self.folds[0][1]):,} rows)"
        return f"{self.n_splits}-fold cross-validation"


def holdout_ratio(n_rows: int) -> float:
    return HOLDOUT_RATIO if n_rows <= LARGE_ROWS else HOLDOUT_RATIO_LARGE


def plan_folds(y: np.ndarray, *, classification: bool, seed: int) -> FoldPlan:
    """Cross-validation folds on small data, one holdout split on larger data."""
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, train_test_split

    n_rows = len(y)
    rows = np.arange(n_rows)
    if n_rows <= CV_MAX_ROWS:
        n_splits = N_SPLITS if n_rows <= FEW_FOLDS_ROWS else FEW_FOLDS
        stratify = classification and np.bincount(y).min() >= n_splits
        # The Repeated* splitters with one repeat: FLAML's own choice, which it splits by y.
        kind = RepeatedStratifiedKFold if stratify else RepeatedKFold
        splitter = kind(n_splits=n_splits, n_repeats=1, random_state=seed)
        folds = [(fit, valid) for fit, valid in splitter.split(rows, y)]
        return FoldPlan("cv", folds, n_rows, n_splits, splitter)
    holdout_stratify = y if classification and np.bincount(y).min() >= 2 else None
    fit, valid = train_test_split(
        rows, test_size=holdout_ratio(n_rows), random_state=seed, stratify=holdout_stratify
    )
    return FoldPlan("holdout", [(np.sort(fit), np.sort(valid))], n_rows)


def fingerprint(X: Any) -> str:
    """A digest of a feature matrix's values (FLAML hands the metric row subsets of ours)."""
    values = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    data = np.ascontiguousarray(values, dtype=np.float32)
    digest = hashlib.blake2b(data.tobytes(), digest_size=16)
    digest.update(str(data.shape).encode())
    return digest.hexdigest()


@dataclass
class Candidate:
    """One finished trial the ensemble may use."""

    id: str  # "<learner>" for the learner's best, "<learner>_2", ... for its runners-up
    estimator: str  # learner name (lgbm, xgboost, rf, extra_tree)
    config: dict[str, Any]  # FLAML's hyperparameters, as shown to users
    score: float  # out-of-fold score on the evaluated rows (metric units)
    fit_seconds: float  # seconds to fit it once on all search rows (estimated)
    model: Any = None  # unfitted estimator with the scored parameters
    nodes: int = 0  # tree nodes it would have fitted on all search rows (estimated)
    fit_rows: int = 0  # rows each of its fold models was fitted on
    # Out-of-fold predictions on the plan's evaluated rows (in `FoldPlan.evaluated` order).
    predictions: np.ndarray | None = field(default=None, repr=False)
    trial: int = 0  # order in which the recorder finished it


@dataclass
class _Pending:
    key: str
    estimator: str
    config: dict[str, Any]
    model: Any
    nodes: int
    total: np.ndarray
    counts: np.ndarray
    folds: set[int] = field(default_factory=set)
    seconds: float = 0.0
    rounds: list[int] = field(default_factory=list)  # boosting rounds grown per fold


class OutOfFoldMetric:
    """A FLAML custom metric that scores folds like the product and records the predictions.

    Args:
        metric: our metric name (contract.METRICS).
        plan: the folds FLAML was given.
        y: label codes (classification) or values of the search rows.
        n_classes: number of classes (0 for regression).
        learner_of: FLAML estimator class name -> learner name.
        X: the search rows' features (to recognise the validation rows of each call).
        inverse: when the search learns a transform of the target (log(1 + y)), the function
            back to the target's units: folds are scored and predictions kept in those.
        clock: the run's clock (`time.monotonic`; a test may pass a slower one): it times
            each fold's fit.
    """

    def __init__(
        self,
        metric: str,
        plan: FoldPlan,
        y: np.ndarray,
        *,
        n_classes: int,
        learner_of: dict[str, str],
        X: np.ndarray,
        inverse: Callable[[np.ndarray], np.ndarray] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metric = metric
        self.clock = clock
        self.plan = plan
        self.inverse = inverse
        self.y = y if inverse is None else inverse(y)
        self.n_classes = n_classes
        self.learner_of = learner_of
        self.tie_break = TieBreakMetric(metric, len(y)) if metric in TIE_BROKEN else None
        self.fold_of = {fingerprint(X[valid]): i for i, (_, valid) in enumerate(plan.folds)}
        self.fit_rows = [len(fit) for fit, _ in plan.folds]
        self.evaluated = plan.evaluated
        # Row -> its place among the evaluated rows: only those are kept (a holdout on large
        # data validates a tenth of them).
        self.position = np.full(plan.n_rows, -1)
        self.position[self.evaluated] = np.arange(len(self.evaluated))
        self.kept: dict[str, list[Candidate]] = {}
        self.finished = 0
        # Called with each finished candidate (once kept), in FLAML's thread before its next
        # trial starts: the search's convergence rule and time cap see every trial there.
        self.on_finished: Callable[[Candidate], None] | None = None
        self._pending: _Pending | None = None
        self._last_call = clock()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- FLAML's metric API

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
        config: Any = None,
        *args: Any,
    ) -> tuple[float, dict[str, float]]:
        started = self.clock()
        fit_seconds = started - self._last_call
        prediction = self._predict(estimator, X_val)
        y_true = np.asarray(y_val)
        if self.inverse is not None:
            prediction, y_true = self.inverse(prediction), self.inverse(y_true)
        try:
            value = score(self.metric, y_true, prediction)
        except ValueError:
            value = float("nan")  # e.g. a class missing from the fold: no usable score
        if not np.isfinite(value):
            loss = float("inf")
        elif self.metric in LOWER_IS_BETTER:
            loss = value
        else:
            loss = 1.0 - value
        logged = {"score": value}
        if self.tie_break is not None and np.isfinite(loss):
            tie_loss, logged = self.tie_break.loss(y_true, prediction, value)
            loss = tie_loss
        try:
            self._record(X_val, y_train, estimator, config, prediction, fit_seconds)
        except Exception:  # recording is an optimisation; never fail the trial
            self._pending = None
        self._last_call = self.clock()
        return loss, logged

    # ---------------------------------------------------------------- recording

    def _predict(self, estimator: Any, X_val: Any) -> np.ndarray:
        if not self.n_classes:
            return np.asarray(estimator.predict(X_val), dtype=np.float64).ravel()
        proba = np.asarray(estimator.predict_proba(X_val), dtype=np.float64)
        classes = getattr(getattr(estimator, "model", None), "classes_", None)
        if classes is None or proba.shape[1] == self.n_classes:
            return proba
        # A class absent from this fold's training rows gets probability 0.
        out = np.zeros((proba.shape[0], self.n_classes))
        out[:, np.asarray(classes, dtype=int)] = proba
        return out

    def _record(
        self,
        X_val: Any,
        y_train: Any,
        estimator: Any,
        config: Any,
        prediction: np.ndarray,
        fit_seconds: float,
    ) -> None:
        fold = self.fold_of.get(fingerprint(X_val))
        learner = self.learner_of.get(type(estimator).__name__)
        if fold is None or learner is None or len(y_train) < self.fit_rows[fold]:
            return  # not one of our folds, or a model fitted on a sample of the rows
        key = learner + json.dumps(config or {}, sort_keys=True, default=str)
        pending = self._pending
        if pending is None or pending.key != key or fold in pending.folds:
            self._finish_pending()
            model = _unfitted_copy(estimator)
            if model is None:
                return
            rows = len(self.evaluated)
            shape = (rows, self.n_classes) if self.n_classes else (rows,)
            pending = self._pending = _Pending(
                key=key,
                estimator=learner,
                config={k: v for k, v in (config or {}).items() if k != "FLAML_sample_size"},
                model=model,
                nodes=_nodes(getattr(estimator, "model", None)),
                total=np.zeros(shape),
                counts=np.zeros(len(self.evaluated)),
            )
        rounds = _rounds(getattr(estimator, "model", None))
        if rounds:
            pending.rounds.append(rounds)
        valid = self.position[self.plan.folds[fold][1]]
        pending.total[valid] += prediction
        pending.counts[valid] += 1
        pending.folds.add(fold)
        pending.seconds += fit_seconds
        if len(pending.folds) == len(self.plan.folds):
            self._finish_pending()

    def _finish_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None or len(pending.folds) < len(self.plan.folds):
            return
        counts = pending.counts[:, None] if pending.total.ndim == 2 else pending.counts
        predictions = pending.total / counts
        try:
            value = score(self.metric, self.y[self.evaluated], predictions)
        except ValueError:
            return
        if not np.isfinite(value):
            return
        if len(set(pending.rounds)) > 1:
            # FLAML's time limit cut the folds' models short unevenly (near the end of the
            # search): no single model made these predictions, so none can be refitted.
            return
        per_fit = pending.seconds / len(self.plan.folds)
        nodes = pending.nodes
        if pending.estimator in NODES_GROW_WITH_ROWS:
            nodes = int(nodes / self.plan.fit_share)
        self.finished += 1
        candidate = Candidate(
            id=pending.estimator,
            estimator=pending.estimator,
            config=pending.config,
            score=float(value),
            # A fold model sees `fit_share` of the rows; fitting time grows about linearly.
            fit_seconds=per_fit / self.plan.fit_share,
            model=pending.model,
            nodes=nodes,
            fit_rows=self.fit_rows[0],
            predictions=predictions,
            trial=self.finished,
        )
        with self._lock:
            kept = self.kept.setdefault(pending.estimator, [])
            if not any(_same(c.model, candidate.model) for c in kept):
                kept.append(candidate)
                kept.sort(key=lambda c: c.score, reverse=self.metric not in LOWER_IS_BETTER)
                del kept[KEEP_PER_LEARNER:]
        if self.on_finished is not None:
            self.on_finished(candidate)

    # ---------------------------------------------------------------- results

    def snapshot(self) -> list[Candidate]:
        """Every kept candidate so far, best first (safe from another thread)."""
        with self._lock:
            kept = [c for cands in self.kept.values() for c in cands]
        return sorted(kept, key=lambda c: c.score, reverse=self.metric not in LOWER_IS_BETTER)

    def candidates(self) -> list[Candidate]:
        """Every kept candidate with ids; every learner's best first, then the runners-up."""
        self._finish_pending()
        with self._lock:
            kept = {name: list(cands) for name, cands in self.kept.items()}
        out: list[Candidate] = []
        for rank in range(KEEP_PER_LEARNER):
            tier = [cands[rank] for cands in kept.values() if rank < len(cands)]
            tier.sort(key=lambda c: c.score, reverse=self.metric not in LOWER_IS_BETTER)
            for c in tier:
                c.id = c.estimator if rank == 0 else f"{c.estimator}_{rank + 1}"
                out.append(c)
        return out


def _unfitted_copy(estimator: Any) -> Any:
    """The fitted model's estimator with the same parameters, unfitted."""
    from sklearn.base import clone

    model = getattr(estimator, "model", None)
    if model is None:
        return None
    copy = clone(model)
    if "callbacks" in copy.get_params():
        copy.set_params(callbacks=None)  # FLAML's time-limit callback, not part of the model
    rounds = _rounds(model)
    if rounds:
        # XGBoost stopped by FLAML's time limit has fewer rounds than n_estimators says.
        copy.set_params(n_estimators=rounds)
    return copy


def _rounds(model: Any) -> int:
    """Trees (boosting rounds) a fitted model grew; FLAML's time limit may cut any of them
    short, forests included (it fits them like LightGBM, n_estimators from the time left)."""
    if hasattr(model, "get_booster"):
        return int(model.get_booster().num_boosted_rounds())
    if hasattr(model, "booster_"):
        return int(model.booster_.current_iteration())
    return len(getattr(model, "estimators_", ()))


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a.get_params(), sort_keys=True, default=str) == json.dumps(
        b.get_params(), sort_keys=True, default=str
    )


def _nodes(model: Any) -> int:
    from training_image.export import tree_nodes

    try:
        return tree_nodes(model) if model is not None else 0
    except Exception:  # only an estimate for the time budget
        return 0
