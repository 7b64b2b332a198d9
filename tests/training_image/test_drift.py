"""PSI drift: the reference the container writes and the counts a validation file adds up."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training_image import drift
from training_image.features import FeatureSpec

AMOUNT = FeatureSpec("amount", "numeric", "numeric", ("amount",))
PLAN = FeatureSpec("plan", "categorical", "onehot", ("plan",))
NOTE = FeatureSpec("note", "text", "text", ("note",))
DAY = FeatureSpec(
    "day",
    "datetime",
    "datetime",
    ("day_year", "day_epoch_days"),
    datetime_format="%Y-%m-%d",
    datetime_parts=("year", "epoch_days"),
)


def counted(features, reference, columns):
    counter = drift.DriftCounter(features, reference)
    n = len(next(iter(columns.values())))
    half = n // 2  # two chunks, as a file arrives
    counter.add({k: v[:half] for k, v in columns.items()}, half)
    counter.add({k: v[half:] for k, v in columns.items()}, n - half)
    return {f["feature"]: f for f in counter.result()["features"]}, counter.result()


def test_psi_is_the_textbook_sum_and_the_bands_are_the_usual_ones():
    expected, actual = [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]
    by_hand = (0.3 - 0.5) * math.log(0.3 / 0.5) + (0.4 - 0.2) * math.log(0.4 / 0.2)
    assert drift.psi(expected, actual) == pytest.approx(by_hand)
    assert drift.psi(expected, expected) == 0
    # An empty bin is floored, so a share appearing from nothing counts, finitely.
    assert math.isfinite(drift.psi([1.0, 0.0], [0.9, 0.1]))
    assert [drift.band(v) for v in (0.0, 0.099, 0.1, 0.249, 0.25, 3.0)] == [
        "stable",
        "stable",
        "moderate",
        "moderate",
        "major",
        "major",
    ]


def test_the_same_distribution_is_stable_and_a_shifted_one_major():
    rng = np.random.default_rng(0)
    train = rng.lognormal(3, 1, 20_000)
    reference = drift.reference([AMOUNT], {"amount": train})
    ref = reference["features"]["amount"]
    assert ref["kind"] == "numeric" and len(ref["edges"]) == drift.BINS - 1
    assert ref["shares"][:-1] == pytest.approx([0.1] * drift.BINS, abs=0.002)
    assert ref["shares"][-1] == 0  # no missing value in training

    same, _ = counted([AMOUNT], reference, {"amount": rng.lognormal(3, 1, 5_000)})
    shifted, result = counted([AMOUNT], reference, {"amount": rng.lognormal(3.7, 1, 5_000)})
    assert same["amount"]["psi"] < 0.02 and same["amount"]["band"] == "stable"
    assert shifted["amount"]["psi"] > 0.25 and shifted["amount"]["drifted"]
    assert result["drifted"] == ["amount"] and result["rows"] == 5_000


def test_missing_values_have_their_own_bin_and_text_that_is_not_a_number_counts_there():
    reference = drift.reference([AMOUNT], {"amount": np.arange(1000.0)})
    values = [None] * 300 + ["abc"] * 100 + [str(v) for v in range(600)]
    found, _ = counted([AMOUNT], reference, {"amount": values})
    bins = found["amount"]["bins"]
    assert bins[-1]["label"] == drift.MISSING and bins[-1]["expected"] == 0
    assert bins[-1]["actual"] == pytest.approx(0.4)
    assert found["amount"]["band"] == "major"


def test_categories_keep_the_most_frequent_and_pool_the_rest():
    train = [f"c{i:02d}" for i in range(30) for _ in range(30 - i)] + [None] * 10
    reference = drift.reference([PLAN], {"plan": train})
    ref = reference["features"]["plan"]
    assert ref["categories"] == [f"c{i:02d}" for i in range(drift.TOP_CATEGORIES)]
    assert ref["labels"][-2:] == [drift.OTHER, drift.MISSING]
    assert sum(ref["shares"]) == pytest.approx(1)
    new = ["c00"] * 50 + ["never seen"] * 50
    found, _ = counted([PLAN], reference, {"plan": new})
    bins = {b["label"]: b for b in found["plan"]["bins"]}
    assert bins[drift.OTHER]["actual"] == pytest.approx(0.5)  # an unseen value pools with the rest
    assert bins["c00"]["actual"] == pytest.approx(0.5)
    assert found["plan"]["drifted"]


def test_dates_compare_by_day_and_free_text_is_skipped_with_its_reason():
    days = [f"2023-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 28)]
    reference = drift.reference([DAY, NOTE], {"day": days, "note": ["some words"] * len(days)})
    day = reference["features"]["day"]
    assert day["kind"] == "date" and day["labels"][0].startswith("≤ 2023-")
    assert "free text" in reference["skipped"]["note"]
    later = [f"2025-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 28)]
    same, _ = counted([DAY, NOTE], reference, {"day": days, "note": ["x"] * len(days)})
    moved, result = counted([DAY, NOTE], reference, {"day": later, "note": ["x"] * len(days)})
    assert same["day"]["psi"] == pytest.approx(0, abs=1e-9)
    assert moved["day"]["drifted"]
    assert result["skipped"] == {"note": reference["skipped"]["note"]}


def test_a_feature_with_no_number_in_training_is_skipped_not_divided_by_zero():
    reference = drift.reference([AMOUNT], {"amount": [None, float("nan"), None]})
    assert reference["features"] == {}
    assert reference["skipped"] == {"amount": "no numeric value in the training rows"}
    _, result = counted([AMOUNT], reference, {"amount": ["1", "2"]})
    assert result["features"] == [] and result["drifted"] == []


def test_a_small_file_is_marked_as_noisy():
    reference = drift.reference([AMOUNT], {"amount": np.arange(1000.0)})
    _, result = counted([AMOUNT], reference, {"amount": [str(v) for v in range(40)]})
    assert result["few_rows"] and result["rows"] == 40
