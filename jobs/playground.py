"""The prediction playground's form: one field per model feature, with its value, hint and error.

No value is invented: every field starts empty (empty means missing, which the model fills in
with the training median or its missing category) and the training median or most frequent
value is only shown as a labelled hint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jobs.model_spec import Feature
from training_image.features import date_example

FIELD_PREFIX = "f:"  # form field names: f:<column>, so any column name is safe


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:.4g}"


def _describe(f: Feature) -> str:
    if f.input_type == "number":
        kind = "integer" if f.is_integer else "number"
        if f.unit:
            kind += f" in {f.unit}"
        if f.minimum is not None and f.maximum is not None:
            return f"{kind}, {_number(f.minimum)} – {_number(f.maximum)} in training"
        return kind
    if f.input_type == "date":
        return f"date, like {date_example(f.datetime_format)}"
    if f.encoding == "boolean":
        return "true / false"
    if f.encoding == "text":
        return "free text"
    return f"category, {len(f.choices)} values" if f.choices else "category"


def _hint(f: Feature) -> str | None:
    if f.median is not None:
        return f"Training median: {_number(f.median)}. Leave empty to let the model fill it in."
    if f.mode is not None:
        return f"Most common in training: {f.mode}."
    return None


def playground_fields(
    features: Sequence[Feature],
    inputs: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    warnings: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The form's fields, in the model's feature order.

    Args:
        features: the model's features (`ModelSpec.features`).
        inputs: the values the user sent, by column (kept when the form comes back).
        errors: a refusal's message per column, shown next to its field.
        warnings: a non-blocking note per column (e.g. outside the training range).
    """
    inputs = inputs or {}
    errors = errors or {}
    warnings = warnings or {}
    fields = []
    for index, f in enumerate(features, start=1):
        value = inputs.get(f.column)
        fields.append(
            {
                "column": f.column,
                "name": f"{FIELD_PREFIX}{f.column}",
                "id": f"f-{index}",
                "input_type": f.input_type,
                "describe": _describe(f),
                "choices": f.choices,
                "value": "" if value is None else str(value),
                "hint": _hint(f),
                "placeholder": f"median {_number(f.median)}" if f.median is not None else "",
                "step": "1" if f.is_integer else "any",
                "error": errors.get(f.column),
                "warning": warnings.get(f.column),
            }
        )
    return fields


def form_features(post: Mapping[str, Any]) -> dict[str, str]:
    """The row a playground form sent: `f:<column>` fields, by column."""
    return {
        key.removeprefix(FIELD_PREFIX): value
        for key, value in post.items()
        if key.startswith(FIELD_PREFIX)
    }


def by_feature(problems: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    """Problem messages (from `extra.errors` or a result's `warnings`) by feature."""
    out: dict[str, str] = {}
    for p in problems or ():
        if isinstance(p, Mapping) and p.get("feature"):
            out.setdefault(str(p["feature"]), str(p.get("message") or ""))
    return out


UNIT_LABELS = {
    "log-odds": "log-odds",
    "probability": "probability",
    "value": "units of the target",
    "log(1 + value)": "log(1 + target): the model learnt the target on a log scale",
    "mixed": "the members' own units",
}


def explanation_bars(result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The prediction's contributions as a diverging bar chart (widths in % of half the track)."""
    if not result or not result.get("explanation"):
        return None
    rows = result["explanation"]
    largest = max(abs(float(r["contribution"])) for r in rows) or 1.0
    info = result.get("explanation_info") or {}
    return {
        "rows": [
            {
                "feature": r["feature"],
                "value": "missing" if r["value"] in (None, "") else r["value"],
                "contribution": float(r["contribution"]),
                "width": round(50 * abs(float(r["contribution"])) / largest, 1),
                "side": "pos" if float(r["contribution"]) >= 0 else "neg",
            }
            for r in rows
        ],
        "method": info.get("description") or info.get("method"),
        "exact": bool(info.get("exact")),
        "unit": UNIT_LABELS.get(str(info.get("unit")), info.get("unit")),
        "toward": info.get("toward"),
    }
