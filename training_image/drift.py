"""Drift of new rows from the training rows: the Population Stability Index per feature.

The container records how each feature's training values fall into bins — numbers (and
booleans, and a date's day count) in ten quantile bins plus one for missing values; categories
as their most frequent values, the rest, and missing — as the model card's `drift_reference`.
A validation file's values are read by the same rule training read its own
(`features.prepare_column`, lenient) and counted into the same bins, chunk by chunk, so the
file is never held in memory. Then, per feature,

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

with each share floored at SHARE_FLOOR (a bin empty on one side still counts, and finitely).
The usual reading: below 0.1 stable, 0.1 to 0.25 a moderate shift, 0.25 or more a major
shift — the feature is flagged as drifted.

numpy and the standard library only: the container writes the reference and the web's workers
(which have no pandas or scikit-learn) compare against it, with this one module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from training_image.features import EPOCH, MISSING_TOKEN, FeatureSpec, prepare_column

BINS = 10
TOP_CATEGORIES = 20
SHARE_FLOOR = 1e-4
MODERATE = 0.1
MAJOR = 0.25
FEW_ROWS = 100  # below this, a file's shares are too noisy for PSI to mean much
OTHER = "(other values)"
MISSING = "(missing)"
STABLE, MODERATE_SHIFT, MAJOR_SHIFT = "stable", "moderate", "major"


def band(psi: float) -> str:
    """`stable` below 0.1, `moderate` up to 0.25, `major` from 0.25."""
    if psi >= MAJOR:
        return MAJOR_SHIFT
    return MODERATE_SHIFT if psi >= MODERATE else STABLE


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """The Population Stability Index of two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), SHARE_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _numbers(feature: FeatureSpec, values: Sequence[Any]) -> np.ndarray | None:
    """The feature's values as floats (NaN = missing), or None for a feature PSI skips."""
    if feature.encoding in ("numeric", "boolean"):
        return np.asarray(prepare_column(feature, values, strict=False)[0], dtype=np.float64)
    if feature.encoding == "datetime" and feature.datetime_parts:
        parts = prepare_column(feature, values, strict=False)
        part = (
            feature.datetime_parts.index("epoch_days")
            if "epoch_days" in feature.datetime_parts
            else 0
        )
        return np.asarray(parts[part], dtype=np.float64)
    return None


def _categories(feature: FeatureSpec, values: Sequence[Any]) -> list[str] | None:
    if feature.encoding in ("onehot", "ordinal"):
        return [str(v) for v in prepare_column(feature, values, strict=False)[0]]
    return None


def _number_text(value: float) -> str:
    return f"{value:.4g}"


def _day_text(value: float) -> str:
    """A day count since 1970 as the date it is (`2023-04-01`)."""
    return (EPOCH + dt.timedelta(days=float(value))).date().isoformat()


def _compares_days(feature: FeatureSpec) -> bool:
    return feature.encoding == "datetime" and "epoch_days" in feature.datetime_parts


