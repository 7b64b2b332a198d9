"""The EDA and training reports: sections, escaping, no external loads, sampling, absent keys.

Frames are sklearn's iris / breast_cancer / diabetes; evaluation dicts are built from a real
sklearn model on them, in the shape `training_image.evaluate` produces.
"""

from __future__ import annotations

import copy
import functools
import re

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training_image.detection import ColumnProfile, Family, column_kind
from training_image.report import SAMPLE_ROWS, eda_report, training_report

HOSTILE = "<script>alert(1)</script>"
QUOTES = "\"&'"


# --------------------------------------------------------------------------- builders


def _family(s: pd.Series) -> Family:
    if s.notna().sum() == 0:
        return Family.EMPTY
    if pd.api.types.is_bool_dtype(s):
        return Family.BOOLEAN
    if pd.api.types.is_integer_dtype(s):
        return Family.INTEGER
    if pd.api.types.is_float_dtype(s):
        return Family.FLOAT
    if pd.api.types.is_datetime64_any_dtype(s):
        return Family.DATETIME
    return Family.STRING


def profiles_of(df: pd.DataFrame) -> list[ColumnProfile]:
    out = []
    for name in df.columns:
        s = df[name]
        present = s.dropna()
        out.append(
            ColumnProfile(
                name=str(name),
                family=_family(s),
                n_rows=len(s),
                n_unique=int(present.nunique()),
                n_missing=int(s.isna().sum()),
                sample_values=[str(v) for v in present.head(20)],
                mean_length=float(present.astype(str).str.len().mean()) if len(present) else None,
            )
        )
    return out


def eda_inputs(df: pd.DataFrame):
    profiles = profiles_of(df)
    return profiles, {p.name: str(column_kind(p)) for p in profiles}


def iris_frame() -> pd.DataFrame:
    df = load_iris(as_frame=True).frame
    df["target"] = df["target"].map(dict(enumerate(load_iris().target_names)))
    return df


def _common(problem_type: str, metric: str, label: str, feature_names, importances) -> dict:
    order = np.argsort(-np.abs(importances))
    return {
        "problem_type": problem_type,
        "metric": metric,
        "metric_label": label,
        "best_estimator": "lgbm",
        "best_config": {"n_estimators": 120, "learning_rate": 0.0812, "num_leaves": 15},
        "leaderboard": [
            {"estimator": "rf", "best_score": 0.9, "trials": 6, "time": 1.4},
            {"estimator": "lgbm", "best_score": 0.95, "trials": 14, "time": 2.1},
            {"estimator": "xgboost", "best_score": 0.93, "trials": 9, "time": 1.9},
        ],
        "feature_importance": [
            {"feature": str(feature_names[i]), "importance": float(abs(importances[i]))}
            for i in order
        ],
        "leakage_warnings": [],
        "onnx": {"available": True, "max_abs_diff": 3.1e-08, "reason": None},
        "split": {
            "train_rows": 400,
            "test_rows": 100,
            "validation": "5-fold cross-validation",
            "folds": 5,
        },
        "dropped_columns": [
            {"column": "row_id", "reason": "identifier: unique per row, carries no signal"}
        ],
        "target_missing_dropped": 0,
        "timeline": {"loading": 0.1, "profiling": 0.2, "searching": 4.2, "evaluating": 0.3},
        "search_history": [
            {
                "time": 0.2 * i,
                "trial": i,
                "estimator": "lgbm",
                "score": 0.85 + 0.1 * (1 - 1 / (i + 1)) - 0.04 * (i % 3),
            }
            for i in range(20)
        ],
    }


def binary_evaluation() -> dict:
    return copy.deepcopy(_binary_evaluation())


@functools.cache
def _binary_evaluation() -> dict:
    data = load_breast_cancer(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x_train, y_train)
    proba = model.predict_proba(x_test)[:, 1]
    pred = model.predict(x_test)
    fpr, tpr, _ = metrics.roc_curve(y_test, proba)
    precision, recall, _ = metrics.precision_recall_curve(y_test, proba)
    names = data.target_names
    report = metrics.precision_recall_fscore_support(y_test, pred)
    ev = _common("binary", "roc_auc", "ROC AUC", data.data.columns, model[-1].coef_[0])
    ev.update(
        validation_score=0.9912,
        test_metrics={
            "roc_auc": metrics.roc_auc_score(y_test, proba),
            "accuracy": metrics.accuracy_score(y_test, pred),
            "f1": metrics.f1_score(y_test, pred),
            "log_loss": metrics.log_loss(y_test, proba),
        },
        baseline={
            "name": "majority class",
            "metrics": {"roc_auc": 0.5, "accuracy": 0.6294, "log_loss": 0.66},
        },
        confusion_matrix={
            "labels": [str(n) for n in names],
            "matrix": metrics.confusion_matrix(y_test, pred).tolist(),
        },
        roc_curve={"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": metrics.auc(fpr, tpr)},
        pr_curve={
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "ap": metrics.average_precision_score(y_test, proba),
        },
        per_class=[
            {
                "label": str(names[i]),
                "precision": report[0][i],
                "recall": report[1][i],
                "f1": report[2][i],
                "support": int(report[3][i]),
            }
            for i in range(2)
        ],
    )
    return ev


