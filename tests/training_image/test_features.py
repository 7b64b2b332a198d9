"""The one rule for raw values (training_image/features.py): booleans, nulls, "inf", NaN."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from training_image import features as rule

MISSING = [None, math.nan, "", "   ", "NA", "N/A", "null", "NaN", "?"]


@pytest.mark.parametrize("value", MISSING)
def test_every_spelling_of_missing_is_missing_for_every_encoding(value):
    assert math.isnan(rule.read_number(value, "x"))
    assert math.isnan(rule.read_boolean(value, "x"))
    assert rule.read_category(value, "x") == rule.MISSING_TOKEN
    assert rule.read_datetime(value, "x", "%Y-%m-%d") is None


@pytest.mark.parametrize(
    ("value", "expected"), [(3, 3.0), (-2.5, -2.5), (" 4.5 ", 4.5), ("1e3", 1000.0), ("-0", 0.0)]
)
def test_numbers_read_as_floats(value, expected):
    assert rule.read_number(value, "x") == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (True, "wrong_type"),
        (False, "wrong_type"),
        ("true", "wrong_type"),
        ("inf", "not_finite"),
        ("-Infinity", "not_finite"),
        (math.inf, "not_finite"),
        ("abc", "wrong_type"),
        (["1"], "wrong_type"),
        ({"v": 1}, "wrong_type"),
    ],
)
def test_a_number_refuses_booleans_infinities_text_and_containers(value, code):
    with pytest.raises(rule.ValueProblem) as problem:
        rule.read_number(value, "x")
    assert problem.value.code == code


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, 1.0), (False, 0.0), (1, 1.0), (0.0, 0.0), ("Yes", 1.0), (" f ", 0.0), ("1.0", 1.0)],
)
def test_booleans_accept_true_false_words_and_zero_one(value, expected):
    assert rule.read_boolean(value, "b") == expected


@pytest.mark.parametrize("value", [2, "maybe", "inf", ["true"]])
def test_booleans_refuse_anything_else(value):
    with pytest.raises(rule.ValueProblem):
        rule.read_boolean(value, "b")


def test_categories_take_text_or_the_text_of_a_number_and_refuse_containers():
    assert rule.read_category(" red ", "c") == "red"
    assert rule.read_category(5, "c") == "5"
    with pytest.raises(rule.ValueProblem):
        rule.read_category(["red"], "c")


def test_check_value_refuses_an_unseen_category_with_the_allowed_values():
    error, warning = rule.check_value(
        column="colour",
        encoding="onehot",
        value="green",
        categories=("red", "blue"),
        all_categories_known=True,
    )
    assert warning is None
    assert error.code == "unseen_category" and error.allowed == ("red", "blue")
    assert "allowed: red, blue" in error.message


def test_check_value_only_warns_for_a_value_outside_a_partial_list():
    error, warning = rule.check_value(
        column="city", encoding="ordinal", value="Oslo", categories=("Paris",)
    )
    assert error is None and warning.code == "unseen_category"


def test_check_value_warns_outside_the_training_range():
    error, warning = rule.check_value(
        column="age", encoding="numeric", value=150, minimum=0, maximum=90
    )
    assert error is None
    assert warning.code == "out_of_range" and "0 – 90" in warning.message


def test_dates_read_in_the_training_format_and_convert_offsets_to_utc():
    when = rule.read_datetime("2024-02-29T13:45:00+0100", "d", "%Y-%m-%dT%H:%M:%S%z")
    assert when == dt.datetime(2024, 2, 29, 12, 45)
    with pytest.raises(rule.ValueProblem) as problem:
        rule.read_datetime("29/02/2024", "d", "%Y-%m-%d")
    assert problem.value.code == "not_a_date"


def test_training_reads_columns_leniently_and_serving_strictly():
    feature = rule.FeatureSpec("x", "numeric", "numeric", ("f0_x",))
    assert rule.prepare_column(feature, ["1", "oops", None], strict=False)[0][:1] == [1.0]
    assert math.isnan(rule.prepare_column(feature, ["1", "oops"], strict=False)[0][1])
    with pytest.raises(rule.RowProblem) as problem:
        rule.prepare_column(feature, ["1", "oops"], strict=True)
    assert problem.value.row == 1


# --------------------------------------------------------------------------- numbers with a unit


@pytest.mark.parametrize(
    ("value", "code", "phrase"),
    [
        ("abc", "wrong_type", "Cannot convert 'abc' to number for feature 'mileage' (expected "),
        ("17.3 km/kg", "wrong_unit", "'17.3 km/kg' is not in kmpl, the unit of feature 'mileage'"),
        ("23.4 kmpl extra", "wrong_type", "like 12 kmpl"),
        ("kmpl", "wrong_type", "expected a number in kmpl"),
        ("$23.4", "wrong_unit", "send the number in kmpl"),
        ("1e999 kmpl", "wrong_type", "Cannot convert"),
        ("inf", "not_finite", "finite number"),
        (True, "wrong_type", "Cannot convert 'true'"),
        (["23.4 kmpl"], "wrong_type", "Cannot convert"),
    ],
)
def test_a_number_with_a_unit_refuses_other_text_and_other_units(value, code, phrase):
    with pytest.raises(rule.ValueProblem) as problem:
        rule.read_number(value, "mileage", "kmpl")
    assert problem.value.code == code
    assert phrase in problem.value.message
    if code != "not_finite":
        assert problem.value.expected == "a number in kmpl"


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("23.4 kmpl", "kmpl", 23.4),
        ("23.4kmpl", "kmpl", 23.4),
        (" 23.4 KMPL ", "kmpl", 23.4),
        ("23.4", "kmpl", 23.4),
        (23.4, "kmpl", 23.4),
        ("1248 cc", "CC", 1248.0),
        ("-3.5 kg", "kg", -3.5),
        ("17.3 km/kg", "km/kg", 17.3),
        ("$1200", "$", 1200.0),
        ("€ 12.50", "€", 12.5),
        ("12%", "%", 12.0),
        ("12 %", "%", 12.0),
    ],
)
def test_a_number_with_a_unit_reads_the_number_with_or_without_the_unit(value, unit, expected):
    assert rule.read_number(value, "x", unit) == pytest.approx(expected)


def test_a_column_without_a_unit_refuses_a_number_with_one():
    with pytest.raises(rule.ValueProblem) as problem:
        rule.read_number("23.4 kmpl", "x")
    assert problem.value.code == "wrong_type"
    assert problem.value.message == "Cannot convert '23.4 kmpl' to number for feature 'x'"


def test_check_value_names_the_unit_a_served_value_must_have():
    error, warning = rule.check_value(
        column="engine", encoding="numeric", value="1.2 L", unit="CC", minimum=600, maximum=3000
    )
    assert warning is None
    assert error.code == "wrong_unit" and error.expected == "a number in CC"
    assert "like 12 CC" in error.message
    error, warning = rule.check_value(
        column="engine", encoding="numeric", value="4500 CC", unit="CC", minimum=600, maximum=3000
    )
    assert error is None and warning.code == "out_of_range"


def test_a_unit_column_reads_leniently_in_training_and_strictly_when_served():
    feature = rule.FeatureSpec("mileage", "numeric", "numeric", ("f0_mileage",), unit="kmpl")
    values = ["23.4 kmpl", "17.3 km/kg", None, "19", 21.5, "abc"]
    numbers = rule.prepare_column(feature, values, strict=False)[0]
    assert numbers[0] == 23.4 and numbers[3] == 19.0 and numbers[4] == 21.5
    assert all(math.isnan(numbers[i]) for i in (1, 2, 5))
    with pytest.raises(rule.RowProblem) as problem:
        rule.prepare_column(feature, values, strict=True)
    assert problem.value.row == 1 and problem.value.problem.code == "wrong_unit"


# --------------------------------------------------------------------------- compact dates


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("20141013T000000", "%Y%m%dT%H%M%S"),
        ("20141013", "%Y%m%d"),
        (20141013, "%Y%m%d"),
        (20141013.0, "%Y%m%d"),  # a column of whole numbers with gaps is read as floats
    ],
)
def test_compact_dates_read_as_dates(value, fmt):
    assert rule.read_datetime(value, "date", fmt) == dt.datetime(2014, 10, 13)


@pytest.mark.parametrize("value", ["2014-10-13", 20141313, 20141013.5, True, "20141013 000000"])
def test_compact_dates_refuse_other_values(value):
    fmt = "%Y%m%dT%H%M%S" if isinstance(value, str) and "T" in value else "%Y%m%d"
    with pytest.raises(rule.ValueProblem) as problem:
        rule.read_datetime(value, "date", fmt)
    assert problem.value.code == "not_a_date"
    assert "expected like 20240301" in problem.value.message or "format %Y%m%dT" in (
        problem.value.message
    )
