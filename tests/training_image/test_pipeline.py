"""train_frame end to end on real data, with 2-5 second budgets."""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle

import numpy as np
import pandas as pd
import pytest

from tests.training_image import frames
from tests.training_image.test_documents import keys
from training_image import contract, search
from training_image.data import load_csv
from training_image.errors import DataError
from training_image.pipeline import train_frame

BUDGET = 3


def train(df: pd.DataFrame, target: str, **kwargs):
    kwargs.setdefault("time_budget", BUDGET)
    kwargs.setdefault("n_jobs", 1)
    return train_frame(df, target, **kwargs)


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed")
    phases = []
    result = train(frames.mixed(), "churn", out_dir=out, progress=phases.append, time_budget=4)
    return result, out, phases


# --------------------------------------------------------------------------- bad input first


@pytest.mark.parametrize(
    ("df", "target", "kwargs", "message"),
    [
        (frames.iris(), "colour", {}, "The target column 'colour' is not in the file"),
        (frames.iris().assign(k=1), "k", {}, "single value: there is nothing to learn"),
        (
            frames.iris().assign(note=[f"free text number {i} here" for i in range(150)]),
            "note",
            {},
            "looks like free text or an identifier",
        ),
        (
            frames.iris(),
            "species",
            {"problem_type": "regression"},
            "Regression needs a numeric target, but 'species' holds text",
        ),
        (
            frames.iris(),
            "species",
            {"problem_type": "binary"},
            "Binary classification needs exactly two classes, but 'species' has 3",
        ),
        (frames.iris(), "species", {"metric": "r2"}, "The metric 'r2' does not apply"),
        (
            frames.iris().assign(species=["a"] * 149 + ["b"]),
            "species",
            {},
            "needs at least two classes with two or more rows each",
        ),
        (frames.iris().head(6), "species", {}, "at least 10 are needed"),
        (
            frames.iris()[["species"]].assign(row_id=range(150)),
            "species",
            {},
            "No column is left to learn from",
        ),
    ],
    ids=[
        "no-such-column",
        "constant",
        "free-text",
        "regression-on-text",
        "binary-with-3-classes",
        "wrong-metric",
        "one-class",
        "too-few-rows",
        "only-an-id",
    ],
)
def test_it_rejects_unusable_targets_with_a_clear_message(df, target, kwargs, message):
    with pytest.raises(DataError, match=message):
        train(df, target, **kwargs)


# --------------------------------------------------------------------------- problem types


def test_it_trains_a_binary_model_on_breast_cancer(tmp_path):
    result = train(frames.breast_cancer(), "target", out_dir=tmp_path)

    ev = result.evaluation
    assert (result.problem_type, result.metric) == ("binary", "roc_auc")
    assert ev["test_metrics"]["roc_auc"] > 0.95
    assert ev["baseline"]["metrics"]["roc_auc"] == 0.5
    assert len(ev["roc_curve"]["fpr"]) <= 200 and ev["pr_curve"]["ap"] > 0.9
    assert ev["split"] == {
        "train_rows": 455,
        "test_rows": 114,
        "validation": "cv",
        "folds": 5,
        "seed": 42,
    }
    assert set(result.artifacts) == set(contract.ARTIFACTS)
    assert result.metrics["best_estimator"] == ev["best_estimator"]
    assert isinstance(result.metrics["training_time"], float)


def test_it_returns_the_original_string_labels_from_the_pickle(tmp_path):
    df = frames.iris()

    result = train(df, "species", out_dir=tmp_path)

    model = pickle.loads((tmp_path / contract.MODEL_PKL).read_bytes())
    rows = df.drop(columns=["species"])
    predicted = model.predict(rows)
    assert set(predicted) <= {"setosa", "versicolor", "virginica"}
    assert (predicted == df["species"].to_numpy()).mean() > 0.9
    assert model.predict_proba(rows).shape == (150, 3)
    card = json.loads((tmp_path / contract.MODEL_CARD).read_text())
    assert card["label_mapping"] == {"0": "setosa", "1": "versicolor", "2": "virginica"}
    assert result.preprocessing["target_mapping"] == card["label_mapping"]
    assert result.evaluation["confusion_matrix"]["labels"] == ["setosa", "versicolor", "virginica"]
    assert {r["label"] for r in result.evaluation["per_class"]} == set(card["classes"])