def multiclass_evaluation() -> dict:
    df = iris_frame()
    features = df.columns[:-1]
    x_train, x_test, y_train, y_test = train_test_split(
        df[features], df["target"], test_size=0.3, random_state=0, stratify=df["target"]
    )
    model = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    pred = model.predict(x_test)
    labels = list(model.classes_)
    ev = _common("multiclass", "accuracy", "Accuracy", features, model.coef_[0])
    ev.update(
        validation_score=0.9619,
        test_metrics={
            "accuracy": metrics.accuracy_score(y_test, pred),
            "balanced_accuracy": metrics.balanced_accuracy_score(y_test, pred),
            "f1_macro": metrics.f1_score(y_test, pred, average="macro"),
        },
        baseline={"name": "majority class", "metrics": {"accuracy": 1 / 3}},
        confusion_matrix={
            "labels": labels,
            "matrix": metrics.confusion_matrix(y_test, pred, labels=labels).tolist(),
        },
        per_class=[
            {"label": c, "precision": 1.0, "recall": 0.9, "f1": 0.95, "support": 15} for c in labels
        ],
    )
    return ev


def regression_evaluation() -> dict:
    data = load_diabetes(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=0
    )
    model = Ridge(alpha=0.1).fit(x_train, y_train)
    pred = model.predict(x_test)
    ev = _common("regression", "r2", "R²", data.data.columns, model.coef_)
    for row in ev["leaderboard"]:
        row["best_score"] -= 0.5
    ev.update(
        validation_score=0.4711,
        test_metrics={
            "r2": metrics.r2_score(y_test, pred),
            "rmse": metrics.root_mean_squared_error(y_test, pred),
            "mae": metrics.mean_absolute_error(y_test, pred),
        },
        baseline={"name": "mean", "metrics": {"r2": -0.01, "rmse": 75.3, "mae": 64.0}},
        residuals={"predicted": pred.tolist(), "actual": y_test.tolist()},
    )
    return ev


def card_for(problem_type: str, features: list[dict], classes=None) -> dict:
    card = {
        "job_id": "job-42",
        "problem_type": problem_type,
        "target": "target",
        "features": features,
        "metrics": {},
        "seed": 42,
        "data_sha256": "ab" * 32,
        "library_versions": {"flaml": "2.7.0", "scikit-learn": "1.9.1"},
        "created_at": "2026-01-02T03:04:05Z",
    }
    if classes:
        card["classes"] = classes
        card["label_mapping"] = {str(i): c for i, c in enumerate(classes)}
    return card


# --------------------------------------------------------------------------- helpers


def section_ids(page: str) -> set[str]:
    return set(re.findall(r'<section class="card" id="([a-z-]+)"', page))


def assert_self_contained(page: str) -> None:
    for pattern in (r"src\s*=", r"@import", r"<link\b", r"<script\b"):
        assert not re.search(pattern, page, re.IGNORECASE), pattern
    for ref in re.findall(r'(?:href\s*=\s*"([^"]*)"|url\(([^)]*)\))', page):
        value = "".join(ref).strip()
        assert not re.match(r"(https?:)?//", value), value
    assert "http://" not in page and "https://" not in page


# --------------------------------------------------------------------------- EDA


def test_it_rejects_a_target_that_is_not_a_column():
    df = iris_frame()
    profiles, kinds = eda_inputs(df)
    with pytest.raises(ValueError, match="'species' is not in the data"):
        eda_report(df, "species", profiles, kinds)


def test_it_renders_the_eda_sections_for_a_multiclass_frame():
    df = iris_frame()
    page = eda_report(df, "target", *eda_inputs(df))
    assert section_ids(page) == {"overview", "warnings", "target", "correlations", "columns"}
    assert "Multiclass classification" in page
    assert "150" in page and "petal length (cm)" in page
    assert "setosa" in page and "50 · 33.3%" in page  # class counts with their share
    assert "Correlation ratio η" in page
    assert page.count('<div class="col">') == 5
    assert "random sample" not in page
    assert_self_contained(page)


def test_it_correlates_numeric_features_with_a_binary_target():
    df = load_breast_cancer(as_frame=True).frame
    page = eda_report(df, "target", *eda_inputs(df))
    assert "Binary classification" in page
    assert "Pearson correlation with the target coded 1" in page
    # "worst concave points" is the strongest single correlate (r ≈ -0.79).
    corr = page.split('id="correlations"')[1].split("</section>")[0]
    assert corr.index("worst concave points") < corr.index("mean radius")
    assert "-0.79" in corr


