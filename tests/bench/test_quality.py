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


def run(score, seconds=10.0):
    """One made-up worker result."""
    return {"score": score, "seconds": seconds}


def failed(error="boom"):
    return {"score": None, "error": error}


def test_it_uses_fixed_split_seeds_and_each_seed_gives_another_split():
    frame = iris_frame()

    first, _ = quality.outer_split(frame, "target", "multiclass", seed=0)
    second, second_test = quality.outer_split(frame, "target", "multiclass", seed=1)

    assert quality.split_seeds(3) == [0, 1, 2]
    assert list(first.index) != list(second.index)
    assert second_test["target"].value_counts().min() >= 12


def test_side_stats_gives_the_mean_spread_repeat_spread_and_wall_clock():
    split_runs = [
        [run(0.80, 12.0), run(0.84, 14.0)],  # split mean 0.82, repeat spread 0.04
        [run(0.90, 30.0), run(0.90, 9.0)],
        [run(0.86, 10.0), failed()],  # one repeat failed: the split's score is the other
    ]

    stats = quality.side_stats(split_runs, budget=20)

    assert stats["scores"] == pytest.approx([0.82, 0.90, 0.86])
    assert stats["mean"] == pytest.approx(0.86)
    assert (stats["min"], stats["max"]) == pytest.approx((0.82, 0.90))
    assert stats["range"] == pytest.approx(0.08)
    assert stats["std"] == pytest.approx(np.std([0.82, 0.90, 0.86]))
    assert stats["repeat_spread"] == pytest.approx(0.04)
    assert stats["seconds"] == pytest.approx(15.0)
    assert stats["worst_ratio"] == pytest.approx(1.5)
    assert stats["errors"] == ["boom"]


def test_side_stats_has_no_repeat_spread_with_one_run_per_split_and_no_mean_when_all_failed():
    single = quality.side_stats([[run(0.7)], [run(0.9)]], budget=10)
    broken = quality.side_stats([[failed("a")], [failed("b")]], budget=10)

    assert single["repeat_spread"] is None
    assert single["range"] == pytest.approx(0.2)
    assert broken["mean"] is None
    assert broken["scores"] == [None, None]
    assert broken["seconds"] is None
    assert broken["errors"] == ["a", "b"]


def split_row(seed, **scores):
    return {"seed": seed, "runs": {side: [run(value)] for side, value in scores.items()}}


SIDES3 = ["ours", "reference", "autogluon"]


def made_up_rows():
    """Two datasets, two splits each: `a` misses the AutoGluon bar, `b` is just on it."""
    rows = []
    for name, splits in {
        "a": [
            split_row(0, ours=0.80, reference=0.78, autogluon=0.81),
            split_row(1, ours=0.82, reference=0.80, autogluon=0.83),
        ],
        "b": [
            split_row(0, ours=0.900, reference=0.85, autogluon=0.905),
            split_row(1, ours=0.950, reference=0.95, autogluon=0.955),
        ],
    }.items():
        rows.append(
            {"dataset": name, "splits": splits, **quality.aggregate_dataset(splits, SIDES3, 20)}
        )
    return rows


def test_it_pairs_differences_per_split_and_judges_the_dataset_bar():
    a, b = made_up_rows()

    assert a["diff_reference"] == pytest.approx(0.02)
    assert a["diff_autogluon"] == pytest.approx(-0.01)
    assert a["meets_bar"] is False
    # 0.900 - 0.905 is a hair below -0.005 in floats; printed as -0.0050 it meets the bar.
    assert b["diff_autogluon"] == pytest.approx(-0.005)
    assert b["meets_bar"] is True
    assert quality.paired_diffs([0.9, None, 0.7], [0.8, 0.8, None]) == pytest.approx([0.1])
    assert quality.meets(None, quality.DATASET_BAR) is None


def test_it_summarizes_means_over_datasets_and_splits_the_bars_and_failures():
    rows = made_up_rows()
    broken = [split_row(0, ours=0.5, reference=0.5, autogluon=0.5), split_row(1, ours=0.5)]
    broken[1]["runs"]["reference"] = [failed("no memory")]
    broken[1]["runs"]["autogluon"] = [run(0.45, seconds=25.0)]
    rows.append({"dataset": "c", "splits": broken, **quality.aggregate_dataset(broken, SIDES3, 20)})

    summary = quality.summarize(rows, SIDES3)

    assert summary["mean_ours"] == pytest.approx(np.mean([0.80, 0.82, 0.90, 0.95, 0.5, 0.5]))
    assert summary["mean_reference"] == pytest.approx(np.mean([0.78, 0.80, 0.85, 0.95, 0.5]))
    # Paired: c's second split counts against AutoGluon but not against the failed reference.
    assert summary["mean_diff_reference"] == pytest.approx(np.mean([0.02, 0.02, 0.05, 0, 0]))
    assert summary["mean_diff_autogluon"] == pytest.approx(
        np.mean([-0.01, -0.01, -0.005, -0.005, 0, 0.05])
    )
    assert summary["mean_bar_met"] is False
    assert [(d["dataset"], d["met"]) for d in summary["dataset_bar"]] == [
        ("a", False),
        ("b", True),
        ("c", True),
    ]
    assert [loss["dataset"] for loss in summary["losses_autogluon"]] == ["a", "b"]
    assert summary["worst_ratio_autogluon"] == {"dataset": "c", "value": 1.25}
    assert summary["failures"] == [
        {"dataset": "c", "seed": 1, "repeat": 0, "side": "reference", "error": "no memory"}
    ]

    lines = quality.summary_lines(summary, SIDES3, len(rows))
    assert "per-dataset bar ours >= ag -0.005: met on 2 of 3; missed: a -0.0100" in lines
    assert any(line.endswith("bar ours >= ag +0.010: MISS") for line in lines)