def test_it_trains_regression_on_diabetes():
    # A longer budget than the other tests: on a busy machine a 3 s search can end before it
    # reaches the linear learner this test is about (the search stops early once converged).
    result = train(frames.diabetes(), "target", time_budget=12)

    ev = result.evaluation
    assert result.problem_type == "regression" and result.metric == "r2"
    assert ev["test_metrics"]["r2"] > ev["baseline"]["metrics"]["r2"] + 0.2
    assert ev["test_metrics"]["rmse"] < ev["baseline"]["metrics"]["rmse"]
    assert 0 < len(ev["residuals"]["predicted"]) == len(ev["residuals"]["actual"]) <= 500
    assert "confusion_matrix" not in ev
    # Regression also searches a linear model, which the ensemble may take where it helps.
    assert ev["search"]["estimators"][-1] == "lassolars"
    assert "lassolars" in {row["estimator"] for row in ev["leaderboard"]}


def test_it_trains_on_the_penguins_csv_with_missing_values():
    df = load_csv(frames.penguins_csv())

    result = train(df, "species")

    assert result.problem_type == "multiclass"
    assert result.evaluation["test_metrics"]["accuracy"] > 0.9
    assert result.preprocessing["feature_types"]["island"] == "categorical"
    gaps = df.drop(columns=["species"]).head(12).copy()
    gaps.loc[:, ["bill_length_mm", "sex"]] = np.nan  # rows with gaps still predict
    assert set(result.model.predict(gaps)) <= {"Adelie", "Chinstrap", "Gentoo"}


# --------------------------------------------------------------------------- kinds of columns


def test_it_learns_from_dates_text_and_categories_and_drops_ids(mixed_run):
    result, _, _ = mixed_run

    ev = result.evaluation
    assert {d["column"] for d in ev["dropped_columns"]} == {"customer_id", "country", "amount_copy"}
    features = {f["feature"] for f in ev["feature_importance"]}
    assert features == {"amount", "plan", "signup_date", "comment"}  # original names
    assert ev["feature_importance"][0]["importance"] >= ev["feature_importance"][-1]["importance"]
    assert ev["test_metrics"]["roc_auc"] > ev["baseline"]["metrics"]["roc_auc"] + 0.1
    assert result.preprocessing["feature_types"] == {
        "amount": "numeric",
        "plan": "categorical",
        "signup_date": "datetime",
        "comment": "text",
    }
    assert result.preprocessing["categorical_values"]["plan"] == ["basic", "plus", "pro"]
    assert len(json.dumps(result.preprocessing)) < 50_000


def test_it_predicts_raw_rows_with_unseen_and_missing_values(mixed_run):
    result, _, _ = mixed_run
    rows = pd.DataFrame(
        {
            "customer_id": ["X1", "X2"],  # dropped columns may still be present
            "amount": [None, "80"],
            "plan": ["enterprise", None],  # unseen, missing
            "signup_date": ["2022-11-30", None],
            "comment": ["billing problems", None],
        }
    )

    assert result.model.predict(rows).tolist()[0] in {"yes", "no"}
    proba = result.model.predict_proba(rows)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_it_reports_progress_through_every_phase(mixed_run):
    _, _, updates = mixed_run

    phases = [u["phase"] for u in updates]
    expected = ["profiling", "preprocessing", "searching", "refitting", "evaluating", "exporting"]
    assert [p for p in dict.fromkeys(phases) if p in expected] == expected
    assert phases[-1] == "done"
    searching = [u for u in updates if u["phase"] == "searching" and u["trials"]]
    learners = set(search.default_estimators("binary", len(frames.mixed())))
    assert searching and searching[-1]["best_estimator"] in learners
    assert all(u["metric"] == "roc_auc" for u in updates if u["phase"] != "profiling")


def test_it_writes_the_evaluation_and_card_the_web_reads(mixed_run):
    result, out, _ = mixed_run

    ev = json.loads((out / contract.EVALUATION).read_text())
    card = json.loads((out / contract.MODEL_CARD).read_text())
    # Exactly the typed shapes: every required key, optional ones only where they apply.
    required, optional = keys(contract.Evaluation)
    assert required <= set(ev) <= required | optional
    assert {"confusion_matrix", "roc_curve", "pr_curve", "per_class"} <= set(ev)
    assert contract.read_evaluation(ev) == ev
    required, optional = keys(contract.ModelCard)
    assert required <= set(card) <= required | optional
    assert contract.read_model_card(card) == card
    assert ev["leaderboard"][0].keys() >= {"estimator", "best_score", "trials", "time"}
    assert ev["search_history"][0].keys() == {"time", "trial", "estimator", "score"}
    amount = next(f for f in card["features"] if f["name"] == "amount")
    assert amount["min"] < amount["max"]
    plan = next(f for f in card["features"] if f["name"] == "plan")
    assert plan["allowed_values"] == ["basic", "plus", "pro"]
    assert card["library_versions"]["flaml"] == "2.7.0"
    assert len(card["data_sha256"]) == 64


