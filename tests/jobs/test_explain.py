"""Each prediction explains itself: top feature contributions from model.pkl, by model type.

Real models, trained for a few seconds each; every method's contributions are checked against
the model's own output (they add up to it with the baseline).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest

from jobs import services
from jobs.inference import model_cache
from tests.jobs.models import PENGUINS_CSV
from tests.jobs.trained import mixed_frame, store_trained_job, train
from tests.training_image import frames
from training_image.contract import MODEL_PKL

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One small run per explanation method."""
    made = {}

    def run(name, frame, target, estimators, **kwargs):
        out = tmp_path_factory.mktemp(name)
        made[name] = (
            frame,
            target,
            train(frame, target, out, estimators=estimators, **kwargs),
            out,
        )

    run("lgbm", mixed_frame(), "churn", ["lgbm"])
    run("xgboost", pd.read_csv(PENGUINS_CSV), "species", ["xgboost"])
    run("rf", frames.diabetes(), "target", ["rf"])
    run("linear", frames.breast_cancer(), "target", ["lrl2"])
    return made


def job_for(runs, name, alice, iris):
    frame, target, result, out = runs[name]
    job = store_trained_job(alice, iris, result, out)
    row = frame.drop(columns=[target]).iloc[3].to_dict()
    row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
    model = pickle.loads((out / MODEL_PKL).read_bytes())
    return job, row, model


def contributions_total(body):
    return (
        sum(e["contribution"] for e in body["explanation"]) + body["explanation_info"]["baseline"]
    )


def encoded(model, row):
    return model[:-1].transform(pd.DataFrame([row]))


def test_lightgbm_gives_exact_tree_shap_in_log_odds(runs, alice, iris):
    job, row, model = job_for(runs, "lgbm", alice, iris)
    body = services.job_predict(job=job, features=row, explain=True)
    info = body["explanation_info"]
    assert (info["method"], info["exact"], info["unit"]) == ("tree_shap", True, "log-odds")
    assert info["toward"] == body["prediction"]
    assert {e["feature"] for e in body["explanation"]} <= set(row)
    assert all(set(e) == {"feature", "value", "contribution"} for e in body["explanation"])
    assert [abs(e["contribution"]) for e in body["explanation"]] == sorted(
        (abs(e["contribution"]) for e in body["explanation"]), reverse=True
    )
    # Five features, all shown: with the baseline they add up to the log-odds of the class.
    assert len(body["explanation"]) == len(row)
    p = body["probability"]
    assert contributions_total(body) == pytest.approx(math.log(p / (1 - p)), abs=1e-3)
    by_feature = {e["feature"]: e["value"] for e in body["explanation"]}
    assert by_feature["plan"] == row["plan"]


def test_xgboost_explains_the_predicted_class_of_a_multiclass_model(runs, alice, iris):
    import xgboost

    job, row, model = job_for(runs, "xgboost", alice, iris)
    body = services.job_predict(job=job, features=row, explain=True)
    assert body["explanation_info"]["method"] == "tree_shap"
    booster = model.named_steps["model"].estimator_.get_booster()
    margins = booster.predict(xgboost.DMatrix(encoded(model, row)), output_margin=True)[0]
    k = list(model.classes_).index(body["prediction"])
    assert contributions_total(body) == pytest.approx(float(margins[k]), abs=1e-3)


def test_a_forest_is_explained_by_saabas_labelled_approximate(runs, alice, iris):
    job, row, model = job_for(runs, "rf", alice, iris)
    body = services.job_predict(job=job, features=row, explain=True)
    info = body["explanation_info"]
    assert (info["method"], info["exact"], info["unit"]) == ("saabas", False, "value")
    assert len(body["explanation"]) == 8  # the top 8 of 10
    # All contributions (not only the top 8) add up to the forest's prediction.
    from training_image import explain

    parts = explain.contributions(model.named_steps["model"], encoded(model, row), None)
    assert parts.values.sum() + parts.baseline == pytest.approx(
        model.predict(pd.DataFrame([row]))[0]
    )


def test_a_linear_model_is_explained_by_its_coefficients(runs, alice, iris):
    job, row, model = job_for(runs, "linear", alice, iris)
    body = services.job_predict(job=job, features=row, explain=True)
    assert body["explanation_info"]["method"] == "linear"
    from training_image import explain

    inner = model.named_steps["model"].estimator_
    X = encoded(model, row)
    k = list(model.classes_).index(body["prediction"])
    parts = explain.contributions(model.named_steps["model"], X, k)
    margin = float(inner.decision_function(X)[0])
    assert parts.values.sum() + parts.baseline == pytest.approx(margin if k == 1 else -margin)


