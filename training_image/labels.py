"""A class label as text: how a target value, a class name and a validation file's cell meet.

Training names integer-coded classes by their text (`1` and `1.0` are both "1"), and a
validation file's target cells are text: both go through `label_text`, so a file's `1.0`, `1`
or the class's name all find class 1. Standard library only (the web imports it); what is
missing is `features.is_missing`'s rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from training_image.features import is_missing


def label_text(value: Any) -> str | None:
    """The value as class text: an integral number as its integer ("1" for 1, 1.0 and "1.0"),
    other text stripped, None when missing (None, NaN, blank or a missing-value token)."""
    if is_missing(value):
        return None
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return text
        return str(int(number)) if math.isfinite(number) and number.is_integer() else text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value).strip()


def class_codes(classes: Sequence[Any], names: Mapping[str, str] | None = None) -> dict[str, int]:
    """Text -> class code for every way a file may write a class: its label, and the value a
    class name was given for (`names`: value text -> name, as the job was configured)."""
    codes = {label_text(c): i for i, c in enumerate(classes)}
    for value, name in (names or {}).items():
        if label_text(name) in codes:
            codes.setdefault(label_text(value), codes[label_text(name)])
    codes.pop(None, None)
    return codes  # type: ignore[return-value]
