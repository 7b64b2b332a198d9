"""The standardized logistic regression: the linear learner searched for classification."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.training_image import frames
from training_image import search
from training_image.linear import LEARNER, StandardizedLogisticRegression
from training_image.pipeline import train_frame


@pytest.fixture(scope="module")
def wine_xy():
    # Wine's features differ in scale by four orders of magnitude (proline ~1000, hue ~1).
    df = frames.wine()
    return df.drop(columns="target").to_numpy(), df["target"].to_numpy()


def test_it_learns_what_a_scaled_pipeline_learns_but_takes_raw_features(wine_xy):
    X, y = wine_xy
    scaled = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=5000)).fit(X, y)

    model = StandardizedLogisticRegression(C=0.5, max_iter=5000).fit(X, y)

    assert np.abs(model.predict_proba(X) - scaled.predict_proba(X)).max() < 1e-3
    assert (model.predict(X) == scaled.predict(X)).all()
    # Fitted, it is a plain logistic regression on the raw features (what ONNX converts).
    raw = X @ model.coef_.T + model.intercept_
    assert np.allclose(model.decision_function(X), raw)


def test_its_penalty_is_fair_to_features_in_small_units(wine_xy):
    X, y = wine_xy
    X = X.copy()
    X[:, 9] /= 1000  # colour intensity in thousands: same information, tiny numbers
    plain = LogisticRegression(C=0.05, max_iter=5000).fit(X, y)
    ours = StandardizedLogisticRegression(C=0.05, max_iter=5000).fit(X, y)

    # An unscaled penalty all but zeroes the small-unit feature; ours keeps its weight.
    assert np.abs(plain.coef_[:, 9] * X[:, 9].std()).max() < 0.05
    assert np.abs(ours.coef_[:, 9] * X[:, 9].std()).max() > 0.3
    # Its importance is that standardized weight: colour intensity ranks in the top half.
    assert ours.feature_importances_.sum() == pytest.approx(1)
    assert ours.feature_importances_[9] > np.median(ours.feature_importances_)


def test_it_leaves_a_constant_column_at_zero_weight_and_survives_pickle(wine_xy):
    X, y = wine_xy
    X = np.column_stack([X, np.full(len(X), 7.0)])

    model = pickle.loads(pickle.dumps(StandardizedLogisticRegression(max_iter=5000).fit(X, y)))

    assert np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all()
    assert np.allclose(model.coef_[:, -1], 0.0)
    assert model.score(X, y) > 0.95


def test_it_is_searched_for_classification_on_small_data_only():
    assert LEARNER in search.default_estimators("binary", 500)
    assert LEARNER in search.default_estimators("multiclass", search.LARGE_ROWS)
    assert LEARNER not in search.default_estimators("binary", search.LARGE_ROWS + 1)
    assert LEARNER not in search.default_estimators("regression", 500)
    assert "lassolars" in search.default_estimators("regression", 500)


def test_it_wins_on_breast_cancer_and_exports_to_onnx():
    result = train_frame(
        frames.breast_cancer(), "target", estimators=[LEARNER], time_budget=3, n_jobs=1
    )

    onnx = result.evaluation["onnx"]
    assert result.metrics["best_estimator"] == LEARNER
    assert result.evaluation["test_metrics"]["roc_auc"] > 0.99
    assert onnx["available"] is True, onnx["reason"]
    assert onnx["max_abs_diff"] < 1e-4
    importance = result.evaluation["feature_importance"]
    assert len(importance) == 30
    assert sum(f["importance"] for f in importance) == pytest.approx(1, abs=1e-4)
    assert importance[0]["importance"] > importance[-1]["importance"]


def test_it_classifies_string_labels_of_three_classes_with_onnx():
    result = train_frame(frames.iris(), "species", estimators=[LEARNER], time_budget=3, n_jobs=1)

    onnx = result.evaluation["onnx"]
    rows = frames.iris().drop(columns="species").head(3)
    assert set(result.model.predict(rows)) <= {"setosa", "versicolor", "virginica"}
    assert result.evaluation["test_metrics"]["accuracy"] > 0.9
    assert onnx["available"] is True, onnx["reason"]
    assert onnx["label_agreement"] == 1.0