def test_the_ensemble_blends_its_members_contributions_labelled_approximate():
    from lightgbm import LGBMRegressor
    from sklearn.ensemble import RandomForestRegressor, VotingRegressor

    from training_image import explain

    frame = frames.diabetes()
    X = frame.drop(columns=["target"]).to_numpy(dtype=np.float32)
    y = frame["target"].to_numpy()
    members = [
        ("lgbm", LGBMRegressor(n_estimators=30, verbose=-1)),
        ("rf", RandomForestRegressor(n_estimators=10, random_state=0)),
    ]
    blend = VotingRegressor(members, weights=np.array([2.0, 1.0])).fit(X, y)
    parts = explain.contributions(blend, X[:1], None)
    assert (parts.method, parts.exact, parts.unit) == ("blend", False, "value")
    one, two = (explain.contributions(m, X[:1], None) for m in blend.estimators_)
    assert parts.values == pytest.approx(2 / 3 * one.values + 1 / 3 * two.values)
    # Both members decompose their own prediction exactly, so the blend's adds up too.
    assert parts.values.sum() + parts.baseline == pytest.approx(blend.predict(X[:1])[0], rel=1e-4)


def test_the_api_explains_with_explain_true_and_by_default_and_not_with_false(
    alice_client, runs, alice, iris
):
    job, row, _ = job_for(runs, "lgbm", alice, iris)

    def predict(query):
        return alice_client.post(
            f"/api/predict/{job.job_id}{query}", {"features": row}, content_type="application/json"
        )

    from jobs import explain

    explained = predict("?explain=true").json()
    assert len(explained["explanation"]) >= 2
    # By default, while the measured explanations stay within the latency budget.
    typical = model_cache.get(job).explainer.typical_ms
    assert ("explanation" in predict("").json()) == (typical <= explain.DEFAULT_MAX_MS)
    assert "explanation" not in predict("?explain=false").json()
    assert predict("?explain=maybe").status_code in (400, 422)


def test_a_model_without_model_pkl_says_why_it_is_not_explained(alice_client, runs, alice, iris):
    from automl_lite import wiring

    job, row, _ = job_for(runs, "lgbm", alice, iris)
    artifacts = {k: v for k, v in job.artifacts.items() if k != MODEL_PKL}
    job = wiring.job_repository().update(job.job_id, artifacts=artifacts)
    body = services.job_predict(job=job, features=row, explain=True)
    assert body["explanation"] is None
    assert "model.pkl" in body["explanation_info"]["unavailable"]


def test_the_playground_shows_the_explanation_as_a_chart(alice_client, runs, alice, iris):
    job, row, _ = job_for(runs, "lgbm", alice, iris)
    form = {f"f:{k}": "" if v is None else str(v) for k, v in row.items()}
    html = alice_client.post(
        f"/jobs/{job.job_id}/predict/", form, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-testid="explanation"' in html
    assert html.count('class="contrib-fill') == len(row)
    assert "Tree SHAP from the booster" in html


def test_explanations_are_cached_with_the_model(runs, alice, iris):
    job, row, _ = job_for(runs, "lgbm", alice, iris)
    services.job_predict(job=job, features=row, explain=True)
    first = model_cache.get(job).explainer
    services.job_predict(job=job, features=row, explain=True)
    assert model_cache.get(job).explainer is first
    assert len(first.recent_ms) == 2
    model_cache.evict(job.job_id)
    assert np.isfinite(
        services.job_predict(job=job, features=row, explain=True)["explanation"][0]["contribution"]
    )


@pytest.mark.parametrize("name", ["lgbm", "xgboost", "linear"])
def test_the_fast_row_encoder_encodes_as_the_pipeline_does(runs, name):
    from training_image.explain import RowEncoder

    frame, target, _, out = runs[name]
    model = pickle.loads((out / MODEL_PKL).read_bytes())
    encoder = RowEncoder(model)
    rows = frame.drop(columns=[target]).head(40)
    slow = model[:-1].transform(rows)
    for index, row in enumerate(rows.to_dict("records")):
        fast = encoder.encode(row)
        assert fast is not None
        np.testing.assert_allclose(fast[0], slow[index], rtol=1e-6, equal_nan=True)
    # Unseen values and missing ones too.
    odd = {c: None for c in rows.columns}
    np.testing.assert_allclose(
        encoder.encode(odd)[0], model[:-1].transform(pd.DataFrame([odd]))[0], equal_nan=True
    )


def test_a_failing_explanation_never_fails_the_prediction(runs, alice, iris, caplog):
    job, row, _ = job_for(runs, "lgbm", alice, iris)
    services.job_predict(job=job, features=row, explain=True)
    broken = model_cache.get(job).explainer
    broken.encoder = None
    broken.pipeline = None  # as if the pickle held something unusable
    body = services.job_predict(job=job, features=row, explain=True)
    assert body["prediction"] in ("yes", "no")
    assert body["explanation"] is None
    assert "failed" in body["explanation_info"]["unavailable"]
