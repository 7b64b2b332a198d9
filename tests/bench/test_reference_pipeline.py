"""The earlier edition's pipeline, re-implemented in bench/, follows its written rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from bench import reference_pipeline as rp


def reasons(frame: pd.DataFrame) -> dict[str, str]:
    return {d.name: d.reason for d in rp.columns_to_drop(frame)}


def test_it_drops_each_column_once_by_the_first_rule_in_order():
    n = 200
    rng = np.random.default_rng(0)
    signal = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            # Quasi-constant *and* ID-named: the quasi-constant rule comes first.
            "user_id": ["a"] * 197 + ["b", "c", "d"],
            "signal": signal,
            # Duplicate of an earlier column: the later copy goes, the first stays.
            "signal_copy": signal,
            # Duplicate *and* a 1-step integer run: duplicate comes before ID-like.
            "step": np.arange(n),
            "step_again": np.arange(n),
            # Mostly unique string codes: ID-like before high-cardinality.
            "code": [f"AB-{i:04d}" for i in range(n)],
            # Mostly unique free text with spaces: not code-like, so high-cardinality.
            "note": [f"free text number {i}" for i in range(n)],
            "colour": ["red", "green"] * (n // 2),
        }
    )

    dropped = rp.columns_to_drop(frame)

    assert [(d.name, d.reason) for d in dropped] == [
        ("user_id", rp.QUASI_CONSTANT),
        ("signal_copy", rp.DUPLICATE),
        ("step_again", rp.DUPLICATE),
        ("step", rp.ID_LIKE),
        ("code", rp.ID_LIKE),
        ("note", rp.HIGH_CARDINALITY),
    ]


def test_it_ignores_missing_values_when_measuring_quasi_constancy():
    # 99 % of the present values are "x" although half the rows are missing.
    mostly_missing = pd.Series(["x"] * 99 + ["y"] + [None] * 100, name="flag")
    varied = pd.Series(["x"] * 97 + ["y"] * 3, name="flag")

    assert rp.is_quasi_constant(mostly_missing)
    assert not rp.is_quasi_constant(varied)
    assert rp.is_quasi_constant(pd.Series([np.nan] * 10, name="empty"))


@pytest.mark.parametrize(
    "name",
    [
        "ID",
        "account_id",
        "id_card",
        "the_id_field",
        "UUID",
        "guid",
        "OrderID",
        "customer_number_id",
        "CustomerID",
        "userid",
        "transactionId",
        "product_sku_id",
        "session-id",
        "index",
        "row_number",
        "RowNum",
        "serial_no",
        "record_id",
    ],
)
def test_it_drops_columns_whose_name_matches_an_id_pattern(name):
    column = pd.Series([1.5, 2.5, 1.5, 3.5] * 5, name=name)

    assert rp.is_id_like(column)


@pytest.mark.parametrize("name", ["idea", "paid", "width", "identity", "guide", "indexes"])
def test_it_keeps_columns_whose_name_only_resembles_an_id(name):
    column = pd.Series([1.5, 2.5, 1.5, 3.5] * 5, name=name)

    assert not rp.is_id_like(column)


def test_it_treats_only_unique_one_step_integer_runs_as_ids():
    shuffled_run = pd.Series(np.random.default_rng(1).permutation(np.arange(5, 105)), name="n")
    gaps = pd.Series(np.arange(0, 200, 2), name="n")
    repeats = pd.Series(np.repeat(np.arange(50), 2), name="n")
    floats = pd.Series(np.arange(100, dtype=float), name="n")

    assert rp.is_id_like(shuffled_run)
    assert not rp.is_id_like(gaps)
    assert not rp.is_id_like(repeats)
    assert not rp.is_id_like(floats)


def test_it_needs_mostly_unique_mostly_code_like_strings_for_a_string_id():
    codes = pd.Series([f"X{i}" for i in range(100)], name="ref")
    # 90 of the first 100 values are codes: still ID-like.
    some_spaces = pd.Series([f"X{i}" for i in range(90)] + [f"X {i}" for i in range(10)], name="r")
    # 89 codes: not ID-like (and caught later as a high-cardinality string).
    fewer_codes = pd.Series([f"X{i}" for i in range(89)] + [f"X {i}" for i in range(11)], name="r")
    # 95 % unique is not "> 95 %".
    repeats = pd.Series([f"X{i}" for i in range(95)] + ["X0"] * 5, name="r")

    assert rp.is_id_like(codes)
    assert rp.is_id_like(some_spaces)
    assert not rp.is_id_like(fewer_codes)
    assert not rp.is_id_like(repeats)
    assert reasons(pd.DataFrame({"r": fewer_codes})) == {"r": rp.HIGH_CARDINALITY}


def test_it_drops_string_columns_over_half_unique_but_keeps_numbers():
    half = pd.Series(["a b", "c d"] * 25 + [f"v {i}" for i in range(50)], name="s")  # 52 %
    under = pd.Series([f"v {i}" for i in range(50)] * 2, name="s")  # 50 %
    numbers = pd.Series(np.linspace(0, 1, 100), name="x")

    assert rp.is_high_cardinality_string(half)
    assert not rp.is_high_cardinality_string(under)
    assert not rp.is_high_cardinality_string(numbers)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a", "b", "c"] * 100, rp.CLASSIFICATION),
        (list(range(10)) * 3, rp.CLASSIFICATION),  # integer-like, 10 unique
        ([float(v) for v in range(1, 6)] * 20, rp.CLASSIFICATION),  # floats 1.0..5.0
        (list(range(11)) * 10, rp.REGRESSION),  # 11 unique, 10 % of rows
        (list(range(11)) * 30, rp.CLASSIFICATION),  # 11 unique, 3.3 % of rows
        ([v + 0.5 for v in range(19)] * 30, rp.CLASSIFICATION),  # 19 unique, 3.5 %
        ([v + 0.5 for v in range(20)] * 30, rp.REGRESSION),  # 20 unique
        (list(np.linspace(0, 1, 300)), rp.REGRESSION),
    ],
)
def test_it_detects_the_problem_type_with_the_earlier_rule(values, expected):
    assert rp.detect_problem_type(pd.Series(values)) == expected


def test_it_refines_classification_into_binary_or_multiclass():
    assert rp.detect_task(pd.Series(["yes", "no"] * 10)) == "binary"
    assert rp.detect_task(pd.Series([1, 2, 3] * 10)) == "multiclass"
    assert rp.detect_task(pd.Series(np.linspace(0, 1, 100))) == "regression"


def _frame_with_gaps(n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.normal(size=n) * 10
    x[::7] = np.nan
    colour = rng.choice(["red", "green", "blue"], size=n).astype(object)
    colour[::9] = None
    return pd.DataFrame(
        {"x": x, "colour": colour, "y": np.where(rng.normal(size=n) > 0, "up", "down")}
    )


def test_it_imputes_with_statistics_of_all_rows_before_splitting():
    frame = _frame_with_gaps()

    data = rp.prepare(frame, "y")

    assert data.fill_values["x"] == frame["x"].median()
    assert data.fill_values["colour"] == frame["colour"].mode().iloc[0]
    # The training rows alone have another median: the rule leaks test rows into imputation.
    assert frame.loc[data.x_train.index, "x"].median() != frame["x"].median()
    missing_test_rows = frame.loc[data.x_test.index, "x"].isna()
    assert missing_test_rows.any()
    assert (data.x_test.loc[missing_test_rows, "x"] == frame["x"].median()).all()
    assert not data.x_train.isna().any().any()


def test_it_encodes_strings_as_codes_of_sorted_labels_one_encoder_per_column():
    frame = pd.DataFrame(
        {
            "size": ["small", "large", "medium", "large"] * 10,
            "colour": ["red", "blue", "red", "green"] * 10,
            "y": ["no", "yes", "yes", "no"] * 10,
        }
    )

    data = rp.prepare(frame, "y")

    assert data.encoders == {
        "size": ["large", "medium", "small"],
        "colour": ["blue", "green", "red"],
    }
    x = pd.concat([data.x_train, data.x_test]).sort_index()
    assert x["size"].tolist()[:4] == [2, 0, 1, 0]
    assert x["colour"].tolist()[:4] == [2, 0, 2, 1]
    assert data.target_labels == ["no", "yes"]
    assert sorted(pd.concat([data.y_train, data.y_test]).unique()) == [0, 1]


def test_it_keeps_a_numeric_target_as_it_is():
    frame = pd.DataFrame({"x": np.arange(40) % 7, "y": [0, 1] * 20})

    data = rp.prepare(frame, "y")

    assert data.target_labels is None
    assert set(data.y_train) == {0, 1}


def test_it_splits_80_20_stratified_with_random_state_42():
    frame = pd.DataFrame({"x": np.arange(200) % 13 * 1.5, "y": ["rare"] * 20 + ["common"] * 180})

    data = rp.prepare(frame, "y")

    assert (len(data.x_train), len(data.x_test)) == (160, 40)
    assert (data.y_test == 1).sum() == 4  # "rare" keeps its 10 % share (code 1)
    expected_train, _ = train_test_split(frame, test_size=0.2, random_state=42, stratify=frame["y"])
    assert list(data.x_train.index) == list(expected_train.index)


def test_it_splits_regression_without_stratifying():
    frame = pd.DataFrame({"x": np.linspace(0, 1, 100), "y": np.linspace(5, 50, 100)})

    data = rp.prepare(frame, "y")

    expected_train, _ = train_test_split(frame, test_size=0.2, random_state=42)
    assert data.task == "regression"
    assert list(data.x_train.index) == list(expected_train.index)


@pytest.mark.parametrize(
    ("task", "flaml_task", "metric"),
    [
        ("binary", "classification", "f1"),
        ("multiclass", "classification", "accuracy"),
        ("regression", "regression", "r2"),
    ],
)
def test_it_configures_flaml_as_the_earlier_edition(task, flaml_task, metric):
    settings = rp.flaml_settings(task, 30)

    assert settings["task"] == flaml_task
    assert settings["metric"] == metric
    assert settings["time_budget"] == 30
    assert settings["estimator_list"] == ["lgbm", "xgboost", "rf", "extra_tree"]
    assert settings["early_stop"] is True
    assert settings["retrain_full"] is True
    assert settings["n_jobs"] == 1
    # "Everything else at FLAML defaults (no seed)".
    assert "seed" not in settings
    assert set(settings) == {
        "task",
        "metric",
        "time_budget",
        "estimator_list",
        "early_stop",
        "retrain_full",
        "n_jobs",
        "verbose",
    }


def test_it_reimputes_with_the_batch_medians_and_codes_unseen_categories_minus_one():
    model = rp.ReferenceModel(
        task="binary",
        dropped=[],
        features=["x", "colour"],
        encoders={"colour": ["blue", "red"]},
        target_labels=None,
        automl=None,
    )
    batch = pd.DataFrame(
        {"x": [100.0, np.nan, 300.0], "colour": ["red", "purple", None], "extra": [1, 2, 3]}
    )

    x = model.transform(batch)

    assert list(x.columns) == ["x", "colour"]
    assert x["x"].tolist() == [100.0, 200.0, 300.0]  # the batch's median, not training's
    # Missing colour takes the batch's mode ("purple", first of the tied modes), unseen → -1.
    assert x["colour"].tolist() == [1, -1, -1]


def test_it_names_the_missing_columns_at_prediction_time():
    model = rp.ReferenceModel(
        task="binary", dropped=[], features=["x"], encoders={}, target_labels=None, automl=None
    )

    with pytest.raises(ValueError, match="Missing columns for prediction: x"):
        model.transform(pd.DataFrame({"z": [1]}))


def test_it_rejects_an_unknown_target_column():
    with pytest.raises(ValueError, match="Target column 'nope' is not in the frame"):
        rp.prepare(pd.DataFrame({"x": [1, 2]}), "nope")
