"""HTML building blocks of both reports: escaping, number formatting, the page shell.

Helpers escape what they are given unless it is `Safe` (HTML they built): data never becomes markup.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any


class Safe(str):
    """A string of HTML that is already escaped (built by the report helpers)."""

    __slots__ = ()


def esc(value: Any) -> Safe:
    """`value` as HTML text: escaped unless it is already `Safe`."""
    return value if isinstance(value, Safe) else Safe(html.escape(str(value), quote=True))


def join(parts: Iterable[Any]) -> Safe:
    return Safe("".join(esc(p) for p in parts))


def tag(name: str, parts: Iterable[Any], cls: str = "") -> Safe:
    """`<name class=cls>parts</name>`; `name` and `cls` are fixed strings, never user data."""
    attr = f' class="{cls}"' if cls else ""
    return Safe(f"<{name}{attr}>{join(parts)}</{name}>")


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def num(value: Any, digits: int = 4) -> str:
    """A number for people: thousands separators, 4 decimals for scores, `—` for missing."""
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return "—" if value is None else str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    x = float(value)
    if not math.isfinite(x):
        return "—" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    if x == 0:
        return "0"
    if abs(x) >= 1e7 or abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:,.1f}" if abs(x) >= 1000 else f"{x:.2f}" if abs(x) >= 100 else f"{x:.{digits}f}"


def compact(value: Any) -> str:
    """A number in at most 4 significant digits: axis ticks and summary statistics."""
    if not is_number(value) or not math.isfinite(float(value)) or float(value) == 0:
        return num(value)
    x = float(value)
    return (f"{x:,.0f}" if abs(x) < 1e9 else f"{x:.3g}") if abs(x) >= 1e4 else f"{x:.4g}"


def pct(share: float | None) -> str:
    return "—" if share is None or share != share else f"{share * 100:.1f}%"


def short(text: Any, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def badge(text: Any, tone: str = "neutral") -> Safe:
    """A pill; tone is one of neutral, accent, ok, warn, bad."""
    return Safe(f'<span class="badge {tone}">{esc(text)}</span>')


def callout(body: Any, tone: str = "warn") -> Safe:
    return Safe(f'<div class="callout {tone}">{esc(body)}</div>')


def table(headers: Sequence[Any], rows: Iterable[Sequence], numeric=(), highlight=None) -> Safe:
    """A table (empty without rows); `numeric` columns are right-aligned, `highlight`ed rows tinted."""
    if not (rows := list(rows)):
        return Safe("")

    def cells(kind: str, row: Sequence[Any]) -> str:
        cls = [" class=num" if i in numeric else "" for i in range(len(row))]
        return "".join(f"<{kind}{c}>{esc(v)}</{kind}>" for c, v in zip(cls, row, strict=True))

    tint = [" class=hl" if highlight and highlight(r) else "" for r in range(len(rows))]
    body = "".join(f"<tr{t}>{cells('td', row)}</tr>" for t, row in zip(tint, rows, strict=True))
    head = f"<thead><tr>{cells('th', headers)}</tr></thead>"
    return Safe(f'<div class="scroll"><table>{head}<tbody>{body}</tbody></table></div>')


def facts(pairs: Iterable[tuple[Any, Any]]) -> Safe:
    """A compact definition list of label/value pairs."""
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in pairs)
    return Safe(f'<dl class="facts">{items}</dl>')


def kpis(tiles: Iterable[tuple[Any, Any, Any]]) -> Safe:
    """Headline tiles: (label, value, note)."""
    tile = '<div class="kpi"><small>{}</small><b>{}</b><small>{}</small></div>'
    return tag("div", (Safe(tile.format(*map(esc, t))) for t in tiles), "kpis")


def section(anchor: str, title: str, body: Any, intro: Any = "") -> tuple[str, str, Safe]:
    """One card of the page; `anchor` is a fixed identifier, never user data."""
    lead = f'<p class="intro">{esc(intro)}</p>' if intro else ""
    html_ = f'<section class="card" id="{anchor}"><h2>{esc(title)}</h2>{lead}{esc(body)}</section>'
    return anchor, title, Safe(html_)


_LIGHT = (
    "--bg:#f6f7fb;--card:#fff;--text:#111827;--muted:#6b7280;--line:#e5e7eb;--grid:#eef0f4;"
    "--accent:#4f46e5;--accent-soft:#eef2ff;--on-accent:#fff;--neutral:#94a3b8;"
    "--ok:#047857;--ok-bg:#ecfdf5;--warn:#b45309;--warn-bg:#fffbeb;--bad:#b91c1c;--bad-bg:#fef2f2"
)
_DARK = (
    "--bg:#0b0f19;--card:#131a2a;--text:#e5e7eb;--muted:#9ca3af;--line:#263041;--grid:#1c2434;"
    "--accent:#818cf8;--accent-soft:#1e1b4b;--on-accent:#0b0f19;--neutral:#64748b;"
    "--ok:#34d399;--ok-bg:#052e25;--warn:#fbbf24;--warn-bg:#2d1f05;--bad:#f87171;--bad-bg:#2d0f0f"
)
# One accent colour, system fonts, rounded cards; dark mode swaps the variables only.
CSS = """:root{color-scheme:light dark;LIGHT} @media (prefers-color-scheme:dark){:root{DARK}}
*{box-sizing:border-box} .muted{color:var(--muted)} .scroll{overflow-x:auto}
body{margin:0;background:var(--bg);color:var(--text);
 font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.wrap{max-width:1180px;margin:0 auto;padding:0 24px 40px} header .wrap{padding:20px 24px 16px}
header{background:var(--card);border-bottom:1px solid var(--line);margin-bottom:20px}
.brand{color:var(--accent);font-weight:700;font-size:12px;letter-spacing:.08em;text-transform:uppercase}
h1{font-size:24px;margin:4px 0 6px} h2{font-size:17px;margin:0 0 12px}
h3{font-size:14px;margin:0;overflow-wrap:anywhere} .card>h3{margin:16px 0 6px}
.sub{color:var(--muted);margin:0 0 10px;overflow-wrap:anywhere}
nav{display:flex;flex-wrap:wrap;gap:6px;margin-top:12px} nav a{color:var(--accent);
 background:var(--accent-soft);border-radius:999px;padding:2px 10px;text-decoration:none;font-size:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;
 margin:0 0 16px;box-shadow:0 1px 2px rgba(0,0,0,.04)} .intro{color:var(--muted);margin:-6px 0 12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:14px;align-items:start}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}
