"""Inline SVG charts for the reports: bars, histograms, x/y curves and scatters, heatmaps.

Drawn in Python so reports load nothing; colours are CSS classes, so SVG follows dark mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from training_image.report.page import Safe, compact, esc, num, short

W, H = 560, 280
CARD = (380, 210)  # charts inside a small card are drawn narrower, so their text stays legible
LEFT, RIGHT, TOP, BOTTOM = 58, 16, 14, 44
MAX_POINTS = 2000  # points drawn per series; more only makes the file bigger

Fmt = Callable[[float], str]
MID, END, LAB = 'text-anchor="middle"', 'class="lab" text-anchor="end"', 'class="lab"'


def _svg(width: float, height: float, label: str, body: str) -> Safe:
    # Charts shrink with their card but never grow past 1.25x, so text stays a readable size.
    size = f'viewBox="0 0 {width:.0f} {height:.0f}" style="max-width:{width * 1.25:.0f}px"'
    return Safe(f'<svg class="chart" {size} role="img" aria-label="{esc(label)}">{body}</svg>')


def _text(x: float, y: float, text: Any, attrs: str = "", title: Any = None) -> str:
    hover = f"<title>{esc(title)}</title>" if title is not None else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" {attrs}>{hover}{esc(text)}</text>'


def _line(cls: str, x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line class="{cls}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>'


def figure(caption: Any, chart: Safe) -> Safe:
    return Safe(f"<figure><figcaption>{esc(caption)}</figcaption>{chart}</figure>" if chart else "")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if raw <= step * m)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _span(values: Sequence[float], pad: float = 0.0) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi == lo:
        return lo - 0.5, hi + 0.5
    return lo - (hi - lo) * pad, hi + (hi - lo) * pad


def thin(values: Sequence[Any], limit: int = MAX_POINTS) -> list[Any]:
    """At most `limit` evenly spaced items, keeping the first and last (curves keep their ends)."""
    values = list(values)
    if len(values) <= limit:
        return values
    step = (len(values) - 1) / (limit - 1)
    return [values[round(i * step)] for i in range(limit)]


class _Frame:
    """Maps data coordinates to the SVG plot area and draws the axes."""

    def __init__(self, xr, yr, labels: tuple[str, str], x_fmt: Fmt = compact, size=(W, H)):
        (self.x0, self.x1), (self.y0, self.y1), self.labels = xr, yr, labels
        self.w, self.h, self.x_fmt = *size, x_fmt

    def sx(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (self.w - LEFT - RIGHT)

    def sy(self, y: float) -> float:
        return self.h - BOTTOM - (y - self.y0) / (self.y1 - self.y0) * (self.h - TOP - BOTTOM)

    def axes(self) -> str:
        w, base = self.w, self.h - BOTTOM
        out = [_line("axis", LEFT, base, w - RIGHT, base)]
        for t in nice_ticks(self.y0, self.y1):
            out.append(_line("gridl", LEFT, self.sy(t), w - RIGHT, self.sy(t)))
            out.append(_text(LEFT - 6, self.sy(t) + 4, compact(t), 'text-anchor="end"'))
        # About one x tick per 80 px: room for a date label each.
        for t in nice_ticks(self.x0, self.x1, max(4, w // 80)):
            out.append(_text(self.sx(t), base + 16, self.x_fmt(t), MID))
        out.append(_text((LEFT + w - RIGHT) / 2, self.h - 6, self.labels[0], MID))
        turn = f'transform="rotate(-90 13 {(TOP + base) / 2:.0f})" {MID}'
        out.append(_text(13, (TOP + base) / 2, self.labels[1], turn))
        return "".join(out)


def hbar(items: Sequence[tuple[Any, float]], label: str, fmt: Fmt = num, signed=False, width=W):
    """Horizontal bars, name left and value right; `signed` grows bars both ways from zero."""
    if not items:
        return Safe("")
    row, value_w, label_w = 24, 112, 190 if width >= 500 else 110
    plot_w = width - label_w - value_w
    two_sided = signed and any(v < 0 for _, v in items)
    zero = label_w + (plot_w / 2 if two_sided else 0)
    scale = (plot_w / 2 if two_sided else plot_w) / (max(abs(v) for _, v in items) or 1.0)
    out = []
    for i, (name, value) in enumerate(items):
        y, bar_w = 4 + i * row, max(abs(value) * scale, 1.0)
        x = zero if value >= 0 else zero - bar_w
        rect = f'x="{x:.1f}" y="{y + 4}" width="{bar_w:.1f}" height="{row - 8}" rx="3"'
        out.append(f"<g><title>{esc(name)}: {esc(fmt(value))}</title>")
        out.append(_text(label_w - 8, y + 16, short(name, label_w // 8), END))
        out.append(f'<rect class="bar{" neg" if value < 0 else ""}" {rect}/>')
        out.append(_text(width - value_w + 8, y + 16, fmt(value)) + "</g>")
    height = 8 + row * len(items)
    if two_sided:
        out.append(_line("axis", zero, 0, zero, height))
    return _svg(width, height, label, "".join(out))


def histogram(counts, edges, label: str, x_label="", x_fmt: Fmt = compact, size=(W, H)) -> Safe:
    """Vertical bars over bin edges (len(edges) == len(counts) + 1)."""
    if not len(counts):
        return Safe("")
    xr = (float(edges[0]), float(edges[-1])) if edges[-1] > edges[0] else _span(list(edges))
    frame = _Frame(xr, (0.0, float(max(counts)) or 1.0), (x_label, "rows"), x_fmt, size)
    bars = []
    for c, lo, hi in zip(counts, edges[:-1], edges[1:], strict=True):
        x, y, tip = frame.sx(lo), frame.sy(c), f"{x_fmt(lo)} – {x_fmt(hi)}: {num(int(c))} rows"
        geo = f'x="{x + 0.5:.1f}" y="{y:.1f}" width="{max(frame.sx(hi) - x - 1, 1):.1f}"'
        bars.append(f'<rect class="bar" {geo} height="{frame.sy(0) - y:.1f}" rx="1.5">')
        bars.append(f"<title>{esc(tip)}</title></rect>")
    return _svg(*size, label, frame.axes() + "".join(bars))


def xy_chart(series: list, label: str, axes: tuple[str, str], xr=None, yr=None, refs=()) -> Safe:
    """Curves and scatters. Each series: {x, y, style: line|step|dots, name, tone: 0|1}.

    Tone 0 is the accent colour, tone 1 the neutral one. `refs` are dashed reference segments
    (x1, y1, x2, y2): a diagonal, a zero line.
    """
    series = [s for s in series if len(s["x"])]
    if not series:
        return Safe("")
    xs = [float(v) for s in series for v in s["x"]]
    ys = [float(v) for s in series for v in s["y"]]
    frame = _Frame(xr or _span(xs, 0.02), yr or _span(ys, 0.05), axes)
    sx, sy = frame.sx, frame.sy
    out = [frame.axes()]
    out += [_line("ref", sx(x1), sy(y1), sx(x2), sy(y2)) for x1, y1, x2, y2 in refs]
    for s in series:
        tone, style = s.get("tone", 0), s.get("style", "line")
        pts = [(float(x), float(y)) for x, y in thin(list(zip(s["x"], s["y"], strict=True)))]
        pts = [(x, y) for x, y in pts if math.isfinite(x) and math.isfinite(y)]
        if style == "dots":
            dot = '<circle class="d{}" cx="{:.1f}" cy="{:.1f}" r="2.6"/>'
            out += [dot.format(tone, sx(x), sy(y)) for x, y in pts]
            continue
        if style == "step":  # hold each value until the next point
            steps = zip(pts, pts[1:], strict=False)
            pts = pts[:1] + [p for prev, cur in steps for p in ((cur[0], prev[1]), cur)]
        path = "".join(f"L{sx(x):.1f},{sy(y):.1f}" for x, y in pts).replace("L", "M", 1)
        out.append(f'<path class="s{tone}" d="{path}"/>')
    named = [s for s in series if s.get("name")]
    x = LEFT  # the legend sits under the axis, left of its title, so it never hides data
    for s in named if len(named) > 1 else []:
        cls = f"{'d' if s.get('style') == 'dots' else 's'}{s.get('tone', 0)}"
        if s.get("style") == "dots":
            out.append(f'<circle class="{cls}" cx="{x + 4}" cy="{H - 10}" r="4"/>')
        else:
            out.append(_line(cls, x, H - 10, x + 14, H - 10))
        out.append(_text(x + 18, H - 6, short(s["name"], 16), LAB))
        x += 30 + 7 * min(len(str(s["name"])), 16)
    return _svg(W, H, label, "".join(out))


def heatmap(labels: Sequence[Any], matrix: Sequence[Sequence[float]], label: str) -> Safe:
    """A confusion-matrix heatmap: rows are actual classes, columns predicted.

    Shade is the row share (recall on the diagonal), so small classes stay readable.
    """
    n = len(labels)
    if not n or len(matrix) != n:
        return Safe("")
    cell = max(14.0, min(56.0, 440.0 / n))
    chars = max(2, int(cell / 6.5))
    # Column labels that do not fit under their cell are slanted instead of cut short.
    slant = any(len(str(v)) > chars for v in labels)
    left, top, base = 150, 10, 10 + n * cell
    width = left + cell * n + 10
    height = base + (5 * min(max(len(str(v)) for v in labels), 18) if slant else 16) + 34
    font = max(8.0, min(13.0, cell / 3))
    out = []
    for r, row in enumerate(matrix):
        total, y = sum(row) or 1, top + r * cell
        out.append(_text(left - 8, y + cell / 2 + 4, short(labels[r], 17), END, labels[r]))
        for c, value in enumerate(row):
            share, x = value / total, left + c * cell
            tip = f"actual {labels[r]}, predicted {labels[c]}: {num(value)} ({share:.1%})"
            geo = f'x="{x:.1f}" y="{y:.1f}" width="{cell - 2:.1f}" height="{cell - 2:.1f}" rx="3"'
            shade = f'fill-opacity="{0.06 + 0.94 * share:.3f}"'
            out.append(f'<rect class="cell" {geo} {shade}><title>{esc(tip)}</title></rect>')
            if cell >= 22:  # numbers only where they fit
                attrs = f'class="{"on" if share > 0.5 else "lab"}" {MID} font-size="{font:.0f}"'
                out.append(_text(x + cell / 2 - 1, y + cell / 2 + font / 3, num(value), attrs))
    for c in range(n):
        x = left + c * cell + cell / 2
        if slant:
            attrs = f'{END} transform="rotate(-40 {x:.1f} {base + 12})"'
            out.append(_text(x, base + 12, short(labels[c], 18), attrs, labels[c]))
        else:
            out.append(_text(x, base + 14, short(labels[c], chars), f"{LAB} {MID}", labels[c]))
    middle = top + n * cell / 2
    out.append(_text(left + n * cell / 2, height - 8, "predicted", MID))
    out.append(_text(14, middle, "actual", f'{MID} transform="rotate(-90 14 {middle:.0f})"'))
    return _svg(width, height, label, "".join(out))