def test_it_shows_regression_target_statistics():
    df = load_diabetes(as_frame=True).frame
    page = eda_report(df, "target", *eda_inputs(df))
    assert "Regression" in page
    target = page.split('id="target"')[1].split("</section>")[0]
    assert "median" in target and "<svg" in target
    assert "Pearson correlation between each numeric feature and the target." in page


def test_it_escapes_hostile_column_names_and_values():
    df = iris_frame()
    df[HOSTILE] = np.where(df.index % 2, HOSTILE, QUOTES)
    df["colour" + QUOTES] = np.where(df.index % 3, "red", "<b>blue</b>")
    page = eda_report(df, "target", *eda_inputs(df))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&amp;&#x27;" in page
    assert "<b>blue</b>" not in page and "&lt;b&gt;blue&lt;/b&gt;" in page


def test_it_warns_about_leakage_ids_constants_and_missing_values():
    df = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(0)
    df["leaky"] = df["target"] * 10 + rng.normal(0, 0.1, len(df))
    df["customer_id"] = np.arange(len(df))
    df["constant"] = 1.0
    df["sparse"] = np.where(rng.random(len(df)) < 0.6, np.nan, 1.5 + rng.random(len(df)))
    df["city"] = [f"city {i % 80}" for i in range(len(df))]
    profiles, kinds = eda_inputs(df)
    page = eda_report(df, "target", profiles, kinds)
    warnings = page.split('id="warnings"')[1].split("</section>")[0]
    assert "possible leakage" in warnings and "leaky" in warnings
    assert "worst perimeter" not in warnings  # strong but honest features are not leakage
    assert "customer_id" in warnings and "identifier" in warnings
    assert "constant" in warnings
    assert "high missing" in warnings and "sparse" in warnings
    assert "high cardinality" in warnings and "80 distinct values" in warnings


def test_it_samples_a_large_frame_and_says_so():
    rng = np.random.default_rng(1)
    n = SAMPLE_ROWS + 10_000
    df = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, n),
            "segment": rng.choice(["a", "b", "c"], n),
            "when": pd.date_range("2020-01-01", periods=n, freq="h").astype(str),
            "target": rng.integers(0, 2, n),
        }
    )
    profiles, kinds = eda_inputs(df)
    kinds["when"] = "datetime"
    page = eda_report(df, "target", profiles, kinds)
    assert f"random sample of {SAMPLE_ROWS:,} rows" in page
    assert f"{n:,}" in page  # the row count is over every row
    assert "2020-01-01" in page  # the datetime card shows its range
    assert_self_contained(page)


def test_it_does_not_sample_at_the_threshold():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x": rng.normal(size=SAMPLE_ROWS), "target": rng.normal(size=SAMPLE_ROWS)})
    page = eda_report(df, "target", *eda_inputs(df))
    assert "random sample" not in page


# --------------------------------------------------------------------------- training report


def test_it_renders_a_binary_training_report():
    ev = binary_evaluation()
    card = card_for(
        "binary",
        [{"name": "mean radius", "kind": "numeric", "dtype": "float64", "min": 6.98, "max": 28.1}],
        ["malignant", "benign"],
    )
    page = training_report(card, ev)
    assert {
        "summary",
        "leaderboard",
        "importance",
        "confusion",
        "curves",
        "history",
        "data",
        "dropped",
        "onnx",
        "card",
    } <= section_ids(page)
    assert "residuals" not in section_ids(page) and "leakage" not in section_ids(page)
    confusion = page.split('id="confusion"')[1].split("</section>")[0]
    assert "<th>Precision</th>" not in confusion  # numeric headers are right-aligned cells
    assert ">Precision</th>" in confusion and ">Support</th>" in confusion
    assert f"{ev['test_metrics']['accuracy']:.4f}" in page
    assert f"AUC {ev['roc_curve']['auc']:.4f}" in page
    assert "6.98 to 28.1" in page
    assert "malignant" in page and "ab" * 32 in page
    ev["warnings"] = ["No time was left to refit on all rows; the model uses 80 % of them."]
    assert "No time was left to refit on all rows" in training_report(card, ev)
    assert_self_contained(page)


def test_it_names_the_learners_and_the_ensembles_members_in_the_leaderboard():
    ev = binary_evaluation()
    ev["best_estimator"] = "ensemble"
    ev["leaderboard"].insert(
        0,
        {
            "estimator": "ensemble",
            "best_score": 0.96,
            "trials": 1,
            "time": 0.2,
            "members": {"lgbm": 2, "lrl2": 1},
        },
    )
    ev["leaderboard"].append({"estimator": "some_new_learner", "best_score": 0.5, "trials": 1})

    page = training_report(card_for("binary", [], ["no", "yes"]), ev)

    board = page.split('id="leaderboard"')[1].split("</section>")[0]
    assert "Ensemble (LightGBM ×2, Logistic regression (L2) ×1)" in board
    assert ">Random forest<" in board and ">XGBoost<" in board
    assert "some_new_learner" in board  # an unknown learner keeps its own name
    assert ">lgbm<" not in board