def _stdlib_onnx_inputs(card: dict, row: dict) -> dict:
    """What a server does with the card alone: build ONNX inputs from a raw row (stdlib)."""
    epoch = dt.datetime(1970, 1, 1)
    feed = {}
    for spec in card["onnx"]["inputs"]:
        raw = row.get(spec["column"])
        missing = raw is None or str(raw).strip() == ""
        if spec["encoding"] == "datetime":
            try:
                when = dt.datetime.strptime(str(raw).strip(), spec["format"])
            except (TypeError, ValueError):
                when = None
            parts = (
                {
                    "year": when.year,
                    "month": when.month,
                    "day": when.day,
                    "dayofweek": when.weekday(),
                    "dayofyear": when.timetuple().tm_yday,
                    "hour": when.hour,
                    "epoch_days": (when - epoch).total_seconds() / 86400,
                }
                if when
                else {}
            )
            value = [[float(parts.get(spec["derived"], math.nan))]]
        elif spec["dtype"] == "float":
            value = [[math.nan if missing else float(raw)]]
        elif spec["encoding"] == "text":
            value = [["" if missing else str(raw).lower()]]
        else:
            value = [["__missing__" if missing else str(raw).strip()]]
        feed[spec["name"]] = np.array(
            value, dtype=np.float32 if spec["dtype"] == "float" else object
        )
    return feed


def test_it_exports_an_onnx_model_a_server_can_feed_from_the_card(mixed_run):
    import onnxruntime as ort

    result, out, _ = mixed_run
    card = json.loads((out / contract.MODEL_CARD).read_text())
    session = ort.InferenceSession(
        (out / contract.MODEL_ONNX).read_bytes(), providers=["CPUExecutionProvider"]
    )
    rows = frames.mixed(n=30, seed=7).drop(columns=["churn"])
    rows.loc[0, "amount"] = np.nan
    rows.loc[1, "plan"] = None

    expected = result.model.predict_proba(rows)
    got = np.vstack(
        [
            session.run(None, _stdlib_onnx_inputs(card, row))[1]
            for row in rows.astype(object).where(rows.notna(), None).to_dict("records")
        ]
    )

    assert result.evaluation["onnx"]["available"] is True
    assert np.abs(got - expected).max() < 1e-5
    assert [o["name"] for o in card["onnx"]["outputs"]] == ["label", "probabilities"]


# --------------------------------------------------------------------------- reproducible


def test_it_gives_the_same_model_and_scores_for_the_same_data_settings_and_seed():
    df = frames.breast_cancer()

    # A budget far beyond what the search needs: it ends where it converges, not by the clock.
    first, second = (train(df, "target", time_budget=600, seed=7) for _ in range(2))

    assert first.card["reproducible"] is True and first.card["cut"] == []
    assert second.card["reproducible"] is True
    assert first.metrics["best_estimator"] == second.metrics["best_estimator"]
    assert first.evaluation["best_config"] == second.evaluation["best_config"]
    assert first.evaluation["ensemble"]["weights"] == second.evaluation["ensemble"]["weights"]
    assert first.evaluation["test_metrics"].keys() == second.evaluation["test_metrics"].keys()
    for name, value in first.evaluation["test_metrics"].items():
        assert second.evaluation["test_metrics"][name] == pytest.approx(value, abs=1e-4), name
    rows = df.drop(columns=["target"])
    assert np.abs(first.model.predict_proba(rows) - second.model.predict_proba(rows)).max() < 1e-6


def test_its_card_says_what_the_time_budget_cut():
    # No convergence: the planned trials outlast a 3 s budget, which ends the search.
    result = train(frames.breast_cancer(), "target", converge=False)

    assert result.card["reproducible"] is False
    assert result.card["cut"][0].startswith("search: the time budget ended it after")


