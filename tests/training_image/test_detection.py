"""Column kinds and problem types as both the web and the container decide them."""

from __future__ import annotations

import pytest

from training_image import detection
from training_image.detection import ColumnProfile, Family, Kind, unusable_target_reason


@pytest.mark.parametrize(
    ("kind", "n_unique", "phrase"),
    [
        ("constant", 1, "single value"),
        ("categorical", 1, "single value"),
        ("datetime", 300, "holds dates"),
        ("id", 891, "identifier"),
        ("text", 500, "free text"),
        ("categorical", 400, "free text"),
        (None, None, "empty"),
    ],
)
def test_it_says_why_a_column_cannot_be_a_target(kind, n_unique, phrase):
    assert phrase in unusable_target_reason(kind, n_unique)


# --------------------------------------------------------------------------- numbers with a unit


def _unit_of(values):
    return detection.common_unit(*detection.unit_counts(values))


@pytest.mark.parametrize(
    ("text", "split"),
    [
        ("23.4 kmpl", ("23.4", "kmpl")),
        ("1248CC", ("1248", "CC")),
        ("17.3 km/kg", ("17.3", "km/kg")),
        ("-2.5 kg", ("-2.5", "kg")),
        ("12%", ("12", "%")),
        ("$1200", ("1200", "$")),
        ("₹ 5.5", ("5.5", "₹")),
        ("23.4", None),  # a bare number has no unit
        ("$1,200", None),  # no thousands separators: "1,200" is 1.2 in a decimal-comma file
        ("1,5 kg", None),
        ("1e3 kg", None),
        ("2 Seasons left", None),
        ("PC 17599", None),
        ("A4", None),
        ("5 $", None),
        ("$5 kg", None),
        ("kmpl", None),
    ],
)
def test_it_splits_a_number_from_its_unit(text, split):
    assert detection.split_unit(text) == split


def test_a_column_of_numbers_in_one_unit_has_that_unit():
    values = [f"{10 + i / 10:.1f} kmpl" for i in range(97)] + ["26.6 km/kg"] * 3
    assert _unit_of(values) == "kmpl"


def test_the_unit_is_the_most_frequent_spelling_compared_case_insensitively():
    assert _unit_of(["1248 CC"] * 6 + ["998 cc"] * 3 + ["1197"]) == "CC"


def test_bare_numbers_count_as_read_but_the_unit_must_be_on_half_the_values():
    assert _unit_of(["74 bhp"] * 5 + ["88.5"] * 5) == "bhp"
    assert _unit_of(["74 bhp"] * 4 + ["88.5"] * 6) is None


@pytest.mark.parametrize(
    "values",
    [
        ["90 min"] * 70 + ["2 Seasons"] * 25 + ["1 Season"] * 5,  # netflix's duration
        ["23.4 kmpl"] * 94 + ["abc"] * 6,  # too much other text
        ["PC 17599", "113803", "A/5 21171", "STON/O2. 3101282"] * 10,  # tickets
        ["1st", "2nd", "3rd", "4th"] * 10,  # a different "unit" on each
        [],
    ],
    ids=["two-units", "other-text", "tickets", "ordinals", "empty"],
)
def test_a_column_without_one_clear_unit_has_none(values):
    assert _unit_of(values) is None


def test_the_whole_column_must_read_as_numbers_too():
    assert detection.reads_as_numbers(95, 100)
    assert not detection.reads_as_numbers(94, 100)
    assert detection.reads_as_numbers(0, 0)


# --------------------------------------------------------------------------- words and dates


def _strings(name, values, n_rows, n_unique):
    return ColumnProfile(
        name=name,
        family=Family.STRING,
        n_rows=n_rows,
        n_unique=n_unique,
        n_missing=0,
        sample_values=values,
        mean_length=sum(map(len, values)) / len(values),
    )


def test_many_valued_names_of_several_words_are_split_into_words():
    names = ["Maruti Swift Dzire VDI", "Hyundai Grand i10 Asta", "Honda City VX", "Tata Nano"]
    assert detection.column_kind(_strings("name", names * 25, 8000, 2000)) == Kind.TEXT


def test_codes_with_the_odd_space_stay_categories():
    tickets = ["113803", "PC 17599", "349909", "347742", "2666", "A/5 21171", "330877"]
    assert detection.column_kind(_strings("Ticket", tickets * 14, 891, 681)) == Kind.CATEGORICAL


def test_numbered_names_stay_categories():
    cities = [f"city {i}" for i in range(80)]
    assert detection.column_kind(_strings("city", cities, 569, 80)) == Kind.CATEGORICAL


def test_few_valued_words_stay_categories():
    owners = ["First Owner", "Second Owner", "Third Owner"]
    assert detection.column_kind(_strings("owner", owners * 30, 8000, 3)) == Kind.CATEGORICAL


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(20140502, 20150527, True), (19000101, 21001231, True), (1, 20150527, False)],
)
def test_only_eight_digit_numbers_in_a_date_range_are_tried_as_dates(low, high, expected):
    assert detection.compact_date_candidates(low, high) is expected