def test_it_meets_the_mean_bar_only_a_hundredth_ahead():
    splits = [split_row(0, ours=0.91, autogluon=0.90)]
    row = {
        "dataset": "x",
        "splits": splits,
        **quality.aggregate_dataset(splits, ["ours", "autogluon"], 10),
    }
    assert quality.summarize([row], ["ours", "autogluon"])["mean_bar_met"] is True

    splits = [split_row(0, ours=0.909, autogluon=0.90)]
    row = {
        "dataset": "x",
        "splits": splits,
        **quality.aggregate_dataset(splits, ["ours", "autogluon"], 10),
    }
    assert quality.summarize([row], ["ours", "autogluon"])["mean_bar_met"] is False


def test_the_table_shows_the_repeat_spread_column_only_with_repeats():
    splits = [
        {"seed": 0, "runs": {"ours": [run(0.8), run(0.83)], "autogluon": [run(0.9), run(0.9)]}}
    ]
    row = {
        "dataset": "a",
        "metric": "r2",
        **quality.aggregate_dataset(splits, ["ours", "autogluon"], 10),
    }

    with_repeats = quality.table_row(row, ["ours", "autogluon"], repeats=2).split()
    header = quality.table_header(["ours", "autogluon"], repeats=2).split()

    assert header.count("rep") == 2
    assert "0.0300" in with_repeats
    assert with_repeats[-1] == "MISS"
    assert "rep" not in quality.table_header(["ours", "autogluon"], repeats=1).split()


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
        iris_frame(), name="iris", target="target", task="multiclass", budget=2, splits=1
    )

    (split,) = row["splits"]
    for side in ("ours", "reference"):
        (result,) = split["runs"][side]
        assert result.get("error") is None, result.get("error")
        assert 0.8 <= result["score"] <= 1.0
        assert result["seconds"] > 0
        assert row["stats"][side]["mean"] == result["score"]
    assert row["diff_reference"] == pytest.approx(
        row["stats"]["ours"]["mean"] - row["stats"]["reference"]["mean"]
    )
    assert row["stats"]["ours"]["worst_ratio"] == pytest.approx(
        split["runs"]["ours"][0]["seconds"] / 2
    )


def test_it_keeps_partial_runs_from_overwriting_the_full_table():
    assert quality.results_name(60) == "quality-60.json"
    assert quality.results_name(10, "penguins, iris") == "quality-10-only-iris+penguins.json"
    assert (
        quality.results_name(60, sides=["ours", "autogluon"])
        == "quality-60-sides-ours+autogluon.json"
    )
    assert quality.results_name(60, sides=["ours", "reference", "autogluon"]) == "quality-60.json"
    assert quality.results_name(5, "iris", splits=2) == "quality-5-only-iris-splits-2.json"
    assert quality.results_name(60, repeats=3, table=True) == "quality-60s-repeats-3.txt"
    assert quality.results_name(60, "titanic", table=True, sides=["ours"]) == (
        "quality-60s-only-titanic-sides-ours.txt"
    )


def test_it_rejects_unknown_sides_and_adds_autogluon_on_request(capsys):
    with pytest.raises(SystemExit):
        quality.parse_args(["--sides", "ours,gluon"])
    assert "gluon" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        quality.parse_args(["--splits", "0"])

    assert quality.parse_args(["--sides", "ours", "--autogluon"]).sides == ["ours", "autogluon"]
    args = quality.parse_args(["--splits", "2", "--repeats", "3"])
    assert (args.splits, args.repeats) == (2, 3)


def test_autogluon_is_a_default_side_once_its_environment_exists(tmp_path, monkeypatch):
    python = tmp_path / "bin" / "python"
    monkeypatch.setattr(quality, "AUTOGLUON_PYTHON", python)
    assert quality.parse_args([]).sides == ["ours", "reference"]

    python.parent.mkdir()
    python.write_text("")
    assert quality.parse_args([]).sides == ["ours", "reference", "autogluon"]
    assert quality.parse_args(["--sides", "ours,reference"]).sides == ["ours", "reference"]


def test_the_summary_names_each_sides_worst_repeat_spread():
    splits = [
        {"seed": 0, "runs": {"ours": [run(0.81), run(0.85)], "autogluon": [run(0.9), run(0.9)]}}
    ]
    rows = [
        {
            "dataset": "a",
            "splits": splits,
            **quality.aggregate_dataset(splits, ["ours", "autogluon"], 10),
        }
    ]

    lines = quality.summary_lines(
        quality.summarize(rows, ["ours", "autogluon"]), ["ours", "autogluon"], 1
    )

    assert (
        "worst repeat spread (max - min over the repeats): ours 0.0400 (a), autogluon 0.0000 (a)"
        in lines
    )
