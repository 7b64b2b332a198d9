"""A weighted ensemble of the search's best configurations, kept only when it wins.

The candidates are each learner's best configurations from the search (up to
search.TOP_CONFIGS each). Every candidate predicts the training rows out-of-fold (5 folds on
small data, one holdout split on larger data); a greedy forward selection with replacement
(Caruana et al., 2004) picks integer weights on those predictions. The result replaces the
search's pick only if its out-of-fold score beats that model's, re-measured the same way.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training_image.contract import LOWER_IS_BETTER
from training_image.metrics import is_better, score, selection_score
from training_image.search import (
    N_SPLITS,
    Candidate,
    SearchResult,
    holdout_ratio,
    make_estimator,
)

GREEDY_ROUNDS = 25
MIN_GAIN = 1e-4  # relative: smaller gains are noise, not worth a bigger model


@dataclass
class EnsembleChoice:
    use: bool  # replace the search's best model by `weights` (one member or several)
    reason: str
    weights: dict[str, int] = field(default_factory=dict)  # candidate id -> weight
    score: float | None = None  # out-of-fold score of the ensemble
    single_score: float | None = None  # out-of-fold score of the search's best model
    member_scores: dict[str, float] = field(default_factory=dict)  # candidate id -> score
    seconds: float = 0.0


def estimated_seconds(candidates: list[Candidate], *, cv: bool) -> float:
    """Seconds to compute every candidate's out-of-fold predictions."""
    # 5 folds fit 4/5 of the rows each; one holdout split fits 4/5 or 9/10 of them.
    return float(sum(c.fit_seconds for c in candidates)) * ((N_SPLITS - 1) if cv else 0.9)


def choose_ensemble(
    result: SearchResult,
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    n_jobs: int,
    time_left: float,
    sample_weight: np.ndarray | None = None,
) -> EnsembleChoice:
    """Decide whether a weighted ensemble of the search's best configurations wins."""
    cv = bool(result.folds)
    candidates = list(result.candidates)
    if estimated_seconds(candidates, cv=cv) > time_left:
        # The learners' best configurations only, when the runners-up do not fit in time.
        candidates = [c for c in candidates if c.id == c.estimator]
    if len(candidates) < 2:
        return EnsembleChoice(False, "the search tried a single configuration")
    if estimated_seconds(candidates, cv=cv) > time_left:
        return EnsembleChoice(False, "not enough time left in the budget to try an ensemble")
    started = time.monotonic()
    task, metric = result.task, result.metric
    classification = task != "regression"
    n_classes = int(y.max()) + 1 if classification else 0
    splits = _splits(y, classification=classification, cv=cv, seed=seed)
    predictions = {
        c.id: _out_of_fold(
            c,
            X,
            y,
            splits,
            task=task,
            n_classes=n_classes,
            n_jobs=n_jobs,
            sample_weight=sample_weight,
        )
        for c in candidates
    }
    evaluated = np.concatenate([valid for _, valid in splits])
    truth = y[evaluated]
    n_rows = len(y)
    weights = _greedy_weights(predictions, truth, evaluated, metric, n_rows)
    blend = _blend(predictions, weights)[evaluated]
    single = selection_score(metric, truth, predictions[result.best_estimator][evaluated], n_rows)
    blended = selection_score(metric, truth, blend, n_rows)
    gain_needed = MIN_GAIN * max(abs(single), 1e-3)
    margin = -gain_needed if metric in LOWER_IS_BETTER else gain_needed
    # One member alone can win too: another configuration, re-measured out-of-fold without
    # the search's selection bias, beating the search's pick.
    wins = is_better(metric, blended, single + margin) and (
        len(weights) > 1 or next(iter(weights)) != result.best_estimator
    )
    member_scores = {
        name: score(metric, truth, pred[evaluated]) for name, pred in predictions.items()
    }
    if not wins:
        reason = "the search's best model scored as well as any weighted ensemble out-of-fold"
    elif len(weights) > 1:
        reason = "the weighted ensemble scored better out-of-fold than the search's best model"
    else:
        reason = (
            f"re-measured out-of-fold, {next(iter(weights))} beat the search's best model "
            f"({result.best_estimator}) and was chosen instead"
        )
    return EnsembleChoice(
        wins,
        reason,
        weights=weights,
        score=score(metric, truth, blend),
        single_score=member_scores[result.best_estimator],
        member_scores=member_scores,
        seconds=time.monotonic() - started,
    )