def test_it_renders_a_multiclass_training_report():
    ev = multiclass_evaluation()
    classes = ev["confusion_matrix"]["labels"]
    card = card_for(
        "multiclass",
        [
            {
                "name": "sepal width (cm)",
                "kind": "numeric",
                "dtype": "float64",
                "min": 2.0,
                "max": 4.4,
            }
        ],
        classes,
    )
    page = training_report(card, ev)
    ids = section_ids(page)
    assert {"summary", "confusion", "leaderboard"} <= ids
    assert not {"curves", "residuals", "per-class"} & ids  # per-class sits beside the matrix
    assert "Multiclass classification" in page
    assert f"{ev['test_metrics']['accuracy']:.4f}" in page
    assert "Balanced accuracy" in page and "0.3333" in page  # baseline column
    assert "virginica" in page


def test_it_renders_a_regression_training_report():
    ev = regression_evaluation()
    card = card_for(
        "regression",
        [{"name": "bmi", "kind": "numeric", "dtype": "float64", "min": -0.09, "max": 0.17}],
    )
    page = training_report(card, ev)
    ids = section_ids(page)
    assert {"summary", "residuals", "importance", "history"} <= ids
    assert not {"confusion", "curves", "per-class"} & ids
    assert f"{ev['test_metrics']['r2']:.4f}" in page
    assert "Predicted vs actual" in page and "Residuals vs predicted" in page
    assert page.count("<circle") >= 2 * len(ev["residuals"]["predicted"])


def test_it_marks_a_metric_worse_than_the_baseline():
    ev = regression_evaluation()
    ev["baseline"]["metrics"]["rmse"] = 1.0  # lower is better: the model loses here
    page = training_report({}, ev)
    rmse_row = page.split("<td>RMSE</td>")[1].split("</tr>")[0]
    assert "not better" in rmse_row and f"+{ev['test_metrics']['rmse'] - 1:.4f}" in rmse_row
    mae_row = page.split("<td>MAE</td>")[1].split("</tr>")[0]
    assert "−" in mae_row and "not better" not in mae_row  # lower MAE than the baseline wins
    r2_row = page.split("<td>R²</td>")[1].split("</tr>")[0]
    assert "better" in r2_row and "not better" not in r2_row


def test_it_omits_sections_whose_keys_are_absent():
    page = training_report(
        {}, {"problem_type": "binary", "metric": "roc_auc", "test_metrics": {"roc_auc": 0.91}}
    )
    assert section_ids(page) == {"summary"}
    assert "0.9100" in page
    assert section_ids(training_report({}, {})) <= {"summary"}
    one_trial = [{"time": 1.2, "trial": 1, "estimator": "rf", "score": 0.9}]
    assert "history" not in section_ids(training_report({}, {"search_history": one_trial}))
    per_class = [{"label": "a", "precision": 0.5, "recall": 0.25, "f1": 0.3333, "support": 4}]
    page = training_report({}, {"problem_type": "multiclass", "per_class": per_class})
    assert {"per-class"} <= section_ids(page) and "confusion" not in section_ids(page)
    assert "0.2500" in page


def test_it_escapes_hostile_values_in_the_training_report():
    ev = binary_evaluation()
    ev["feature_importance"].insert(0, {"feature": HOSTILE, "importance": 9.0})
    ev["confusion_matrix"]["labels"] = [HOSTILE, QUOTES]
    ev["leakage_warnings"] = [
        {"feature": HOSTILE, "score": 0.999, "message": "predicts <i>the</i> target alone"}
    ]
    ev["dropped_columns"] = [{"column": HOSTILE, "reason": "constant: a single value (or empty)"}]
    card = card_for(
        "binary",
        [
            {
                "name": HOSTILE,
                "kind": "categorical",
                "dtype": "object",
                "allowed_values": [HOSTILE, QUOTES],
            }
        ],
        [HOSTILE, QUOTES],
    )
    page = training_report(card, ev)
    assert "<script>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&amp;&#x27;" in page
    assert "leakage" in section_ids(page)
    assert_self_contained(page)


def test_it_reports_a_missing_onnx_model():
    ev = binary_evaluation()
    ev["onnx"] = {
        "available": False,
        "max_abs_diff": None,
        "reason": "custom text transformer has no converter",
    }
    page = training_report({}, ev)
    onnx = page.split('id="onnx"')[1].split("</section>")[0]
    assert "No ONNX model: custom text transformer has no converter." in onnx