def _numeric_reference(numbers: np.ndarray, *, days: bool = False) -> dict[str, Any] | None:
    finite = numbers[np.isfinite(numbers)]
    if not len(finite):
        return None
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = _numeric_counts(edges, numbers)
    text = _day_text if days else _number_text
    labels = [f"≤ {text(edges[0])}"]
    labels += [f"{text(lo)} – {text(hi)}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    labels += [f"> {text(edges[-1])}", MISSING]
    return {
        "kind": "date" if days else "numeric",
        "edges": [float(e) for e in edges],
        "labels": labels,
        "shares": (counts / max(len(numbers), 1)).tolist(),
    }


def _numeric_counts(edges: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Counts per bin: (-inf, e0], (e0, e1], ..., (e_last, inf), then missing."""
    finite = np.isfinite(numbers)
    bins = np.searchsorted(edges, numbers[finite], side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(np.float64)
    return np.append(counts, float((~finite).sum()))


def _category_reference(categories: list[str]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for category in categories:
        counts[category] = counts.get(category, 0) + 1
    missing = counts.pop(MISSING_TOKEN, 0)
    top = sorted(counts, key=lambda c: (-counts[c], c))[:TOP_CATEGORIES]
    other = sum(counts.values()) - sum(counts[c] for c in top)
    total = max(len(categories), 1)
    return {
        "kind": "categorical",
        "categories": top,
        "labels": [*top, OTHER, MISSING],
        "shares": [counts[c] / total for c in top] + [other / total, missing / total],
    }


def reference(features: Sequence[FeatureSpec], columns: Mapping[str, Sequence[Any]]) -> dict:
    """The model card's `drift_reference`: each feature's training shares per bin.

    Args:
        features: the model's features.
        columns: each feature column's raw training values.

    Returns:
        `{"method": "psi", "rows": N, "features": {column: {kind, labels, shares, ...}},
        "skipped": {column: reason}}`.
    """
    out: dict[str, Any] = {"method": "psi", "rows": 0, "features": {}, "skipped": {}}
    for feature in features:
        values = columns[feature.column]
        out["rows"] = len(values)
        numbers = _numbers(feature, values)
        if numbers is not None:
            found = _numeric_reference(numbers, days=_compares_days(feature))
            if found is None:
                out["skipped"][feature.column] = "no numeric value in the training rows"
            else:
                out["features"][feature.column] = found
            continue
        categories = _categories(feature, values)
        if categories is not None:
            out["features"][feature.column] = _category_reference(categories)
        else:
            out["skipped"][feature.column] = "free text: its words have no bins to compare"
    return out


class DriftCounter:
    """Counts a file's values into the reference's bins, one chunk at a time."""

    def __init__(self, features: Sequence[FeatureSpec], drift_reference: Mapping[str, Any]):
        self.reference = drift_reference
        self.features = [f for f in features if f.column in drift_reference.get("features", {})]
        self.counts = {
            f.column: np.zeros(len(drift_reference["features"][f.column]["shares"]))
            for f in self.features
        }
        self.rows = 0

    def add(self, columns: Mapping[str, Sequence[Any]], n_rows: int) -> None:
        """Count one chunk: each feature column's raw values (None = missing)."""
        self.rows += n_rows
        for feature in self.features:
            ref = self.reference["features"][feature.column]
            values = columns[feature.column]
            if "edges" in ref:  # numbers and dates: bins between edges
                numbers = _numbers(feature, values)
                if numbers is not None:  # the reference was made from numbers, so they are
                    edges = np.asarray(ref["edges"])
                    self.counts[feature.column] += _numeric_counts(edges, numbers)
            else:
                self.counts[feature.column] += self._category_counts(ref, feature, values)

    @staticmethod
    def _category_counts(ref: Mapping[str, Any], feature: FeatureSpec, values: Any) -> np.ndarray:
        position = {c: i for i, c in enumerate(ref["categories"])}
        other, missing = len(ref["categories"]), len(ref["categories"]) + 1
        counts = np.zeros(len(ref["categories"]) + 2)
        for category in _categories(feature, values) or []:
            if category == MISSING_TOKEN:
                counts[missing] += 1
            else:
                counts[position.get(category, other)] += 1
        return counts

    def result(self) -> dict[str, Any]:
        """Per feature, PSI, band and each bin's shares, most drifted first."""
        features = []
        for feature in self.features:
            ref = self.reference["features"][feature.column]
            actual = (self.counts[feature.column] / max(self.rows, 1)).tolist()
            value = psi(ref["shares"], actual)
            features.append(
                {
                    "feature": feature.column,
                    "kind": ref["kind"],
                    "psi": round(value, 4),
                    "band": band(value),
                    "drifted": value >= MAJOR,
                    "bins": [
                        {"label": label, "expected": round(e, 4), "actual": round(a, 4)}
                        for label, e, a in zip(ref["labels"], ref["shares"], actual, strict=True)
                    ],
                }
            )
        features.sort(key=lambda f: (-f["psi"], f["feature"]))
        return {
            "method": "psi",
            "bands": {"moderate": MODERATE, "major": MAJOR},
            "rows": self.rows,
            "training_rows": self.reference.get("rows"),
            "few_rows": self.rows < FEW_ROWS,
            "features": features,
            "drifted": [f["feature"] for f in features if f["drifted"]],
            "skipped": dict(self.reference.get("skipped", {})),
        }