def test_it_keeps_its_time_budget_on_a_machine_three_times_slower():
    import time

    # The run's clock goes three times as fast as real time: to the run, every step takes
    # three times as long, as on a machine that two busy processes share with it. Each of
    # its decisions (search, ensemble, refit, leakage check) reads that clock.
    start = time.monotonic()

    def slow() -> float:
        return start + 3 * (time.monotonic() - start)

    started = slow()
    result = train(frames.breast_cancer(), "target", time_budget=20, clock=slow, started=started)

    assert slow() - started <= 20 * 1.15
    assert result.metrics["training_time"] <= 20 * 1.15
    assert result.evaluation["test_metrics"]["roc_auc"] > 0.9


# --------------------------------------------------------------------------- target problems


def test_it_drops_rows_without_a_target_and_counts_them():
    df = frames.iris()
    df.loc[[3, 40, 77, 120, 121, 122, 149], "species"] = np.nan

    result = train(df, "species")

    assert result.evaluation["target_missing_dropped"] == 7
    assert result.evaluation["split"]["train_rows"] + result.evaluation["split"]["test_rows"] == 143
    assert any("7 row(s) without a value in 'species'" in w for w in result.warnings)


def test_it_leaves_out_a_class_with_a_single_row_and_says_so():
    df = frames.iris()
    df.loc[0, "species"] = "hybrid"

    result = train(df, "species")

    assert result.classes == ["setosa", "versicolor", "virginica"]
    message = next(w for w in result.warnings if "'hybrid'" in w)
    assert "has a single row, so it was left out" in message
    assert "hybrid" not in set(result.model.predict(df.drop(columns=["species"])))


def test_it_warns_when_one_column_leaks_the_target():
    df = frames.breast_cancer()
    df["diagnosis_code"] = df["target"] * 10 + np.random.default_rng(0).integers(0, 3, len(df))

    result = train(df, "target")

    leaks = result.evaluation["leakage_warnings"]
    assert [w["feature"] for w in leaks] == ["diagnosis_code"]
    assert leaks[0]["score"] >= 0.98 and "alone predicts the target" in leaks[0]["message"]


# --------------------------------------------------------------------------- ONNX per estimator


@pytest.mark.parametrize("estimator", ["lgbm", "xgboost", "rf", "extra_tree", "lrl2"])
def test_it_exports_onnx_matching_the_pickle_for_each_classifier(estimator):
    result = train(frames.mixed(n=300), "churn", estimators=[estimator], ensemble=False)

    onnx = result.evaluation["onnx"]
    assert result.metrics["best_estimator"] == estimator
    assert onnx["available"] is True, onnx["reason"]
    assert onnx["max_abs_diff"] < 1e-4
    assert onnx["label_agreement"] == 1.0
    assert result.onnx_model is not None


@pytest.mark.parametrize("estimator", ["lgbm", "xgboost", "lassolars"])
def test_it_exports_onnx_matching_the_pickle_for_regression(estimator):
    result = train(frames.diabetes(), "target", estimators=[estimator], ensemble=False)

    onnx = result.evaluation["onnx"]
    assert onnx["available"] is True, onnx["reason"]
    assert onnx["max_abs_diff"] < 1e-4 * 350  # float32 on targets up to ~350


@pytest.mark.slow
def test_it_stops_the_search_once_it_has_converged():
    result = train(frames.iris(), "species", time_budget=60)

    search = result.evaluation["search"]
    assert search["stopped"] == "converged"
    assert search["seconds"] < 60


def test_it_keeps_integer_labels_for_an_integer_target():
    df = frames.wine()

    result = train(df, "target")

    assert result.problem_type == "multiclass"
    assert result.classes == [0, 1, 2]
    predicted = result.model.predict(df.drop(columns=["target"]))
    assert predicted.dtype.kind == "i" and set(predicted) <= {0, 1, 2}
    assert result.card["label_mapping"] == {"0": 0, "1": 1, "2": 2}


@pytest.mark.extended
def test_it_trains_on_a_semicolon_decimal_comma_export():
    from tests.conftest import shared_datasets

    path = shared_datasets() / "awkward" / "titanic_semicolon_decimal_comma.csv"
    df = load_csv(path)

    result = train(df, "Survived")

    assert result.problem_type == "binary"
    assert result.preprocessing["feature_types"]["Fare"] == "numeric"
    dropped = {d["column"] for d in result.evaluation["dropped_columns"]}
    assert "PassengerId" in dropped
    assert result.evaluation["test_metrics"]["roc_auc"] > 0.8
