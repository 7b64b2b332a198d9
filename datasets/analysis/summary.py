"""Turn the counts of a scan into the JSON-able analysis stored on the dataset."""

from __future__ import annotations

import json
import math
from typing import Any

from datasets.analysis.columns import ColumnStats, DistinctSketch
from datasets.analysis.errors import CsvRejected
from datasets.analysis.scanner import ScanResult
from datasets.analysis.sniff import Dialect
from training_image import detection
from training_image.detection import Family, Kind

ANALYSIS_VERSION = 1
HIGH_MISSING_PCT = 50.0
# The analysis lives in the dataset record, and a DynamoDB item holds 400 KB: keep it well
# under that (the record's other fields and the column list need room too).
MAX_ANALYSIS_BYTES = 250_000
MAX_VALUE_CHARS = 80  # shown values (top values, samples) are cut to this length


def summarize(result: ScanResult, dialect: Dialect, *, file_size: int | None) -> dict[str, Any]:
    """The analysis dict: rows, per-column stats in file order, target, problem types, warnings.

    Column kinds, problem types and the suggested target come from
    `training_image.detection`, fed the same profile facts the container computes.
    """
    rows = result.rows
    profiles = [column.profile(rows) for column in result.columns]
    columns = [
        _column(column, profile, rows)
        for column, profile in zip(result.columns, profiles, strict=True)
    ]
    excluded = {
        c["name"]: detection.KIND_REASONS[Kind(c["kind"])]
        for c in columns
        if c["kind"] in detection.DROPPED_KINDS
    }
    approximate = any(c["unique_approximate"] for c in columns)
    analysis: dict[str, Any] = {
        "version": ANALYSIS_VERSION,
        "rows": rows,
        "column_count": len(columns),
        "file_size": file_size,
        "dialect": dialect.to_dict(),
        "columns": columns,
        "suggested_target": detection.suggest_target(profiles),
        "problem_types": {c["name"]: c["problem_type"] for c in columns},
        "excluded_columns": excluded,
        "empty_rows_skipped": result.empty_rows,
        "unique_exact_limit": DistinctSketch().capacity,
        "unique_approximate": approximate,
    }
    analysis["warnings"] = _warnings(analysis, dialect)
    return fit(analysis)


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode())


def fit(analysis: dict[str, Any]) -> dict[str, Any]:
    """The analysis, trimmed to MAX_ANALYSIS_BYTES by dropping detail (widest files only).

    Order: sample values, then top values beyond three, then all top values. The trimmed
    analysis says so (`trimmed`), and the counts, kinds and types are always kept.
    """
    steps = (
        ("sample_values", lambda c: c.pop("sample_values", None)),
        ("top_values", lambda c: c.update(top_values=(c.get("top_values") or [])[:3] or None)),
        ("top_values", lambda c: c.update(top_values=None)),
        ("warnings", None),
    )
    for detail, trim in steps:
        if _size(analysis) <= MAX_ANALYSIS_BYTES:
            break
        if trim is None:
            analysis["warnings"] = [w for w in analysis["warnings"] if w["level"] != "info"]
        else:
            for column in analysis["columns"]:
                trim(column)
        analysis.setdefault("trimmed", []).append(detail)
    if _size(analysis) > MAX_ANALYSIS_BYTES:
        raise CsvRejected(
            f"The {analysis['column_count']:,} columns of this file (their names and statistics) "
            "are too much to store with the dataset. Keep fewer or shorter-named columns and "
            "upload again.",
            code="too_many_columns",
        )
    return analysis


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _cut_values(values: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if values is None:
        return None
    return [{**v, "value": _cut(str(v["value"]))} for v in values]


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _column(column: ColumnStats, profile: detection.ColumnProfile, rows: int) -> dict[str, Any]:
    kind = detection.column_kind(profile)
    unique, exact = column.distinct() if column.n else (0, True)
    family = Family(profile.family)
    data: dict[str, Any] = {
        "name": column.plan.name,
        "kind": str(kind),
        "family": str(family),
        "missing": column.missing,
        "missing_pct": round(100.0 * column.missing / rows, 2) if rows else 0.0,
        "unique": unique,
        "unique_approximate": not exact,
        "problem_type": detection.problem_type(profile),
        "reason": detection.KIND_REASONS.get(kind),
        "top_values": _cut_values(column.top_values()),
        "sample_values": [_cut(v) for v in column.samples[:5]],
        "invalid": column.invalid or None,
    }
    if column.plan.family in (Family.INTEGER, Family.FLOAT) and column.n:
        data.update(
            min=_number(column.minimum),
            max=_number(column.maximum),
            mean=_number(column.mean),
            std=_number(column.std()),
            all_integral=profile.all_integral,
        )
        if column.plan.unit is not None:
            data["unit"] = column.plan.unit
    elif column.plan.family == Family.DATETIME and column.n:
        data.update(
            min=column.minimum.isoformat() if column.minimum is not None else None,
            max=column.maximum.isoformat() if column.maximum is not None else None,
            date_format=column.plan.date_format,
        )
    if profile.mean_length is not None:
        data["mean_length"] = round(profile.mean_length, 2)
    if profile.is_monotonic_step:
        data["is_monotonic_step"] = True
    return data


def _warnings(analysis: dict[str, Any], dialect: Dialect) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(code: str, message: str, column: str | None = None, level: str = "warning") -> None:
        out.append({"code": code, "level": level, "column": column, "message": message})

    if dialect.encoding != "utf-8":
        add(
            "encoding",
            f"The file is not UTF-8; it was read as {dialect.encoding_label()} text.",
            level="info",
        )
    if dialect.delimiter != "," or dialect.decimal != ".":
        add("dialect", f"Read as {dialect.describe()}.", level="info")
    for raw, name in dialect.renamed_columns:
        shown = f"'{raw}'" if raw.strip() else "A blank header"
        add("renamed_column", f"{shown} was renamed to '{name}' (names must be unique).", name)
    if analysis["empty_rows_skipped"]:
        n = analysis["empty_rows_skipped"]
        add("empty_rows", f"{n:,} empty row{'s' if n != 1 else ''} (every value missing) skipped.")
    for column in analysis["columns"]:
        name = column["name"]
        if column["kind"] == Kind.ID:
            add("id", f"'{name}' looks like an identifier (unique per row): excluded.", name)
        elif column["kind"] == Kind.CONSTANT:
            what = "is empty" if column["family"] == Family.EMPTY else "has a single value"
            add("constant", f"'{name}' {what}: excluded.", name)
        elif column["missing_pct"] >= HIGH_MISSING_PCT:
            add("high_missing", f"'{name}' is {column['missing_pct']:g}% missing.", name)
        if column.get("unit") and column.get("invalid"):
            n = column["invalid"]
            add(
                "not_in_unit",
                f"'{name}' holds numbers in {column['unit']}; {n:,} value{'s' if n != 1 else ''} "
                "in another unit or not a number will be read as missing.",
                name,
                level="info",
            )
    if analysis["unique_approximate"]:
        add(
            "approximate_unique",
            f"Unique counts above {analysis['unique_exact_limit']:,} distinct values are "
            "estimates (within about 1%).",
            level="info",
        )
    if analysis["suggested_target"] is None:
        add(
            "no_target",
            "No column looks like a usable target (each is an identifier, constant, free text "
            "or a date). You can still pick one, but training may refuse it.",
        )
    return out
