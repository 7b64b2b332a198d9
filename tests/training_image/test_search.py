"""The FLAML search: starting points, folds, recorded predictions, stopping, the ensemble."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from tests.training_image import frames
from training_image import budget, ensemble, metrics, oof, search


@pytest.fixture(scope="module")
def cancer():
    df = frames.breast_cancer()
    X = df.drop(columns=["target"]).to_numpy(dtype=np.float32)
    return X, df["target"].to_numpy()


@pytest.fixture(scope="module")
def cancer_search(cancer):
    X, y = cancer
    return search.run_search(X, y, task="binary", metric="roc_auc", time_budget=4, seed=2, n_jobs=1)


def test_it_starts_from_flamls_zero_shot_defaults_and_the_portfolio_within_the_caps(cancer):
    X, y = cancer

    order = search.zero_shot_order("binary", X, y, search.ESTIMATORS)
    configs = search.zero_shot_configs("binary", X, y, search.ESTIMATORS)

    assert sorted(order) == sorted(search.ESTIMATORS)
    assert set(configs) == set(search.ESTIMATORS)
    for name, points in configs.items():
        assert len(points) == 1 + len(search.PORTFOLIO[name]), name
        for config in points:
            for hp, cap in search.SIZE_CAPS[name].items():
                assert 4 <= config[hp] <= cap, (name, hp)
    lgbm = configs["lgbm"][0]
    assert lgbm["min_child_samples"] <= search.min_child_samples_upper(len(y) * 4 // 5)


def test_it_keeps_lightgbm_able_to_split_a_tiny_dataset():
    df = frames.iris()
    X = df.drop(columns=["species"]).to_numpy(dtype=np.float32)[:90]
    y = df["species"].astype("category").cat.codes.to_numpy()[:90]

    configs = search.zero_shot_configs("multiclass", X, y, ["lgbm"])

    # A fold fits 72 rows: a leaf-size floor above 18 would leave hardly any split.
    assert all(c["min_child_samples"] <= 18 for c in configs["lgbm"])


def test_it_shrinks_a_starting_point_that_would_not_fit_in_its_time(cancer):
    X, y = cancer
    plan = oof.plan_folds(y, classification=True, seed=0)
    big = {
        "lgbm": [
            {
                "n_estimators": 4000,
                "num_leaves": 31,
                "learning_rate": 0.01,
                "min_child_samples": 20,
            }
        ]
    }

    (shrunk,) = search.affordable_configs(big, n_features=X.shape[1], plan=plan, seconds=0.2)[
        "lgbm"
    ]
    (kept,) = search.affordable_configs(big, n_features=X.shape[1], plan=plan, seconds=10_000)[
        "lgbm"
    ]

    assert search.MIN_START_TREES["lgbm"] <= shrunk["n_estimators"] < 4000
    # Fewer rounds, proportionally larger steps (up to the cap): the same learning budget.
    expected_rate = min(search.MAX_SCALED_LEARNING_RATE, 0.01 * 4000 / shrunk["n_estimators"])
    assert shrunk["learning_rate"] == pytest.approx(expected_rate)
    assert kept == big["lgbm"][0]
    # Planned from the data's shape, not timed: the same shape always plans the same.
    again = search.affordable_configs(big, n_features=X.shape[1], plan=plan, seconds=0.2)
    assert again["lgbm"] == [shrunk]


def test_it_plans_cross_validation_on_small_data_and_a_holdout_on_large_data():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 2, 300)
    large = rng.integers(0, 3, oof.CV_MAX_ROWS + 1)

    cv = oof.plan_folds(small, classification=True, seed=0)
    holdout = oof.plan_folds(large, classification=True, seed=0)

    assert cv.eval_method == "cv"
    assert len(cv.folds) == oof.N_SPLITS
    assert np.array_equal(cv.evaluated, np.arange(300))
    assert holdout.eval_method == "holdout" and len(holdout.folds) == 1
    fit, valid = holdout.folds[0]
    assert len(valid) == pytest.approx(oof.holdout_ratio(len(large)) * len(large), abs=1)
    assert not set(fit) & set(valid)
    assert np.array_equal(holdout.evaluated, valid)


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


def test_it_searches_with_cross_validation_and_records_history(cancer, cancer_search):
    X, y = cancer
    result = cancer_search

    assert (result.eval_method, result.folds) == ("cv", oof.N_SPLITS)
    assert (
        result.trials[0].estimator == search.zero_shot_order("binary", X, y, search.ESTIMATORS)[0]
    )
    assert 0.9 < result.validation_score <= 1.0
    assert result.best_estimator in result.configs
    assert result.validation_score == result.candidates[0].score
    board = result.leaderboard()
    assert [r["best_score"] for r in board] == sorted(
        (r["best_score"] for r in board), reverse=True
    )
    assert [h["trial"] for h in result.history()] == list(range(1, result.n_trials + 1))
    model = ensemble.member_model(result.candidates[0], task="binary", n_jobs=1)
    assert model.fit(X, y).predict_proba(X).shape == (len(y), 2)


def test_it_records_each_trials_out_of_fold_predictions_and_the_model_that_made_them(cancer):
    X, y = cancer
    result = search.run_search(
        X,
        y,
        task="binary",
        metric="roc_auc",
        time_budget=3,
        seed=2,
        n_jobs=1,
        # Extra trees do not bootstrap, so the rows' order does not change them: FLAML hands
        # a fold's rows to the model in its own order, and a random forest's bootstrap sample
        # of them then differs from one drawn from the rows in our order.
        estimators=["extra_tree"],
    )
    best = result.candidates[0]

    # Refitting the recorded model on each fold predicts exactly what the search recorded.
    again = np.zeros((len(y), 2))
    counts = np.zeros(len(y))
    for fit_rows, valid_rows in result.plan.folds:
        model = clone(best.model).fit(X[fit_rows], y[fit_rows])
        again[valid_rows] += model.predict_proba(X[valid_rows])
        counts[valid_rows] += 1
    again /= counts[:, None]

    assert np.allclose(again, best.predictions, atol=1e-6)
    assert best.score == pytest.approx(metrics.score("roc_auc", y, best.predictions))
    assert best.fit_seconds > 0 and best.nodes > 0
    scores = [c.score for c in result.candidates if c.id == c.estimator]
    assert scores == sorted(scores, reverse=True)
    assert len({c.id for c in result.candidates}) == len(result.candidates)


def test_it_keeps_the_ensemble_only_when_it_wins_out_of_fold(cancer_search):
    result = cancer_search

    def cost(members):
        return budget.final_model_seconds(members, refit_all=True)

    choice = ensemble.choose_ensemble(result, time_left=120, cost=cost, planned=lambda m: True)

    assert set(choice.member_scores) == {c.id for c in result.candidates}
    assert choice.score is not None and choice.single_score is not None
    if choice.use:
        assert len(choice.weights) > 1
        assert choice.score > choice.single_score
    else:
        assert choice.weights == {result.candidates[0].id: 1}
    assert choice.cut == []
    no_time = ensemble.choose_ensemble(result, time_left=0, cost=cost, planned=lambda m: True)
    assert no_time.use is False and no_time.weights == {result.candidates[0].id: 1}
    assert no_time.cut == ["ensemble: not tried, no time was left for one"]


def made_up_search(y: np.ndarray, candidates: list) -> search.SearchResult:
    """A finished binary ROC AUC search whose candidates (best first) a test made up."""
    return search.SearchResult(
        task="binary",
        metric="roc_auc",
        best_estimator=candidates[0].estimator,
        best_config={},
        validation_score=candidates[0].score,
        configs={},
        scores={},
        trials=[],
        plan=oof.plan_folds(y, classification=True, seed=0),
        y=y,
        stopped="converged",
        seconds=1.0,
        candidates=candidates,
    )


def test_it_cuts_ensemble_members_only_when_the_time_left_needs_it():
    # Two models, each right on its own half of the rows: only their blend ranks them all.
    y = np.tile([0, 1], 100)
    half = np.arange(200) < 100
    signal = np.where(y == 1, 0.9, 0.1)
    noise = np.random.default_rng(0).uniform(0.2, 0.8, 200)

    def candidate(name, p):
        predictions = np.column_stack([1 - p, p])
        score = metrics.score("roc_auc", y, predictions)
        return search.Candidate(name, name, {}, score, 1.0, predictions=predictions)

    first = candidate("lgbm", np.where(half, signal, noise))
    second = candidate("xgboost", np.where(half, noise, signal))
    result = made_up_search(y, [first, second])

    def choose(time_left):  # each member costs a second to refit and export
        return ensemble.choose_ensemble(
            result, time_left=time_left, cost=lambda m: len(m), planned=lambda m: True
        )

    planned, tight = choose(10), choose(1)

    assert planned.use and set(planned.weights) == {"lgbm", "xgboost"} and planned.cut == []
    assert tight.weights == {"lgbm": 1} and not tight.use
    assert tight.cut == ["ensemble: members were left out, no time was left to refit them"]


def test_it_never_picks_a_blend_that_one_of_the_candidates_validates_better_than():
    """The search ranks by its folds' mean; a candidate it ranked second may still score best
    on the pooled out-of-fold rows. A blend must beat that one too."""
    y = np.tile([0, 1], 100)
    rng = np.random.default_rng(0)

    def candidate(name, p):
        predictions = np.column_stack([1 - p, p])
        return search.Candidate(name, name, {}, 0.0, 1.0, predictions=predictions)

    truth = np.where(y == 1, 0.55, 0.45)
    # The search's pick is weak, the third candidate strong: any blend with the pick in it
    # beats the pick and loses to the strong one alone.
    picked = candidate("lgbm", np.clip(truth + rng.normal(0, 0.5, 200), 0, 1))
    strong = candidate("rf", truth + rng.normal(0, 0.001, 200))
    other = candidate("xgboost", np.clip(truth + rng.normal(0, 0.5, 200), 0, 1))
    result = made_up_search(y, [picked, other, strong])
    choice = ensemble.choose_ensemble(
        result, time_left=10, cost=lambda m: len(m), planned=lambda m: True
    )
    best_member = max(choice.member_scores.values())
    assert choice.member_scores["rf"] == best_member
    assert not choice.use and choice.weights == {"lgbm": 1}
    assert choice.score <= best_member  # the blend it turned down is no better
    assert "not every one of the candidates" in choice.reason


def test_it_adds_no_member_whose_refit_would_not_fit_in_time(cancer_search):
    result = cancer_search
    rows = result.plan.evaluated
    candidates = result.candidates

    only_one = ensemble.select_members(
        candidates, result.y[rows], "roc_auc", len(result.y), fits=lambda m: len(m) < 2
    )

    assert list(only_one) == [0]


def test_it_validates_large_data_on_one_holdout_and_records_those_rows():
    rng = np.random.default_rng(3)
    n = oof.CV_MAX_ROWS + 500
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = X[:, 0] * 3 + X[:, 1] ** 2 + rng.normal(scale=0.3, size=n)

    result = search.run_search(
        X,
        y,
        task="regression",
        metric="r2",
        time_budget=3,
        seed=0,
        n_jobs=1,
        estimators=["lgbm", "xgboost"],
    )

    fit_rows, valid_rows = result.plan.folds[0]
    best = result.candidates[0]
    assert result.eval_method == "holdout"
    assert np.array_equal(result.plan.evaluated, valid_rows)
    refit = clone(best.model).fit(X[fit_rows], y[fit_rows])
    assert np.allclose(refit.predict(X[valid_rows]), best.predictions, atol=1e-5)
    assert best.score == pytest.approx(
        metrics.score("r2", y[valid_rows], refit.predict(X[valid_rows])), abs=1e-6
    )


def test_it_stops_at_once_when_a_model_is_perfect(cancer):
    X, y = cancer
    leaky = np.column_stack([X, y]).astype(np.float32)  # the target itself is a feature

    result = search.run_search(
        leaky, y, task="binary", metric="roc_auc", time_budget=60, seed=0, n_jobs=1
    )

    assert result.stopped == "converged"
    assert result.validation_score == 1.0
    assert result.n_trials < len(search.ESTIMATORS) + 3


def test_it_gives_a_forest_refitted_on_more_rows_proportionally_more_leaves():
    from lightgbm import LGBMRegressor
    from sklearn.ensemble import ExtraTreesRegressor

    def candidate(name, model):
        return search.Candidate(name, name, {}, 0.5, 1.0, model=model, fit_rows=1000)

    forest = candidate("extra_tree", ExtraTreesRegressor(max_leaf_nodes=100, n_jobs=2))
    boosting = candidate("lgbm", LGBMRegressor(num_leaves=31))

    bigger = ensemble.member_model(forest, task="regression", n_jobs=1, rows=2500)
    same = ensemble.member_model(forest, task="regression", n_jobs=1)
    lgbm = ensemble.member_model(boosting, task="regression", n_jobs=1, rows=2500)

    assert (bigger.max_leaf_nodes, bigger.n_jobs) == (250, 1)
    assert same.max_leaf_nodes == 100
    assert lgbm.num_leaves == 31  # boosted trees keep their size: more rows, same model
    assert forest.model.max_leaf_nodes == 100  # the candidate itself is left as it was


def test_it_runs_the_same_plan_of_trials_every_time(cancer):
    X, y = cancer

    def run():
        return search.run_search(
            X, y, task="binary", metric="roc_auc", time_budget=600, seed=5, n_jobs=1
        )

    first, second = run(), run()

    # The budget is far away: the plan ran until it converged, the same trials each time.
    assert first.stopped == second.stopped == "converged" and first.cut == []
    assert [(t.estimator, t.config, t.score) for t in first.trials] == [
        (t.estimator, t.config, t.score) for t in second.trials
    ]
    assert [(c.id, c.score) for c in first.candidates] == [
        (c.id, c.score) for c in second.candidates
    ]
    assert first.n_trials < first.planned_trials


def test_it_says_what_the_time_budget_cut_from_the_plan(cancer):
    X, y = cancer

    # Without convergence the plan runs many trials: a 2 s budget cannot hold them.
    result = search.run_search(
        X, y, task="binary", metric="roc_auc", time_budget=2, seed=5, n_jobs=1, converge=False
    )

    assert result.stopped == "time"
    assert result.n_trials < result.planned_trials
    assert result.cut == [
        f"search: the time budget ended it after {result.n_trials} of up to "
        f"{result.planned_trials} planned trials, before it converged"
    ]


def test_it_ends_the_search_between_trials_when_the_next_would_not_finish_in_time():
    from types import SimpleNamespace

    from tests.training_image.test_budget import FakeClock

    clock = FakeClock(0.0)
    run = SimpleNamespace(clock=clock, fit_started=0.0, end=lambda: 10.0)
    automl = SimpleNamespace(_state=SimpleNamespace(time_budget=60.0))  # FLAML's, as it reads it
    cap = search._Cap(automl, run, window=2)

    for finished in (3.0, 6.0):  # two trials of 3 s: the next one ends by 9 s
        clock.now = finished
        cap(None)
    assert cap.reason is None and automl._state.time_budget == 60.0
    clock.now = 8.0  # the last two took 3 s and 2 s: the next one would end at 10.5 s
    cap(None)

    assert cap.reason == "time"
    assert automl._state.time_budget < 1e-6  # FLAML ends its search before another trial


def test_its_starting_points_are_sized_from_the_planned_budget_not_the_time_left(cancer):
    """The time left when the search starts varies run to run (imports, profiling, reports):
    sized from it, a starting point's trees varied by a few and the scores with them."""
    X, y = cancer
    starts = 1 + len(search.PORTFOLIO["xgboost"])

    def starting_configs(time_budget: float, planned: float) -> list[dict]:
        result = search.run_search(
            X,
            y,
            task="binary",
            metric="roc_auc",
            time_budget=time_budget,
            seed=2,
            n_jobs=1,
            estimators=["xgboost"],
            planned_seconds=planned,
        )
        return [t.config for t in result.trials[:starts]]

    late = starting_configs(4, planned=0.5)
    early = starting_configs(9, planned=0.5)
    roomy = starting_configs(4, planned=60)

    assert len(late) == starts
    assert late == early
    # The plan does size them: a small one shrinks the trees (so the test above can fail).
    trees = [c["n_estimators"] for c in late]
    assert trees != [c["n_estimators"] for c in roomy]