.col{border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.col-head{display:flex;justify-content:space-between;align-items:flex-start;gap:8px;margin-bottom:6px}
.badges{display:flex;flex-wrap:wrap;gap:4px;justify-content:flex-end} .left{justify-content:flex-start}
.badge{display:inline-block;border-radius:999px;padding:1px 8px;font-size:11px;font-weight:600;
 white-space:nowrap;background:var(--grid);color:var(--muted)}
.badge.accent{background:var(--accent-soft);color:var(--accent)}
.badge.ok{background:var(--ok-bg);color:var(--ok)} .badge.warn{background:var(--warn-bg);color:var(--warn)}
.badge.bad{background:var(--bad-bg);color:var(--bad)}
.callout{border-radius:8px;padding:10px 12px;margin:0 0 10px;border-left:4px solid}
.callout.warn{background:var(--warn-bg);border-color:var(--warn)}
.callout.bad{background:var(--bad-bg);border-color:var(--bad)}
.callout.ok{background:var(--ok-bg);border-color:var(--ok)}
.callout.accent{background:var(--accent-soft);border-color:var(--accent)}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin-bottom:14px}
.kpi{border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.kpi small{display:block;color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.kpi b{display:block;font-size:20px;font-weight:650;overflow-wrap:anywhere}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:4px 12px;margin:6px 0}
.col .facts{grid-template-columns:repeat(auto-fill,minmax(84px,1fr))} .facts dt{color:var(--muted);font-size:11px}
.facts dd{margin:0;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:13px} td{border-bottom:1px solid var(--grid);
 padding:6px 8px;overflow-wrap:anywhere} th{text-align:left;color:var(--muted);font-weight:600;
 font-size:12px;border-bottom:1px solid var(--line);padding:6px 8px}
.num{text-align:right;font-variant-numeric:tabular-nums} tr.hl td{background:var(--accent-soft)}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:anywhere}
figure{margin:8px 0 0} figcaption{color:var(--muted);font-size:12px;margin-bottom:4px}
svg.chart{width:100%;height:auto;display:block;font-size:12px} .chart text{fill:var(--muted)}
.chart .lab{fill:var(--text)} .chart .on{fill:var(--on-accent)} .chart .bar.neg{fill:var(--neutral)}
.chart .bar,.chart .cell{fill:var(--accent)} .chart .axis{stroke:var(--line)} .chart .gridl{stroke:var(--grid)}
.chart .ref{stroke:var(--neutral);stroke-dasharray:4 4;fill:none}
.chart .s0{stroke:var(--accent);fill:none;stroke-width:2} .chart .s1{stroke:var(--neutral);fill:none;stroke-width:2}
.chart .d0{fill:var(--accent);fill-opacity:.45} .chart .d1{fill:var(--neutral);fill-opacity:.6}
footer{color:var(--muted);font-size:12px;text-align:center;padding:8px}
@media print{:root{LIGHT} body{background:#fff;font-size:12px} nav{display:none}
 .card,.col,.kpi,figure{break-inside:avoid} .card{box-shadow:none} .wrap{max-width:none;padding:0 8px}}
""".replace("LIGHT", _LIGHT).replace("DARK", _DARK)


def page(title: str, subtitle: Any, badges: Iterable[Safe], sections: Sequence, footer: str) -> str:
    """The complete, self-contained HTML document: inline CSS, no scripts, no external loads."""
    nav = "".join(f'<a href="#{anchor}">{esc(name)}</a>' for anchor, name, _ in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="color-scheme" content="light dark"><title>{esc(title)}</title>'
        f'<style>{CSS}</style></head><body><header><div class="wrap">'
        f'<div class="brand">AutoML Lite</div><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>'
        f'<div class="badges left">{join(badges)}</div><nav>{nav}</nav></div></header>'
        f'<main class="wrap">{"".join(body for _, _, body in sections)}</main>'
        f"<footer>{esc(footer)}</footer></body></html>"
    )
