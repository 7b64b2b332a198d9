"""The quality benchmark's split, scoring, dataset reading and one real run on iris."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from bench import quality
from tests.conftest import shared_datasets


def iris_frame() -> pd.DataFrame:
    bunch = load_iris(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = frame["target"].map(dict(enumerate(bunch.target_names)))
    return frame


def test_it_splits_75_25_stratified_and_repeatably():
    frame = iris_frame()

    train, test = quality.outer_split(frame, "target", "multiclass")
    again, _ = quality.outer_split(frame, "target", "multiclass")

    assert (len(train), len(test)) == (112, 38)
    assert list(train.index) == list(again.index)
    assert test["target"].value_counts().min() >= 12


def test_it_scores_binary_with_the_probability_of_the_named_positive_label():
    y = pd.Series(["no", "yes", "no", "yes"])

    perfect = quality.score("binary", y, positive_proba=[0.1, 0.9, 0.2, 0.8], positive_label="yes")
    reversed_ = quality.score("binary", y, positive_proba=[0.1, 0.9, 0.2, 0.8], positive_label="no")

    assert perfect == 1.0
    assert reversed_ == 0.0


def test_it_rejects_a_positive_label_that_is_not_in_the_data():
    y = pd.Series([0, 1, 0, 1])

    with pytest.raises(ValueError, match="Positive label '1' never occurs"):
        quality.score("binary", y, positive_proba=[0.1, 0.9, 0.2, 0.8], positive_label="1")


def test_it_rejects_predicted_labels_of_another_type():
    with pytest.raises(ValueError, match="label types differ"):
        quality.score("multiclass", pd.Series([1, 2, 3]), predicted=["1", "2", "3"])


def test_it_scores_multiclass_accuracy_and_regression_r2():
    assert quality.score("multiclass", pd.Series(["a", "b", "c", "a"]), predicted=list("abca")) == 1
    y = pd.Series([1.0, 2.0, 3.0, 4.0])
    assert quality.score("regression", y, predicted=np.full(4, 2.5)) == 0.0


def test_it_summarizes_differences_losses_and_the_worst_overrun():
    rows = [
        {
            "dataset": "a",
            "ours": {"score": 0.9, "overrun": 0.5},
            "reference": {"score": 0.8},
            "diff_reference": 0.1,
        },
        {
            "dataset": "b",
            "ours": {"score": 0.7, "overrun": 1.2},
            "reference": {"score": 0.75},
            "diff_reference": -0.05,
        },
        {"dataset": "c", "ours": {"score": None, "error": "boom"}, "reference": {"score": 0.5}},
    ]

    summary = quality.summarize(rows, ["ours", "reference"])

    assert summary["mean_diff_reference"] == pytest.approx(0.025)
    assert summary["losses_reference"] == [{"dataset": "b", "diff": -0.05}]
    assert summary["worst_overrun"] == {"dataset": "b", "ratio": 1.2}
    assert summary["failures"] == [{"dataset": "c", "side": "ours", "error": "boom"}]


@pytest.mark.extended
def test_it_reads_each_dataset_as_the_manifest_says():
    datasets = shared_datasets()
    entries = {e["name"]: e for e in quality.load_manifest(datasets)}

    wine = quality.read_dataset(entries["wine_quality_white"], datasets)
    bikes = quality.read_dataset(entries["bike_sharing_hour"], datasets)
    churn = quality.read_dataset(entries["telco_customer_churn"], datasets)

    assert not any(e["awkward"] for e in entries.values())
    assert wine.shape == (4898, 12)
    assert {"casual", "registered"}.isdisjoint(bikes.columns)
    assert bikes.shape == (17379, 15)
    assert churn["TotalCharges"].isna().sum() == 11  # " " is a missing value there


@pytest.mark.slow
def test_it_runs_ours_and_the_reference_on_iris():
    row = quality.run_dataset(
        iris_frame(), name="iris", target="target", task="multiclass", budget=2
    )

    for side in ("ours", "reference"):
        assert row[side].get("error") is None, row[side].get("error")
        assert 0.8 <= row[side]["score"] <= 1.0
        assert row[side]["seconds"] > 0
    assert row["diff_reference"] == pytest.approx(row["ours"]["score"] - row["reference"]["score"])
    assert row["ours"]["overrun"] == pytest.approx(row["ours"]["seconds"] / 2)


def test_it_keeps_partial_runs_from_overwriting_the_full_table():
    assert quality.results_name(60) == "quality-60.json"
    assert quality.results_name(10, "penguins, iris") == "quality-10-only-iris+penguins.json"
    assert (
        quality.results_name(60, sides=["ours", "autogluon"])
        == "quality-60-sides-ours+autogluon.json"
    )
    assert quality.results_name(60, sides=["ours", "reference", "autogluon"]) == "quality-60.json"


def test_it_rejects_unknown_sides_and_adds_autogluon_on_request(capsys):
    with pytest.raises(SystemExit):
        quality.parse_args(["--sides", "ours,gluon"])
    assert "gluon" in capsys.readouterr().err

    assert quality.parse_args(["--sides", "ours", "--autogluon"]).sides == ["ours", "autogluon"]
    assert quality.parse_args([]).sides == ["ours", "reference"]
