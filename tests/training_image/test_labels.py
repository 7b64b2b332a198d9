"""Class labels as text: a validation file's target cells find the classes training learnt."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training_image.labels import class_codes, label_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (math.nan, None),
        ("", None),
        (" NA ", None),
        ("?", None),
        (1, "1"),
        (1.0, "1"),
        ("1.0", "1"),
        (np.int64(2), "2"),
        (True, "1"),
        (2.5, "2.5"),
        (" yes ", "yes"),
        ("inf", "inf"),
    ],
)
def test_a_value_becomes_class_text_and_missing_is_none(value, text):
    assert label_text(value) == text


def test_a_file_may_write_a_class_as_its_code_or_its_configured_name():
    codes = class_codes(["no", "yes"], {"0": "no", "1": "yes"})
    assert codes == {"no": 0, "yes": 1, "0": 0, "1": 1}
    assert class_codes([3, 5]) == {"3": 0, "5": 1}
    assert "7" not in class_codes([3, 5], {"7": "seven"})  # a name for no learnt class
