"""Chart geometry for the results page: SVG polylines, scatter points and bar widths.

Pure functions over lists of numbers; the templates draw the shapes with the classes
of `static/css/app.css` (`svg.chart`, `.bars`, `.cm`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 320
HEIGHT = 240
PAD = 32
MAX_POINTS = 400  # points drawn per curve or scatter: enough for the eye, small pages


@dataclass(frozen=True)
class Axis:
    low: float
    high: float

    def scale(self, value: float, start: float, end: float) -> float:
        span = self.high - self.low or 1.0
        return start + (value - self.low) / span * (end - start)


def _finite(values: Any) -> list[float]:
    out: list[float] = []
    for v in values or []:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return []
        out.append(float(v))
    return out


def _thin(n: int) -> list[int]:
    """Indices of at most MAX_POINTS evenly spread items (always keeps the last)."""
    if n <= MAX_POINTS:
        return list(range(n))
    step = n / MAX_POINTS
    picked = sorted({int(i * step) for i in range(MAX_POINTS)} | {n - 1})
    return picked


def polyline(xs: Sequence[float], ys: Sequence[float], *, unit: bool = True) -> str:
    """SVG `points` for a curve in the chart box; `unit` fixes both axes to [0, 1]."""
    xs, ys = _finite(xs), _finite(ys)
    if not xs or len(xs) != len(ys):
        return ""
    x_axis = Axis(0.0, 1.0) if unit else Axis(min(xs), max(xs))
    y_axis = Axis(0.0, 1.0) if unit else Axis(min(ys), max(ys))
    points = []
    for i in _thin(len(xs)):
        x = x_axis.scale(xs[i], PAD, WIDTH - 8)
        y = y_axis.scale(ys[i], HEIGHT - PAD, 8)
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def scatter(predicted: Sequence[float], actual: Sequence[float]) -> dict[str, Any] | None:
    """Predicted-vs-actual dots on shared axes, with the y = x diagonal."""
    xs, ys = _finite(predicted), _finite(actual)
    if not xs or len(xs) != len(ys):
        return None
    axis = Axis(min(min(xs), min(ys)), max(max(xs), max(ys)))
    dots = [
        (
            round(axis.scale(xs[i], PAD, WIDTH - 8), 1),
            round(axis.scale(ys[i], HEIGHT - PAD, 8), 1),
        )
        for i in _thin(len(xs))
    ]
    return {
        "dots": dots,
        "diagonal": (PAD, HEIGHT - PAD, WIDTH - 8, 8),
        "low": axis.low,
        "high": axis.high,
    }


def bars(items: Sequence[tuple[str, float]], *, limit: int = 20) -> list[dict[str, Any]]:
    """Horizontal bars (percent widths of the largest absolute value), largest first."""
    clean = [(str(name), float(v)) for name, v in items if _finite([v])]
    clean.sort(key=lambda item: abs(item[1]), reverse=True)
    clean = clean[:limit]
    top = max((abs(v) for _, v in clean), default=0.0) or 1.0
    return [
        {"name": name, "value": value, "width": round(abs(value) / top * 100, 1)}
        for name, value in clean
    ]


def heatmap(matrix: Sequence[Sequence[Any]]) -> list[list[dict[str, Any]]]:
    """Confusion-matrix cells with a 0-1 shade relative to the row total (recall per class)."""
    rows: list[list[dict[str, Any]]] = []
    for row in matrix or []:
        values = [v if isinstance(v, int | float) else 0 for v in row]
        total = sum(values) or 1
        rows.append(
            [
                {"value": v, "shade": round(v / total, 3), "pct": round(v / total * 100)}
                for v in values
            ]
        )
    return rows
