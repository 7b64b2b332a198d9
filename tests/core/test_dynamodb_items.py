"""DynamoDB value conversion: floats to Decimal and back, map keys as strings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.dynamodb import decode_item, encode_item, from_dynamo, to_dynamo


def test_it_writes_floats_as_exact_decimals():
    assert to_dynamo(0.1) == Decimal("0.1")
    assert to_dynamo({"a": [1.5, 2, True, None, ""]}) == {"a": [Decimal("1.5"), 2, True, None, ""]}


def test_it_reads_decimals_back_as_int_or_float():
    value = from_dynamo(
        {"s": Decimal("0.9512345678901234"), "n": Decimal("3"), "w": Decimal("1.0")}
    )
    assert value == {"s": 0.9512345678901234, "n": 3, "w": 1}
    assert type(value["s"]) is float and type(value["n"]) is int


def test_it_leaves_none_fields_out_of_the_item():
    item = encode_item({"job_id": "j", "started_at": None, "notes": "", "progress": {"eta": None}})
    assert item == {"job_id": "j", "notes": "", "progress": {"eta": None}}
    assert decode_item(item) == {"job_id": "j", "notes": "", "progress": {"eta": None}}


def test_it_refuses_values_dynamodb_cannot_hold():
    with pytest.raises(TypeError, match="bytes"):
        to_dynamo(b"raw")
