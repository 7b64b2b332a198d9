"""The server's stdlib input builder agrees with the saved model's pandas `prepare` step.

`jobs.inference.build_inputs` must give the ONNX graph exactly what
`training_image.preprocess.RawFramePreparer` gives it inside model.pkl, for every
encoding (numbers, booleans, categories, free text, date parts), including missing
values, so served predictions match the pickle's.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.exceptions import InvalidInput
from jobs import inference
from training_image import export
from training_image.contract import read_model_card
from training_image.preprocess import FeatureSpec, RawFramePreparer

FEATURES = (
    FeatureSpec("age", "integer", "numeric", ("f0_age",)),
    FeatureSpec("member", "boolean", "boolean", ("f1_member",)),
    FeatureSpec("city", "categorical", "onehot", ("f2_city",)),
    FeatureSpec("review", "text", "text", ("f3_review",)),
    FeatureSpec("plan", "categorical", "ordinal", ("f5_plan",)),
    FeatureSpec(
        "joined",
        "datetime",
        "datetime",
        tuple(
            f"f4_joined__{p}"
            for p in ("year", "month", "day", "dayofweek", "dayofyear", "hour", "epoch_days")
        ),
        datetime_format="%Y-%m-%d %H:%M",
        datetime_parts=("year", "month", "day", "dayofweek", "dayofyear", "hour", "epoch_days"),
    ),
    FeatureSpec("mileage", "numeric", "numeric", ("f6_mileage",), unit="kmpl"),
    FeatureSpec(
        "sold",
        "datetime",
        "datetime",
        tuple(f"f7_sold__{p}" for p in ("year", "month", "dayofweek", "epoch_days")),
        datetime_format="%Y%m%d",
        datetime_parts=("year", "month", "dayofweek", "epoch_days"),
    ),
)

ROWS = [
    {
        "age": 34,
        "member": "yes",
        "city": " Paris ",
        "review": "Great VALUE",
        "joined": "2024-02-29 13:45",
        "plan": "gold",
        "mileage": "23.4 kmpl",
        "sold": "20141013",
    },
    {
        "age": "41",
        "member": "0",
        "city": "Lyon",
        "review": "ok",
        "joined": "1999-12-31 23:59",
        "plan": " silver ",
        "mileage": "18KMPL",
        "sold": 20150101,
    },
    {
        "age": None,
        "member": None,
        "city": None,
        "review": None,
        "joined": None,
        "plan": None,
        "mileage": None,
        "sold": None,
    },
    {
        "age": "",
        "member": True,
        "city": "",
        "review": "",
        "joined": "",
        "plan": "NA",
        "mileage": "",
        "sold": "",
    },
    {
        "age": " 7.5 ",
        "member": "Yes",
        "city": "NaN",
        "review": 12,
        "joined": "?",
        "plan": 3,
        "mileage": 21.5,
        "sold": "?",
    },
]


@pytest.fixture(scope="module")
def spec():
    frame = pd.DataFrame(ROWS)
    preparer = RawFramePreparer(features=FEATURES).fit(frame)
    prepared = preparer.transform(frame)
    card = {
        "problem_type": "binary",
        "features": export.feature_entries(FEATURES, frame, prepared),
        "onnx": {"inputs": export.onnx_inputs(FEATURES, prepared)},
        "classes": ["no", "yes"],
    }
    return inference.model_spec(read_model_card(card)), preparer


def test_it_builds_the_same_inputs_as_the_pickled_pipeline(spec):
    model_spec, preparer = spec
    expected = preparer.transform(pd.DataFrame(ROWS))
    for index, row in enumerate(ROWS):
        feeds = inference.build_inputs(model_spec, row)
        assert set(feeds) == set(expected.columns)
        for name, value in feeds.items():
            want = expected[name].iloc[index]
            got = value[0, 0]
            assert value.shape == (1, 1)
            if isinstance(got, str):
                assert got == str(want).lower() if name == "f3_review" else got == want, name
            elif isinstance(want, float) and math.isnan(want):
                assert math.isnan(got), name
            else:
                assert got == pytest.approx(np.float32(want), rel=1e-6), (name, index)


def test_it_lists_missing_features_like_the_reference(spec):
    model_spec, _ = spec
    with pytest.raises(InvalidInput) as error:
        inference.build_inputs(model_spec, {"age": 3, "city": "Paris"})
    assert error.value.message == (
        "Missing required features: ['member', 'review', 'plan', 'joined', 'mileage', 'sold']"
    )


def test_it_refuses_text_for_a_number(spec):
    model_spec, _ = spec
    with pytest.raises(InvalidInput, match="Cannot convert 'old' to number for feature 'age'"):
        inference.build_inputs(model_spec, {**ROWS[0], "age": "old"})


def test_it_refuses_a_date_in_another_format(spec):
    model_spec, _ = spec
    with pytest.raises(
        InvalidInput,
        match=r"to a date for feature 'joined' \(expected like 2024-03-01 13:45, format %Y-%m-%d %H:%M\)",
    ):
        inference.build_inputs(model_spec, {**ROWS[0], "joined": "29/02/2024"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "Cannot convert 'abc' to number for feature 'mileage' (expected a number in kmpl"),
        ("17.3 km/kg", "'17.3 km/kg' is not in kmpl, the unit of feature 'mileage'"),
        ("23.4 kmpl!", "like 12 kmpl"),
        (True, "Cannot convert 'true' to number for feature 'mileage'"),
    ],
)
def test_it_refuses_other_text_or_another_unit_for_a_number_with_a_unit(spec, value, message):
    model_spec, _ = spec
    with pytest.raises(InvalidInput) as error:
        inference.build_inputs(model_spec, {**ROWS[0], "mileage": value})
    assert message in error.value.message
    assert error.value.extra["expected"] == "a number in kmpl"


def test_it_refuses_a_compact_date_that_is_no_date(spec):
    model_spec, _ = spec
    with pytest.raises(InvalidInput, match=r"expected like 20240301, format %Y%m%d"):
        inference.build_inputs(model_spec, {**ROWS[0], "sold": 20141313})


def test_the_row_check_names_every_bad_value_with_its_code(spec):
    model_spec, _ = spec
    errors, warnings = inference.check_row(
        model_spec, {**ROWS[0], "mileage": "17.3 km/kg", "age": "old", "sold": "2014-10-13"}
    )
    assert {(p.feature, p.code) for p in errors} == {
        ("age", "wrong_type"),
        ("mileage", "wrong_unit"),
        ("sold", "not_a_date"),
    }
    assert next(p for p in errors if p.feature == "mileage").expected == "a number in kmpl"


def test_the_card_gives_form_fields_with_choices_and_ranges(spec):
    model_spec, _ = spec
    by_name = {f.column: f for f in model_spec.features}
    assert by_name["city"].input_type == "select"
    assert by_name["city"].choices == ["Paris", "Lyon"]
    assert by_name["age"].input_type == "number"
    assert (by_name["age"].minimum, by_name["age"].maximum) == (7.5, 41.0)
    assert by_name["member"].input_type == "select"
    assert by_name["joined"].input_type == "date"
    assert by_name["joined"].datetime_format == "%Y-%m-%d %H:%M"
    assert by_name["mileage"].unit == "kmpl" and by_name["mileage"].input_type == "number"
    assert (by_name["mileage"].minimum, by_name["mileage"].maximum) == (18.0, 23.4)
    assert by_name["sold"].datetime_format == "%Y%m%d"


def test_training_and_serving_read_a_csv_file_the_same_way(tmp_path, spec):
    """The container reads a CSV with pandas (typed columns); the server gets the same cells as
    text: every encoding must come out the same."""
    import csv

    from training_image.data import load_csv, normalise_frame

    model_spec, preparer = spec
    path = tmp_path / "rows.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(
            {k: "" if v is None else ("true" if v is True else v) for k, v in row.items()}
            for row in ROWS
        )
    frame = normalise_frame(load_csv(path))
    expected = preparer.transform(frame)
    with open(path, newline="") as handle:
        cells = list(csv.DictReader(handle))
    # The loader skips rows with nothing in them (every cell blank or an NA token), as the
    # upload analysis does; serving has no such row to compare.
    from training_image.detection import NA_TOKENS

    cells = [r for r in cells if any(v.strip() and v.strip() not in NA_TOKENS for v in r.values())]
    assert len(cells) == len(expected)
    for index, row in enumerate(cells):
        feeds = inference.build_inputs(model_spec, row)
        for name, value in feeds.items():
            want, got = expected[name].iloc[index], value[0, 0]
            if isinstance(got, str):
                assert got == want, (name, index)
            elif isinstance(want, float) and math.isnan(want):
                assert math.isnan(got), (name, index)
            else:
                assert got == pytest.approx(np.float32(want), rel=1e-6), (name, index)
