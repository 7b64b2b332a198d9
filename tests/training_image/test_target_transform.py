"""The log(1 + y) target: chosen by a quick check in y's units, saved as scikit-learn's own
wrapper, converted to ONNX with its Exp, explained and ranked through its inner learner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMRegressor
from sklearn.datasets import load_diabetes

from training_image import explain, export, preprocess
from training_image import target_transform as tt
from training_image.data import normalise_frame, profile_frame
from training_image.evaluate import feature_importance


def price_frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Prices that multiply: log-normal, spread over two orders of magnitude."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "grade": rng.choice(["a", "b", "c"], n),
            "age": rng.gamma(2, 2, n),
        }
    )
    log_price = 1 + frame["size"] + (frame["grade"] == "a") * 0.7 + 0.1 * frame["age"]
    frame["price"] = np.exp(log_price + rng.normal(0, 0.3, n)) * 1000
    return normalise_frame(frame)


def fitted(frame: pd.DataFrame, target: str, model):
    plan = preprocess.plan_features(frame, target, profile_frame(frame), [])
    X = frame[plan.columns]
    result = preprocess.fit_pipeline(plan.features, X, frame[target].to_numpy(), model)
    export.align_lightgbm_thresholds(result.pipeline.named_steps["model"])
    return result, X


def test_a_skewed_price_is_learnt_on_the_log_scale_when_the_check_says_it_helps():
    frame = price_frame()
    encoded = fitted(frame, "price", LGBMRegressor(n_estimators=10, verbose=-1))[0].encoded
    choice = tt.choose(encoded, frame["price"].to_numpy(), seed=0)
    assert choice.transform == tt.LOG1P
    assert choice.r2_log >= choice.r2_raw + tt.MIN_GAIN
    assert "right-skewed" in choice.reason


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("symmetric", "not right-skewed"),
        ("negative", "negative values"),
    ],
)
def test_no_log_for_a_symmetric_or_negative_target(target, why):
    data = load_diabetes(as_frame=True).frame
    y = data["target"].to_numpy()
    if target == "negative":
        y = y - 200
    choice = tt.choose(data.drop(columns=["target"]).to_numpy(), y, seed=0)
    assert choice.transform is None and why in choice.reason


def test_the_check_keeps_y_when_the_log_does_not_win():
    # Skewed, but a step plus additive noise: on the log scale the noise of the many small
    # values weighs as much as the step, and the fit in y's units gets worse.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 3))
    y = (X[:, 0] > 1) * 1000 + np.abs(rng.normal(0, 50, 3000))
    choice = tt.choose(X, y, seed=0)
    assert tt.skewness(y) > tt.MIN_SKEW
    assert choice.transform is None and "did not help" in choice.reason


def test_the_wrapped_model_predicts_in_y_units_and_onnx_matches_it():
    frame = price_frame()
    result, X = fitted(frame, "price", tt.wrap(LGBMRegressor(n_estimators=80, verbose=-1), "log1p"))
    model = result.pipeline.named_steps["model"]
    assert tt.is_log_target(model) and preprocess.learner(model) is model.regressor_
    predicted = result.pipeline.predict(X.head(200))
    # The inner booster predicts log(1 + y); the saved model gives y back.
    inner = model.regressor_.predict(result.encoded[:200])
    assert predicted == pytest.approx(np.expm1(inner), rel=1e-9)
    onnx = export.export_onnx(result.pipeline, X.head(500), classification=False)
    assert onnx.model is not None, onnx.info
    assert onnx.info["max_abs_diff"] <= export.ONNX_TOLERANCE * float(predicted.max()) * 10
    # Importance and explanations go through the inner learner; the unit says the scale.
    ranked = feature_importance(model, result.sources)
    assert ranked[0]["feature"] == "size"
    found = explain.contributions(model, result.encoded[:1], None)
    assert found.method == "tree_shap" and found.unit == "log(1 + value)"
    assert found.baseline + found.values.sum() == pytest.approx(inner[0], rel=1e-5)


def test_no_transform_leaves_the_regressor_as_it_is():
    regressor = LGBMRegressor()
    assert tt.wrap(regressor, None) is regressor


@pytest.mark.slow
def test_a_training_run_learns_a_skewed_price_on_the_log_scale_and_ships_it(tmp_path):
    import pickle

    import onnxruntime as ort

    from training_image.pipeline import train_frame

    frame = price_frame(1500)
    train, test = frame.iloc[:1200], frame.iloc[1200:]
    result = train_frame(train, "price", time_budget=8, n_jobs=1, reports=False, out_dir=tmp_path)
    plain = train_frame(train, "price", time_budget=8, n_jobs=1, reports=False, log_target=False)
    chosen = result.evaluation["target_transform"]
    assert chosen["transform"] == "log1p" and chosen["r2_log"] > chosen["r2_raw"]
    assert plain.evaluation["target_transform"]["transform"] is None
    rows = test.drop(columns=["price"])
    y = test["price"].to_numpy()

    def r2(predicted):
        return 1 - ((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum()

    # Scored in the price's own units, the log scale wins on rows neither run saw.
    assert r2(result.model.predict(rows)) > r2(plain.model.predict(rows))
    shipped = pickle.loads((tmp_path / "model.pkl").read_bytes())
    assert shipped.predict(rows) == pytest.approx(result.model.predict(rows), rel=1e-9)
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    feed = export.onnx_feed(shipped.named_steps["prepare"].transform(rows))
    onnx = session.run(None, feed)[0].ravel()
    assert onnx == pytest.approx(shipped.predict(rows), rel=1e-4)
