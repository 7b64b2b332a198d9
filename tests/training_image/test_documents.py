"""evaluation.json and model_card.json: one typed shape each, read back by one reader."""

from __future__ import annotations

import typing

import pytest

from training_image import contract


def keys(shape: type) -> tuple[set[str], set[str]]:
    """(required, optional) keys of a TypedDict. Its NotRequired keys are read from the
    annotations: under postponed annotations `__optional_keys__` does not see them."""
    hints = typing.get_type_hints(shape, include_extras=True)
    optional = {k for k, v in hints.items() if typing.get_origin(v) is typing.NotRequired}
    return set(hints) - optional, optional


def test_it_knows_what_a_missing_key_of_an_older_record_means_for_every_required_key():
    required, optional = keys(contract.Evaluation)
    assert set(contract._EVALUATION_UNRECORDED) == required
    assert optional == {"confusion_matrix", "per_class", "roc_curve", "pr_curve", "residuals"}
    card_required, _ = keys(contract.ModelCard)
    # A card always named its problem type and target; its `onnx` is filled key by key.
    assert set(contract._CARD_UNRECORDED) | {"problem_type", "target", "onnx"} == card_required
    assert set(contract._CARD_ONNX_UNRECORDED) == keys(contract.CardOnnx)[0]


def test_it_fills_in_what_an_older_evaluation_lacks_and_keeps_what_it_has():
    old = {"test_metrics": {"accuracy": 0.9}, "leaderboard": [], "onnx": None}

    ev = contract.read_evaluation(old)

    assert ev["test_metrics"] == {"accuracy": 0.9}
    assert ev["feature_importance"] == [] and ev["warnings"] == [] and ev["timeline"] == {}
    assert ev["onnx"] is None and ev["baseline"] is None and ev["split"] is None
    assert "confusion_matrix" not in ev  # absent by design, not filled in
    assert old == {"test_metrics": {"accuracy": 0.9}, "leaderboard": [], "onnx": None}
    # Each record gets its own empty values.
    ev["warnings"].append("x")
    assert contract.read_evaluation({})["warnings"] == []


def test_it_fills_in_what_an_older_card_lacks_and_refuses_what_is_no_card():
    card = contract.read_model_card(
        {"problem_type": "binary", "target": "y", "onnx": {"inputs": [], "available": True}}
    )

    assert card["seed"] is None and card["features"] == [] and card["label_mapping"] == {}
    assert card["onnx"]["available"] is True and card["onnx"]["outputs"] == []
    assert "drift_reference" not in card
    with pytest.raises(ValueError, match="names its problem type"):
        contract.read_model_card({"features": []})
