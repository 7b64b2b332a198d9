"""The EDA report: what the data looks like before training, as one self-contained HTML page."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from training_image import detection
from training_image.contract import utcnow
from training_image.detection import DROPPED_KINDS, KIND_REASONS, ColumnProfile, Kind
from training_image.report import page as h
from training_image.report import svg
from training_image.report.page import Safe, compact, num, pct

SAMPLE_ROWS = 50_000  # above this, statistics, charts and checks use a random sample
MAX_COLUMN_CARDS = 200
HIGH_MISSING = 0.3
HIGH_CARDINALITY = 50
LEAKAGE_SCORE = 0.98
TOP_VALUES = 10
TOP_CORRELATIONS = 15
NUMERIC_KINDS = frozenset({Kind.NUMERIC, Kind.INTEGER})


def eda_report(
    df: pd.DataFrame, target: str, profiles: list[ColumnProfile], kinds: dict[str, str]
) -> str:
    """Render the exploratory data analysis page.

    Args:
        df: The dataset as loaded (all rows).
        target: The column to predict.
        profiles: One `ColumnProfile` per column (from detection), for unique counts and kinds.
        kinds: Column name -> `Kind` value, as the pipeline will treat it.

    Returns:
        A complete HTML document with inline CSS and SVG charts.

    Raises:
        ValueError: The target is not a column, or column names repeat.
    """
    df = df.set_axis([str(c) for c in df.columns], axis=1)
    if df.columns.duplicated().any():
        repeated = ", ".join(sorted(set(df.columns[df.columns.duplicated()])))
        raise ValueError(f"Column names must be unique; repeated: {repeated}")
    if target not in df.columns:
        raise ValueError(f"Target column {target!r} is not in the data")
    n_rows, n_cols = df.shape
    sampled = n_rows > SAMPLE_ROWS
    sample = df.sample(n=SAMPLE_ROWS, random_state=0) if sampled else df
    by_name = {str(p.name): p for p in profiles}
    guess = {c: detection.column_kind(p) for c, p in by_name.items()}
    kind = {c: str(kinds.get(c) or guess.get(c) or Kind.CATEGORICAL) for c in df.columns}
    missing = df.isna().sum()
    task = detection.problem_type(by_name[target]) if target in by_name else None

    issues = _issues(sample, target, task, kind, missing, n_rows, by_name)
    rows = [(h.badge(label, tone), column, text) for tone, label, column, text in issues]
    warned = h.table(["", "Column", "Detail"], rows) or h.callout("Nothing stands out.", "ok")
    sections = [
        h.section("overview", "Overview", _overview(df, sampled, kind, missing, task, target)),
        h.section("warnings", "Warnings", warned),
        h.section("target", "Target", _target(sample[target], task, int(missing[target]))),
    ]
    assoc_label, assoc = _associations(sample, target, task, kind)
    if assoc:
        top = sorted(assoc, key=lambda item: -abs(item[1]))[:TOP_CORRELATIONS]
        chart = svg.hbar(top, (title := "Correlation with the target"), signed=True)
        sections.append(h.section("correlations", title, chart, assoc_label))
    ordered = [target] + [c for c in df.columns if c != target]
    cards = [
        _column_card(sample[c], kind[c], int(missing[c]), n_rows, by_name.get(c), c == target)
        for c in ordered[:MAX_COLUMN_CARDS]
    ]
    more = f"Showing the first {MAX_COLUMN_CARDS:,} of {n_cols:,} columns."
    note = h.callout(more, "accent") if n_cols > MAX_COLUMN_CARDS else ""
    sections.append(h.section("columns", "Columns", h.join([note, h.tag("div", cards, "grid")])))
    badges = [h.badge(detection.problem_type_label(task), "accent")]
    if sampled:
        badges.append(h.badge(f"sampled: {SAMPLE_ROWS:,} rows", "warn"))
    subtitle = f"Target: {target} · {n_rows:,} rows × {n_cols:,} columns"
    footer = f"AutoML Lite · exploratory data analysis · generated {utcnow()}"
    return h.page("Data report", subtitle, badges, sections, footer)


def _numeric(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype("float64")  # nullable NA becomes NaN


def _datetimes(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # format inference warnings say nothing to the user
        try:
            return pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
        except (ValueError, TypeError, OverflowError):
            return pd.Series(pd.NaT, index=s.index)


def _overview(df, sampled, kind, missing, task, target) -> Safe:
    n_rows, n_cols = df.shape
    try:
        # Hashing rows is much cheaper than comparing them, so this counts over every row.
        dupes: int | None = int(pd.util.hash_pandas_object(df, index=False).duplicated().sum())
    except TypeError:
        dupes = None
    size = df.memory_usage(deep=True).sum()
    memory = f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.0f} kB"
    tiles = [
        ("Rows", num(n_rows), ""),
        ("Columns", num(n_cols), f"{num(n_cols - 1)} features + target"),
        ("Missing cells", num(int(missing.sum())), pct(missing.sum() / max(n_rows * n_cols, 1))),
        ("Duplicate rows", num(dupes), pct(dupes / n_rows) if dupes is not None and n_rows else ""),
        ("Memory", memory, "in memory, as loaded"),
    ]
    parts = [h.kpis(tiles)]
    note = f"This dataset has {n_rows:,} rows. Statistics, charts, correlations and leakage checks"
    note += (
        f" use a random sample of {SAMPLE_ROWS:,} rows; row, missing and duplicate counts use all."
    )
    parts += [h.callout(note, "accent")] if sampled else []
    label = detection.problem_type_label(task)
    parts.append(h.facts([("Target", target), ("Problem type", label)]))
    counts = pd.Series(list(kind.values())).value_counts()
    kinds_line = [h.badge(f"{k}: {v}") for k, v in counts.items()]
    parts.append(h.tag("div", ["Column kinds:", *kinds_line], "badges left muted"))
    return h.join(parts)


def _target(y: pd.Series, task: str | None, n_missing: int) -> Safe:
    note = f"{n_missing:,} rows have no target value; training drops them."
    parts = [h.callout(note)] if n_missing else []
    if task == "regression":
        parts.append(_numeric_body(_numeric(y).dropna(), "target", size=(svg.W, svg.H)))
    else:
        counts = y.value_counts(dropna=True)
        total = int(counts.sum()) or 1
        items = [(str(k), float(v)) for k, v in counts.head(30).items()]
        caption = f"{len(counts):,} classes" + (" (30 most frequent)" if len(counts) > 30 else "")
        chart = svg.hbar(items, "class counts", fmt=lambda v: _count_share(v, total))
        parts.append(svg.figure(caption, chart))
    return h.join(parts)


def _associations(sample, target, task, kind) -> tuple[str, list[tuple[str, float]]]:
    """(what the numbers mean, [(feature, value)]) for numeric features against the target."""
    y = sample[target]
    cols = [c for c in sample.columns if c != target and kind[c] in {*NUMERIC_KINDS, Kind.BOOLEAN}]
    x = pd.DataFrame({c: _numeric(sample[c]) for c in cols}, index=sample.index)
    x = x.loc[:, x.notna().any() & (x.nunique() > 1)]
    if x.empty or task is None:
        return "", []
    if task == "multiclass":
        values = {c: _correlation_ratio(x[c], y) for c in x.columns}
        label = "Correlation ratio η (0 to 1) between each numeric feature and the class."
    elif task == "binary":
        positive = sorted(y.dropna().unique(), key=str)[-1]
        values = x.corrwith((y == positive).astype("float64").where(y.notna())).to_dict()
        label = f"Pearson correlation with the target coded 1 = {positive!s}, 0 = the other class."
    else:
        values = x.corrwith(_numeric(y)).to_dict()
        label = "Pearson correlation between each numeric feature and the target."
    return label, [(c, float(v)) for c, v in values.items() if pd.notna(v)]


def _correlation_ratio(x: pd.Series, groups: pd.Series) -> float:
    """η: the share of the spread of `x` explained by the groups, as a correlation (0 to 1)."""
    mask = x.notna() & groups.notna()
    x, groups = x[mask], groups[mask]
    total = ((x - x.mean()) ** 2).sum()
    if not total:
        return float("nan")
    stats = x.groupby(groups).agg(["mean", "count"])
    return float(np.sqrt((stats["count"] * (stats["mean"] - x.mean()) ** 2).sum() / total))


def _leakage(sample, target, task, kind) -> list[tuple[str, str]]:
    """Features that alone predict the target almost perfectly: (column, message)."""
    mask = sample[target].notna()
    y = sample.loc[mask, target]
    if task is None or len(y) < 30:
        return []
    found = []
    baseline = y.value_counts(normalize=True).iloc[0] if task != "regression" else 0.0
    for c in sample.columns:
        if c == target or kind[c] in DROPPED_KINDS or kind[c] == Kind.TEXT:
            continue
        x, is_num = sample.loc[mask, c], kind[c] in NUMERIC_KINDS
        if not is_num and x.nunique() > HIGH_CARDINALITY:
            continue  # many small groups are trivially pure: that is cardinality, not leakage
        if task == "regression":
            yv = _numeric(y)
            score = abs(_numeric(x).corr(yv)) if is_num else _correlation_ratio(yv, x.astype(str))
            if pd.notna(score) and score >= LEAKAGE_SCORE:
                found.append((c, f"its correlation with the target is {score:.3f}"))
            continue
        # Predict the majority class of each value (numbers: ~10-row bins, 10 to 100 of them, fine
        # enough that a clean cut costs little, coarse enough that bins are not pure by chance).
        bins = min(100, max(10, len(y) // 10))
        binned = pd.qcut(_numeric(x), bins, labels=False, duplicates="drop") if is_num else None
        groups = binned.fillna(-1) if is_num else x.astype(str)
        counts = pd.DataFrame({"g": groups, "y": y}).groupby(["g", "y"], observed=True).size()
        score = counts.groupby(level=0).max().sum() / len(y)
        if score >= LEAKAGE_SCORE and (1 - score) <= 0.1 * (1 - baseline):
            message = f"alone it predicts the target with {score:.1%} accuracy"
            found.append((c, f"{message} (majority class: {baseline:.1%})"))
    return found


def _issues(sample, target, task, kind, missing, n_rows, by_name) -> list[tuple[str, ...]]:
    """(tone, label, column, message) for each problem worth a look before training."""
    out = [("bad", "possible leakage", c, text) for c, text in _leakage(sample, target, task, kind)]
    for c, k in ((c, k) for c, k in kind.items() if c != target):
        share = missing[c] / n_rows if n_rows else 0
        if k in DROPPED_KINDS:
            out.append(("warn", k, c, f"{KIND_REASONS[Kind(k)]}; it is not used for training"))
            continue
        if share >= HIGH_MISSING:
            out.append(("warn", "high missing", c, f"{share:.1%} of values are missing"))
        unique = by_name[c].n_unique if c in by_name else sample[c].nunique()
        if k == Kind.CATEGORICAL and unique > HIGH_CARDINALITY:
            text = f"{unique:,} distinct values; encoded for training, rare ones may overfit"
            out.append(("warn", "high cardinality", c, text))
    if missing[target]:
        out.append(("warn", "target missing", target, f"{int(missing[target]):,} rows dropped"))
    if task in ("binary", "multiclass"):
        shares = sample[target].value_counts(normalize=True)
        if len(shares) and shares.iloc[-1] < 0.1:
            text = f"smallest class {shares.index[-1]!s} is {shares.iloc[-1]:.1%} of rows"
            out.append(("warn", "imbalanced", target, text))
    return out


def _count_share(value: float, total: int) -> str:
    return f"{num(int(value))} · {value / total:.1%}"


def _numeric_body(values: pd.Series, name: str, integer=False, size=svg.CARD) -> Safe:
    values = values[np.isfinite(values)]
    if values.empty:
        return h.tag("p", ["No numeric values."], "muted")
    q = values.quantile([0.25, 0.5, 0.75])
    stats = [("mean", values.mean()), ("std", values.std()), ("min", values.min())]
    stats += [("25%", q[0.25]), ("median", q[0.5]), ("75%", q[0.75]), ("max", values.max())]
    lo, hi = float(values.min()), float(values.max())
    # Whole numbers over a short range get one bar each.
    bins = np.arange(lo - 0.5, hi + 1.5) if integer and hi - lo <= 30 else 24
    counts, edges = np.histogram(values, bins=bins)
    chart = svg.histogram(counts, edges, f"distribution of {name}", name, size=size)
    facts = [(k, compact(v)) for k, v in stats] + [("zeros", pct((values == 0).mean()))]
    return h.join([h.facts(facts), chart])


def _column_card(s, kind, n_missing, n_rows, profile: ColumnProfile | None, is_target) -> Safe:
    name, share = str(s.name), n_missing / n_rows if n_rows else 0.0
    unique = profile.n_unique if profile is not None else int(s.nunique())
    tags = [h.badge("target", "accent")] if is_target else []
    tags.append(h.badge(kind, "warn" if kind in DROPPED_KINDS else "neutral"))
    if share >= HIGH_MISSING:
        tags.append(h.badge(f"{share:.0%} missing", "warn"))
    family = profile.family if profile is not None else s.dtype
    missing = f"{num(n_missing)} · {pct(share)}"
    head = h.facts([("type", family), ("missing", missing), ("unique", num(unique))])
    present = s.dropna()
    if kind in DROPPED_KINDS:
        examples = ", ".join(h.short(v, 24) for v in present.astype(str).head(3))
        reason = h.tag("p", [f"{KIND_REASONS[Kind(kind)]}: not used for training."], "muted")
        body = h.join([reason, h.facts([("examples", examples)])])
    elif kind in NUMERIC_KINDS:
        body = _numeric_body(_numeric(present).dropna(), name, kind == Kind.INTEGER)
    elif kind == Kind.DATETIME:
        body = _datetime_body(_datetimes(present).dropna(), name)
    elif kind == Kind.TEXT:
        lengths = present.astype(str).str.len()
        facts = [("mean length", f"{lengths.mean():.0f} chars"), ("longest", f"{lengths.max():,}")]
        body = h.facts(facts + [("example", h.short(v, 80)) for v in present.astype(str).head(2)])
    else:
        counts = present.astype(str).value_counts()
        total = int(counts.sum()) or 1
        items = [(k, float(v)) for k, v in counts.head(TOP_VALUES).items()]
        if len(counts) > TOP_VALUES:
            rest = float(counts.iloc[TOP_VALUES:].sum())
            items.append((f"({len(counts) - TOP_VALUES:,} other values)", rest))
        fmt = lambda v: _count_share(v, total)  # noqa: E731 - a one-use formatter
        body = svg.hbar(items, f"top values of {name}", fmt=fmt, width=svg.CARD[0])
    title = h.tag("div", [h.tag("h3", [name]), h.tag("div", tags, "badges")], "col-head")
    return h.tag("div", [title, head, body], "col")


def _datetime_body(d: pd.Series, name: str) -> Safe:
    if d.empty:
        return h.tag("p", ["No parseable dates."], "muted")
    lo, hi = d.min(), d.max()
    fmt = "%Y-%m-%d" if hi - lo >= pd.Timedelta(days=2) else "%Y-%m-%d %H:%M"
    seconds = (d - pd.Timestamp(0, tz=lo.tz)) / pd.Timedelta(seconds=1)
    counts, edges = np.histogram(seconds, bins=24)
    label = lambda v: pd.Timestamp(v, unit="s").strftime(fmt)  # noqa: E731 - one-use
    chart = svg.histogram(counts, edges, f"dates of {name}", name, label, svg.CARD)
    span = [("first", lo.strftime(fmt)), ("last", hi.strftime(fmt))]
    span.append(("span", f"{(hi - lo).days:,} days"))
    return h.join([h.facts(span), chart])
