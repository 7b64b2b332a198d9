"""A weighted ensemble of the search's best trials, kept only when it wins out-of-fold.

The candidates are the search's finished trials with the out-of-fold predictions the search
metric recorded (`oof.OutOfFoldMetric`): each learner's few best configurations. A greedy
forward selection with replacement (Caruana et al., 2004) picks integer weights on those
predictions, adding a new member only while its refit and export fit in its planned share of
the budget (planned from the data's shape, so the same search gives the same ensemble every
run) and in the time measured to be left (else members are cut, and the result says so).
Nothing is fitted to choose: the predictions exist already. The result replaces the search's
best model only if its out-of-fold score beats that model's by MIN_GAIN.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training_image.contract import LOWER_IS_BETTER
from training_image.metrics import is_better, score, selection_score
from training_image.search import Candidate, FoldPlan, SearchResult

GREEDY_ROUNDS = 25
PLAN_ROWS = 5_000  # validated rows the search's reserve looks at to plan the ensemble
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
    # What the time left cut from the planned choice (empty: the choice is as planned).
    cut: list[str] = field(default_factory=list)


def choose_ensemble(
    result: SearchResult,
    *,
    time_left: float,
    cost: Callable[[Sequence[Candidate]], float],
    planned: Callable[[Sequence[Candidate]], bool],
) -> EnsembleChoice:
    """Decide whether a weighted ensemble of the search's candidates beats its best model.

    Args:
        result: the search, with its candidates' out-of-fold predictions.
        time_left: seconds available for fitting and exporting the chosen members.
        cost: seconds to refit and export a set of members (from the search's measured fits).
        planned: whether a set of members fits in the ensemble's planned share of the budget.
    """
    started = time.monotonic()
    best = result.candidates[0]
    candidates = [c for c in result.candidates if c.predictions is not None]
    if len(candidates) < 2:
        return EnsembleChoice(
            False, "the search finished a single configuration", weights={best.id: 1}
        )
    if cost([best]) > time_left:
        return EnsembleChoice(
            False,
            "not enough time left in the budget to try an ensemble",
            weights={best.id: 1},
            cut=["ensemble: not tried, no time was left for one"],
        )
    metric = result.metric
    truth = result.y[result.plan.evaluated]
    n_rows = result.plan.n_rows
    chosen = select_members(candidates, truth, metric, n_rows, fits=planned)
    cut = []
    if cost([candidates[i] for i in chosen]) > time_left:
        chosen = select_members(
            candidates,
            truth,
            metric,
            n_rows,
            fits=lambda m: planned(m) and cost(m) <= time_left,
        )
        cut.append("ensemble: members were left out, no time was left to refit them")
    weights = {candidates[i].id: w for i, w in chosen.items()}
    predictions = {c.id: c.predictions for c in candidates}
    blend = _blend(predictions, weights)
    # The blend must beat every candidate, not only the search's pick: the search ranks by
    # its folds' mean score, the blend is scored on the pooled out-of-fold predictions, and a
    # model must never be replaced by a blend one of its own members validates better than.
    singles = [selection_score(metric, truth, predictions[c.id], n_rows) for c in candidates]
    single = selection_score(metric, truth, predictions[best.id], n_rows)
    strongest = min(singles) if metric in LOWER_IS_BETTER else max(singles)
    blended = selection_score(metric, truth, blend, n_rows)
    gain_needed = MIN_GAIN * max(abs(strongest), 1e-3)
    margin = -gain_needed if metric in LOWER_IS_BETTER else gain_needed
    wins = len(weights) > 1 and is_better(metric, blended, strongest + margin)
    member_scores = {c.id: score(metric, truth, predictions[c.id]) for c in candidates}
    if wins:
        reason = "the weighted ensemble scored better out-of-fold than the search's best model"
    elif len(weights) > 1 and is_better(metric, blended, single + margin):
        reason = (
            "the weighted ensemble beat the search's best model out-of-fold but not every one "
            "of the candidates, so it was not used"
        )
    elif len(weights) > 1:
        reason = "the search's best model scored as well as any weighted ensemble out-of-fold"
    else:
        reason = "no other model that fits in the time left improved the best one out-of-fold"
    return EnsembleChoice(
        wins,
        reason,
        weights=weights if wins else {best.id: 1},
        score=score(metric, truth, blend),
        single_score=member_scores[best.id],
        member_scores=member_scores,
        seconds=time.monotonic() - started,
        cut=cut,
    )


def planned_members(
    candidates: Sequence[Candidate],
    y: np.ndarray,
    plan: FoldPlan,
    metric: str,
    *,
    fits: Callable[[Sequence[Candidate]], bool],
) -> list[Candidate]:
    """The members the ensemble would take now (for the search's time reserve).

    It runs after every trial, beside the search: on large data it looks at PLAN_ROWS of the
    validated rows, enough to tell which models blend well.
    """
    usable = [c for c in candidates if c.predictions is not None]
    if len(usable) < 2:
        return list(candidates[:1])
    truth = y[plan.evaluated]
    sample = None
    if len(truth) > PLAN_ROWS:
        sample = np.linspace(0, len(truth) - 1, PLAN_ROWS).astype(int)
        truth = truth[sample]
    chosen = select_members(usable, truth, metric, plan.n_rows, fits=fits, rows=sample)
    return [usable[i] for i in chosen]


def select_members(
    candidates: Sequence[Candidate],
    truth: np.ndarray,
    metric: str,
    n_rows: int,
    *,
    fits: Callable[[Sequence[Candidate]], bool],
    rows: np.ndarray | None = None,
) -> dict[int, int]:
    """Caruana's forward selection with replacement, from the best candidate (index 0).

    A candidate not yet in the ensemble is only tried while `fits` accepts the members with it.
    `rows` picks some of the candidates' predictions (all when None). Returns candidate
    index -> weight.
    """
    predictions = [c.predictions if rows is None else c.predictions[rows] for c in candidates]
    chosen: Counter[int] = Counter({0: 1})
    best_score = selection_score(metric, truth, predictions[0], n_rows)
    total = predictions[0].copy()
    for rounds in range(1, GREEDY_ROUNDS):
        round_best: tuple[float, int] | None = None
        for i, prediction in enumerate(predictions):
            if i not in chosen and not fits([candidates[j] for j in (*chosen, i)]):
                continue  # one more member would not be refitted and exported in time
            value = selection_score(metric, truth, (total + prediction) / (rounds + 1), n_rows)
            if round_best is None or is_better(metric, value, round_best[0]):
                round_best = (value, i)
        if round_best is None or not is_better(metric, round_best[0], best_score):
            break
        best_score, pick = round_best
        chosen[pick] += 1
        total += predictions[pick]
    return dict(chosen)


def _blend(predictions: dict[str, np.ndarray], weights: dict[str, int]) -> np.ndarray:
    total = sum(weights.values())
    return sum(predictions[name] * (w / total) for name, w in weights.items())


def build_ensemble(
    weights: dict[str, int],
    candidates: dict[str, Candidate],
    *,
    task: str,
    n_jobs: int,
    rows: int | None = None,
    target_transform: str | None = None,
) -> Any:
    """An unfitted soft-voting ensemble (sklearn, convertible to ONNX); one member: itself.

    `rows`: how many rows it will be fitted on (see member_model). `target_transform`: each
    member learns log(1 + y) and predicts y, so the blend averages y as the search's
    out-of-fold predictions did.
    """
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    from training_image.target_transform import wrap

    def model(candidate_id: str) -> Any:
        member = member_model(candidates[candidate_id], task=task, n_jobs=n_jobs, rows=rows)
        return wrap(member, target_transform)

    if len(weights) == 1:
        return model(next(iter(weights)))
    members = [(candidate_id, model(candidate_id)) for candidate_id in weights]
    # An array, not a list: skl2onnx's converter calls weights.sum().
    weight_array = np.asarray(list(weights.values()), dtype=float)
    if task == "regression":
        return VotingRegressor(members, weights=weight_array)
    # flatten_transform=False: the only form skl2onnx converts.
    return VotingClassifier(members, voting="soft", weights=weight_array, flatten_transform=False)


def member_model(candidate: Candidate, *, task: str, n_jobs: int, rows: int | None = None) -> Any:
    """A fresh, unfitted copy of the estimator a candidate was scored with.

    A forest's leaf budget was tuned on fold models fitted on `candidate.fit_rows` rows; fitted
    on `rows` rows it gets proportionally more leaves, so its trees grow as deep relative to
    the data (on wine quality, 683 leaves tuned on 2k rows and kept on 3.7k rows lost 0.02 R²).
    """
    from sklearn.base import clone

    from training_image.search import make_estimator

    if candidate.model is None:
        return make_estimator(candidate.estimator, candidate.config, task=task, n_jobs=n_jobs)
    model = clone(candidate.model)
    params = model.get_params()
    if params.get("n_jobs") is not None:  # None: no threads (a deprecated no-op, as in LR)
        model.set_params(n_jobs=n_jobs)
    leaves = params.get("max_leaf_nodes")
    if rows and candidate.fit_rows and leaves:
        model.set_params(max_leaf_nodes=max(2, round(leaves * rows / candidate.fit_rows)))
    return model