def _splits(
    y: np.ndarray, *, classification: bool, cv: bool, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    rows = np.arange(len(y))
    if cv:
        splitter = (
            StratifiedKFold(N_SPLITS, shuffle=True, random_state=seed)
            if classification
            else KFold(N_SPLITS, shuffle=True, random_state=seed)
        )
        return list(splitter.split(rows, y))
    stratify = y if classification and np.bincount(y).min() >= 2 else None
    fit, valid = train_test_split(
        rows, test_size=holdout_ratio(len(rows)), random_state=seed, stratify=stratify
    )
    return [(np.sort(fit), np.sort(valid))]


def _out_of_fold(
    candidate: Candidate,
    X: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    task: str,
    n_classes: int,
    n_jobs: int,
    sample_weight: np.ndarray | None,
) -> np.ndarray:
    out = np.zeros((len(y), n_classes)) if n_classes else np.zeros(len(y))
    for fit_rows, valid_rows in splits:
        model = make_estimator(candidate.estimator, candidate.config, task=task, n_jobs=n_jobs)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight[fit_rows]}
        model.fit(X[fit_rows], y[fit_rows], **kwargs)
        if n_classes:
            proba = model.predict_proba(X[valid_rows])
            # A class absent from these training rows gets probability 0.
            out[np.ix_(valid_rows, np.asarray(model.classes_, dtype=int))] = proba
        else:
            out[valid_rows] = model.predict(X[valid_rows])
    return out


def _blend(predictions: dict[str, np.ndarray], weights: dict[str, int]) -> np.ndarray:
    total = sum(weights.values())
    return sum(predictions[name] * (w / total) for name, w in weights.items())


def _greedy_weights(
    predictions: dict[str, np.ndarray],
    truth: np.ndarray,
    rows: np.ndarray,
    metric: str,
    n_rows: int,
) -> dict[str, int]:
    chosen: Counter[str] = Counter()
    best_score: float | None = None
    for _ in range(GREEDY_ROUNDS):
        round_best: tuple[float, str] | None = None
        for name in predictions:
            trial = chosen.copy()
            trial[name] += 1
            value = selection_score(metric, truth, _blend(predictions, dict(trial))[rows], n_rows)
            if round_best is None or is_better(metric, value, round_best[0]):
                round_best = (value, name)
        assert round_best is not None
        if best_score is not None and not is_better(metric, round_best[0], best_score):
            break
        best_score = round_best[0]
        chosen[round_best[1]] += 1
    return dict(chosen)


def build_ensemble(
    weights: dict[str, int], candidates: dict[str, Candidate], *, task: str, n_jobs: int
) -> Any:
    """An unfitted soft-voting ensemble (sklearn, convertible to ONNX); one member: itself."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    def model(candidate_id: str) -> Any:
        c = candidates[candidate_id]
        return make_estimator(c.estimator, c.config, task=task, n_jobs=n_jobs)

    if len(weights) == 1:
        return model(next(iter(weights)))
    members = [(candidate_id, model(candidate_id)) for candidate_id in weights]
    # An array, not a list: skl2onnx's converter calls weights.sum().
    weight_array = np.asarray(list(weights.values()), dtype=float)
    if task == "regression":
        return VotingRegressor(members, weights=weight_array)
    # flatten_transform=False: the only form skl2onnx converts.
    return VotingClassifier(members, voting="soft", weights=weight_array, flatten_transform=False)
