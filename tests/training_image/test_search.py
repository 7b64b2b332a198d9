"""The FLAML search: zero-shot start, size caps, stopping, and the ensemble choice."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training_image import frames
from training_image import ensemble, search


@pytest.fixture(scope="module")
def cancer():
    df = frames.breast_cancer()
    X = df.drop(columns=["target"]).to_numpy(dtype=np.float32)
    return X, df["target"].to_numpy()


def test_it_starts_from_flamls_zero_shot_defaults_within_the_size_caps(cancer):
    X, y = cancer

    order = search.zero_shot_order("binary", X, y, search.ESTIMATORS)
    configs = search.zero_shot_configs("binary", X, y, search.ESTIMATORS)

    assert sorted(order) == sorted(search.ESTIMATORS)
    assert set(configs) == set(search.ESTIMATORS)
    for name, (config,) in configs.items():
        for hp, cap in search.SIZE_CAPS[name].items():
            assert 4 <= config[hp] <= cap, (name, hp)


def test_it_reports_trials_and_stops_when_asked(cancer):
    X, y = cancer
    seen = []

    def on_trial(state):
        seen.append(len(state.trials))
        if len(state.trials) >= 3:
            raise KeyboardInterrupt("stop")  # what a cancelled job's progress callback does

    with pytest.raises(KeyboardInterrupt):
        search.run_search(
            X,
            y,
            task="binary",
            metric="roc_auc",
            time_budget=30,
            seed=1,
            n_jobs=1,
            on_trial=on_trial,
        )

    assert seen and seen[-1] >= 3


def test_it_searches_with_cross_validation_and_records_history(cancer):
    X, y = cancer

    result = search.run_search(
        X, y, task="binary", metric="roc_auc", time_budget=3, seed=1, n_jobs=1
    )

    assert (result.eval_method, result.folds) == ("cv", 5)
    assert (
        result.trials[0].estimator == search.zero_shot_order("binary", X, y, search.ESTIMATORS)[0]
    )
    assert 0.9 < result.validation_score <= 1.0
    assert result.best_estimator in result.configs
    assert result.scores[result.best_estimator] == pytest.approx(result.validation_score)
    board = result.leaderboard()
    assert [r["best_score"] for r in board] == sorted(
        (r["best_score"] for r in board), reverse=True
    )
    assert [h["trial"] for h in result.history()] == list(range(1, result.n_trials + 1))
    model = search.make_estimator(
        result.best_estimator, result.best_config, task="binary", n_jobs=1
    )
    assert model.fit(X, y).predict_proba(X).shape == (len(y), 2)


def test_it_keeps_the_ensemble_only_when_it_wins_out_of_fold(cancer):
    X, y = cancer
    result = search.run_search(
        X, y, task="binary", metric="roc_auc", time_budget=4, seed=2, n_jobs=1
    )

    choice = ensemble.choose_ensemble(result, X, y, seed=2, n_jobs=1, time_left=120)

    ids = {c.id for c in result.candidates}
    assert set(result.configs) <= ids == set(choice.member_scores)
    assert all(c.estimator in result.configs for c in result.candidates)
    assert choice.score is not None and choice.single_score is not None
    if choice.use:
        assert choice.score > choice.single_score
    else:
        assert choice.score <= choice.single_score + 1e-3
    assert ensemble.choose_ensemble(result, X, y, seed=2, n_jobs=1, time_left=0).use is False
