"""The numpy metrics against scikit-learn's definitions, on real models' predictions.

Training and validation score with `training_image.metrics` (numpy only, so the web's workers
can too); these tests hold it to scikit-learn's numbers, ties and edge cases included.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as m
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training_image import metrics

TOL = 1e-12


def _fitted_proba(loader):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(X_train, y_train)
    return y_test, model.predict_proba(X_test)


@pytest.fixture(scope="module")
def binary():
    return _fitted_proba(load_breast_cancer)


@pytest.fixture(scope="module")
def multiclass():
    return _fitted_proba(load_wine)


def _sklearn_classification(y, proba, binary):
    labels = np.arange(proba.shape[1])
    predicted = np.argmax(proba, axis=1)
    average = "binary" if binary else "macro"
    kwargs = {"labels": None if binary else labels, "zero_division": 0}
    return {
        "accuracy": m.accuracy_score(y, predicted),
        "balanced_accuracy": m.balanced_accuracy_score(y, predicted),
        "f1_macro": m.f1_score(y, predicted, average="macro", labels=labels, zero_division=0),
        "f1_weighted": m.f1_score(y, predicted, average="weighted", labels=labels, zero_division=0),
        "precision": m.precision_score(y, predicted, average=average, **kwargs),
        "recall": m.recall_score(y, predicted, average=average, **kwargs),
        "log_loss": m.log_loss(y, metrics.normalised(proba), labels=labels),
        "roc_auc": m.roc_auc_score(y, proba[:, 1])
        if binary
        else m.roc_auc_score(y, proba, multi_class="ovr", labels=labels),
    }


@pytest.mark.parametrize("case", ["binary", "multiclass"])
def test_classification_metrics_match_sklearn(case, request):
    y, proba = request.getfixturevalue(case)
    ours = metrics.classification_metrics(y, proba, binary=case == "binary")
    expected = _sklearn_classification(y, proba, case == "binary")
    assert ours.keys() == expected.keys()
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=TOL), name


def test_scores_with_ties_and_coarse_probabilities_match_sklearn(binary):
    y, proba = binary
    # Rounded probabilities make many ties: AUC counts a tie half, AP groups a threshold.
    coarse = np.round(proba, 1)
    coarse = coarse / coarse.sum(axis=1, keepdims=True)
    assert metrics.score("roc_auc", y, coarse) == pytest.approx(
        m.roc_auc_score(y, coarse[:, 1]), abs=TOL
    )
    assert metrics.score("ap", y, coarse) == pytest.approx(
        m.average_precision_score(y, coarse[:, 1]), abs=TOL
    )
    assert metrics.score("f1", y, coarse) == pytest.approx(
        m.f1_score(y, np.argmax(coarse, axis=1)), abs=TOL
    )


def test_multiclass_scores_match_sklearn(multiclass):
    y, proba = multiclass
    labels = np.arange(proba.shape[1])
    assert metrics.score("roc_auc_ovr", y, proba) == pytest.approx(
        m.roc_auc_score(y, proba, multi_class="ovr", labels=labels), abs=TOL
    )
    assert metrics.score("f1_macro", y, proba) == pytest.approx(
        m.f1_score(y, np.argmax(proba, axis=1), average="macro"), abs=TOL
    )


def test_a_class_absent_from_the_rows_leaves_roc_auc_out_and_counts_zero_f1(multiclass):
    y, proba = multiclass
    rows = y != 2  # the third class never occurs, but the model still predicts it sometimes
    ours = metrics.classification_metrics(y[rows], proba[rows], binary=False)
    assert "roc_auc" not in ours
    expected = _sklearn_classification(y[rows], proba[rows], False)
    for name in ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "precision"):
        assert ours[name] == pytest.approx(expected[name], abs=TOL), name
    with pytest.raises(ValueError, match="one class"):
        metrics.score("roc_auc", np.zeros(5, dtype=int), np.full((5, 2), 0.5))


def test_regression_metrics_match_sklearn():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    predicted = LinearRegression().fit(X_train, y_train).predict(X_test)
    ours = metrics.regression_metrics(y_test, predicted)
    assert ours["r2"] == pytest.approx(m.r2_score(y_test, predicted), abs=TOL)
    assert ours["rmse"] == pytest.approx(np.sqrt(m.mean_squared_error(y_test, predicted)), abs=TOL)
    assert ours["mae"] == pytest.approx(m.mean_absolute_error(y_test, predicted), abs=TOL)
    assert ours["mape"] == pytest.approx(
        m.mean_absolute_percentage_error(y_test, predicted), abs=TOL
    )


def test_a_constant_target_scores_like_sklearn():
    y = np.full(10, 3.0)
    assert metrics.score("r2", y, y) == m.r2_score(y, y) == 1.0
    assert metrics.score("r2", y, y + 1) == m.r2_score(y, y + 1) == 0.0


def test_an_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.score("gini", [0, 1], np.eye(2))
