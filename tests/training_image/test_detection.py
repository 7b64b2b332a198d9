"""Column kinds and problem types as both the web and the container decide them."""

from __future__ import annotations

import pytest

from training_image.detection import unusable_target_reason


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
