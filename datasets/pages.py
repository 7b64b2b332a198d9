"""What the dataset pages show: column rows, numbers, what to do about a rejected file.

The configure page that trains a model on a dataset belongs to jobs (`jobs.configure`).

Presentation only (no reads or writes): views pass in the records they loaded.
"""

from __future__ import annotations

import math
from typing import Any

from training_image.contract import Dataset
from training_image.detection import DROPPED_KINDS, Kind, problem_type_label

KIND_LABELS = {
    Kind.NUMERIC: "Numeric",
    Kind.INTEGER: "Integer",
    Kind.BOOLEAN: "Boolean",
    Kind.CATEGORICAL: "Categorical",
    Kind.DATETIME: "Date/time",
    Kind.TEXT: "Text",
    Kind.ID: "ID",
    Kind.CONSTANT: "Constant",
}
KIND_BADGES = {Kind.ID: "warn", Kind.CONSTANT: "warn", Kind.TEXT: "info", Kind.DATETIME: "info"}

# What a user can do about each kind of rejected file.
REMEDIES = {
    "empty": ["Export the data again: the file has no content."],
    "no_rows": ["Export the data again including its rows, not only the header."],
    "not_csv": [
        "Open the file in the program that made it (Excel, Numbers, LibreOffice, a database).",
        "Choose File → Save as / Export → CSV (UTF-8, comma-separated), and upload that file.",
    ],
    "one_column": [
        "Check the delimiter: AutoML Lite reads commas, semicolons, tabs and pipes.",
        "Re-export the file as CSV (UTF-8, comma-separated).",
    ],
    "ragged_rows": [
        "Open the file and look at the line named above: a value there probably contains the "
        "delimiter without quotes around it.",
        "Re-export from a spreadsheet, which quotes such values, or fix that line.",
    ],
    "bad_quoting": [
        'Look for a quote mark (") that is opened but never closed near the line named above.',
        "Re-export the file as CSV (UTF-8) from a spreadsheet.",
    ],
    "encoding": ["Save the file as CSV (UTF-8) and upload it again."],
}
DEFAULT_REMEDIES = [
    "Open the file in a spreadsheet and export it again as CSV (UTF-8, comma-separated).",
    "Make sure the first row holds the column names and each row has the same number of values.",
]


def format_number(value: Any) -> str:
    """A short human number: thousands separators, about four significant digits."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float) or not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:,.3g}" if magnitude < 100 else f"{value:,.2f}"
    return f"{value:.3g}"


def _stats_text(column: dict[str, Any]) -> str:
    kind = column.get("kind")
    if "mean" in column:
        return (
            f"{format_number(column.get('min'))} … {format_number(column.get('max'))} · "
            f"mean {format_number(column.get('mean'))} · sd {format_number(column.get('std'))}"
        )
    if kind == Kind.DATETIME and column.get("min"):
        first, last = str(column["min"])[:19], str(column.get("max") or "")[:19]
        return f"{first.removesuffix('T00:00:00')} → {last.removesuffix('T00:00:00')}"
    if kind == Kind.TEXT and column.get("mean_length"):
        return f"free text, {format_number(column['mean_length'])} characters on average"
    return ""


def column_rows(dataset: Dataset) -> list[dict[str, Any]]:
    """One row per column for the table: the analysis plus labels, in file order."""
    analysis = dataset.analysis or {}
    rows = []
    for column in analysis.get("columns", []):
        kind = Kind(column["kind"])
        top = column.get("top_values") or []
        show_top = kind in (Kind.CATEGORICAL, Kind.BOOLEAN) or (
            kind == Kind.INTEGER and column.get("unique", 0) <= 20
        )
        label = KIND_LABELS.get(kind, str(kind))
        if column.get("unit"):
            label += f" (unit: {column['unit']})"  # written "23.4 kmpl", read as 23.4
        rows.append(
            {
                **column,
                "kind_label": label,
                "kind_badge": KIND_BADGES.get(kind, "accent"),
                "problem_label": problem_type_label(column.get("problem_type")),
                "stats_text": _stats_text(column),
                "top": top[:5] if show_top else [],
                "dropped": kind in DROPPED_KINDS,
            }
        )
    return rows


def rejection_code(dataset: Dataset) -> str:
    """The kind of rejection the analysis recorded (`analysis["rejection"]["code"]`)."""
    rejection = (dataset.analysis or {}).get("rejection") or {}
    return str(rejection.get("code") or "")
