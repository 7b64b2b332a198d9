"""Formatting for job pages: durations, timestamps, metric names and values."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from training_image.contract import METRIC_LABELS, estimator_label, parse_time

register = template.Library()

EXTRA_METRIC_LABELS = {
    "precision": "Precision",
    "recall": "Recall",
    "f1_weighted": "F1 (weighted)",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "balanced_accuracy": "Balanced accuracy",
    "mse": "MSE",
    "training_time": "Training time",
}


@register.filter
def duration(seconds: Any) -> str:
    """`75` -> `1m 15s`; `3725` -> `1h 02m`; empty for missing values."""
    try:
        total = float(seconds)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(total) or total < 0:
        return ""
    if total < 10:
        return f"{total:.1f}s"
    total = int(round(total))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def ago(moment: dt.datetime, now: dt.datetime) -> str:
    """How long ago `moment` was, as people say it: "just now", "3 min ago", "Dec 3"."""
    seconds = (now - moment).total_seconds()
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86_400:
        return f"{round(seconds / 3600)} h ago"
    if seconds < 7 * 86_400:
        days = round(seconds / 86_400)
        return f"{days} day{'s' if days != 1 else ''} ago"
    return f"{moment:%b} {moment.day}" + (f", {moment.year}" if moment.year != now.year else "")


@register.filter
def when(value: Any) -> str:
    """A record timestamp as `<time>`: "3 min ago", with the exact time in the tooltip.

    static/js/time.js turns the tooltip into the reader's local time and keeps the words
    current; without it they read in UTC.
    """
    moment = isotime(value)
    if moment is None:
        return mark_safe('<span class="muted">—</span>')
    return format_html(
        '<time datetime="{}" data-when="ago" title="{} UTC">{}</time>',
        moment.isoformat(),
        f"{moment:%b} {moment.day}, {moment:%Y %H:%M:%S}",
        ago(moment, dt.datetime.now(dt.UTC)),
    )


@register.filter
def local_time(value: Any) -> str:
    """A record timestamp as `<time>` in full (time.js shows it in the reader's time zone)."""
    moment = isotime(value)
    if moment is None:
        return mark_safe('<span class="muted">—</span>')
    return format_html(
        '<time datetime="{}" data-when="local">{} UTC</time>',
        moment.isoformat(),
        f"{moment:%b} {moment.day}, {moment:%Y %H:%M:%S}",
    )


@register.filter
def isotime(value: Any) -> dt.datetime | None:
    """An ISO-8601 string from a record as an aware datetime (for the `date` filter)."""
    if isinstance(value, dt.datetime):
        return value
    try:
        return parse_time(value) if value else None
    except ValueError:
        return None


@register.filter
def seconds_between(start: Any, end: Any) -> float | None:
    """Seconds from one ISO timestamp to another (None when either is missing)."""
    a, b = isotime(start), isotime(end)
    if a is None or b is None:
        return None
    return (b - a).total_seconds()


@register.filter
def metric_label(name: Any) -> str:
    name = str(name)
    return METRIC_LABELS.get(name) or EXTRA_METRIC_LABELS.get(name) or name.replace("_", " ")


register.filter("estimator_label", estimator_label)


@register.filter
def metric_value(value: Any, digits: int = 4) -> str:
    """A metric with `digits` significant decimals; large values keep thousands separators."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    if not math.isfinite(value):
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.{int(digits)}f}"


@register.filter
def job_cost_usd(job: Any) -> float | None:
    """What a finished job cost on AWS Fargate Spot (None while it runs)."""
    from jobs.selectors import job_cost

    return job_cost(job)["cost_usd"]


@register.filter
def usd(value: Any) -> str:
    """Dollars as a bill shows them: "$0.0023" under a cent, "$0.53", "$12.30"."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    if 0 < value < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


# Metrics read as a share, shown as a percentage (MAPE 0.082 is "8.2%").
PERCENT_METRICS = frozenset({"mape"})


@register.filter
def metric_text(value: Any, name: Any) -> str:
    """A metric's value as people read it: `value|metric_text:name`."""
    if str(name) in PERCENT_METRICS:
        return percent(value, 1)
    return metric_value(value, 4)


@register.filter
def percent(value: Any, digits: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """`mapping|get_item:key` for dict keys that are not identifiers (column names)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def label(value: Any) -> str:
    """Snake case to words: `out_of_memory` -> `out of memory`."""
    return str(value or "").replace("_", " ")


@register.filter
def job_score(job: Any) -> float | None:
    """The job's own metric on the test set (what it was optimised for)."""
    metrics = getattr(job, "metrics", None) or {}
    value = metrics.get(getattr(job, "metric", None) or "")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@register.filter
def job_duration(job: Any) -> float | None:
    """Seconds the job ran: its training time, else start to finish."""
    metrics = getattr(job, "metrics", None) or {}
    value = metrics.get("training_time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return seconds_between(getattr(job, "started_at", None), getattr(job, "completed_at", None))


@register.filter
def problem_label(value: Any) -> str:
    return {
        "binary": "Binary classification",
        "multiclass": "Multiclass classification",
        "regression": "Regression",
    }.get(str(value or ""), "Auto-detect")


@register.filter
def problem_short(value: Any) -> str:
    return {"binary": "Binary", "multiclass": "Multiclass", "regression": "Regression"}.get(
        str(value or ""), "Auto"
    )
