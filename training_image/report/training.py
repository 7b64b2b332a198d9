"""The training report: what was trained, how well it does, and the facts of the model card.

Every key of `evaluation` and `card` is optional: a section whose data is absent is left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import accumulate
from typing import Any

from training_image.contract import LOWER_IS_BETTER, METRIC_LABELS, estimator_label, utcnow
from training_image.detection import problem_type_label
from training_image.report import page as h
from training_image.report import svg
from training_image.report.page import Safe, is_number, num

TOP_FEATURES = 20
MAX_ALLOWED_VALUES = 12
ONNX_TOLERANCE = 1e-4  # a larger difference between ONNX and the pickle is worth a warning
_EXTRA_LABELS = {"balanced_accuracy": "Balanced accuracy", "f1_weighted": "F1 (weighted)"}


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key) or _EXTRA_LABELS.get(key) or key.replace("_", " ").capitalize()


def training_report(card: dict, evaluation: dict) -> str:
    """Render the training report page.

    Args:
        card: The model card (model_card.json content).
        evaluation: The evaluation (evaluation.json content).

    Returns:
        A complete HTML document with inline CSS and SVG charts.
    """
    card, ev = card or {}, evaluation or {}
    task = ev.get("problem_type") or card.get("problem_type")
    sections = [
        h.section(anchor, title, body)
        for anchor, title, build in (
            ("summary", "Summary", _summary),
            ("leaderboard", "Leaderboard", _leaderboard),
            ("importance", "Feature importance", _importance),
            ("confusion", "Confusion matrix", _confusion),
            ("curves", "ROC and precision-recall", _curves),
            ("per-class", "Per-class results", _per_class),
            ("residuals", "Residuals", _residuals),
            ("history", "Search history", _history),
            ("data", "Data and split", _data),
            ("dropped", "Dropped columns", _dropped),
            ("leakage", "Leakage warnings", _leakage),
            ("onnx", "ONNX export check", _onnx),
            ("card", "Model card", _card),
        )
        if (body := build(card, ev))
    ]
    badges = [h.badge(problem_type_label(task), "accent")]
    if ev.get("best_estimator"):
        badges.append(h.badge(estimator_label(ev["best_estimator"])))
    if ev.get("leakage_warnings"):
        badges.append(h.badge("leakage warning", "bad"))
    bits = (("Target", card.get("target")), ("Metric", ev.get("metric") and _label(ev)))
    subtitle = " · ".join(f"{k}: {v}" for k, v in (*bits, ("Job", card.get("job_id"))) if v)
    footer = f"AutoML Lite · training report · {card.get('created_at') or utcnow()}"
    return h.page("Training report", subtitle, badges, sections, footer)


def _label(ev: Mapping[str, Any]) -> str:
    return ev.get("metric_label") or metric_label(ev.get("metric") or "score")


def _seconds(value: Any) -> str:
    return f"{num(value, 1)} s" if is_number(value) else "—"


def _rows(ev: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:  # the well-formed entries
    value = ev.get(key)
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _summary(card: dict, ev: dict) -> Safe:
    metric, label = ev.get("metric") or "", _label(ev)
    tests = ev.get("test_metrics") or card.get("metrics") or {}
    tests = {k: v for k, v in tests.items() if is_number(v)}
    baseline = ev.get("baseline") or {}
    base_name, base_metrics = baseline.get("name", "trivial"), baseline.get("metrics") or {}
    task = ev.get("problem_type") or card.get("problem_type")
    tiles = [("Problem type", problem_type_label(task), "")]
    if ev.get("best_estimator"):
        tiles.append(
            ("Best estimator", estimator_label(ev["best_estimator"]), "chosen by the search")
        )
    if is_number(ev.get("validation_score")):
        how = (ev.get("split") or {}).get("validation") or "validation"
        tiles.append((f"Validation {label}", num(ev["validation_score"]), how))
    if metric in tests:
        note = f"baseline {num(base_metrics.get(metric))} ({base_name})"
        note = note if is_number(base_metrics.get(metric)) else "held-out test rows"
        tiles.append((f"Test {label}", num(tests[metric]), note))
    rows = []
    for key, value in tests.items():
        base, delta = base_metrics.get(key), "—"
        if is_number(base):
            gain = (base - value) if key in LOWER_IS_BETTER else (value - base)
            verdict = h.badge("better", "ok") if gain > 0 else h.badge("not better", "warn")
            delta = h.join([f"{'+' if value >= base else '−'}{num(abs(value - base))} ", verdict])
        rows.append((metric_label(key), num(value), num(base if is_number(base) else None), delta))
    keys = list(tests)
    headers = ["Test metric", "Model", f"Baseline ({base_name})", "vs baseline"]
    notes = [h.callout(w) for w in ev.get("warnings") or [] if isinstance(w, str)]  # run notes
    table = h.table(headers, rows, (1, 2), lambda r: keys[r] == metric)
    return h.join([h.kpis(tiles), *notes, table])


def _leaderboard(card: dict, ev: dict) -> Safe:
    board = _rows(ev, "leaderboard")
    sign = 1 if ev.get("metric") in LOWER_IS_BETTER else -1
    board.sort(key=lambda r: sign * r["best_score"] if is_number(r.get("best_score")) else 1e308)
    rows = [
        (
            _estimator_cell(r),
            num(r.get("best_score")),
            num(r.get("trials")),
            _seconds(r.get("time")),
        )
        for r in board
    ]
    headers = ["Estimator", f"Best {_label(ev)} (validation)", "Trials", "Time"]
    best = ev.get("best_estimator")
    return h.table(headers, rows, (1, 2, 3), lambda r: board[r].get("estimator") == best)


def _estimator_cell(row: Mapping[str, Any]) -> str:
    """The learner's name; for the ensemble, its members and their weights."""
    label = estimator_label(row.get("estimator")) or "—"
    members = row.get("members")
    if isinstance(members, Mapping) and members:
        label += f" ({', '.join(f'{estimator_label(k)} ×{v}' for k, v in members.items())})"
    return label


def _importance(card: dict, ev: dict) -> Safe:
    rows = [(r.get("feature", "?"), r.get("importance")) for r in _rows(ev, "feature_importance")]
    rows = sorted(((f, float(v)) for f, v in rows if is_number(v)), key=lambda item: -abs(item[1]))
    caption = f"Top {min(TOP_FEATURES, len(rows))} of {len(rows)} features"
    return svg.figure(caption, svg.hbar(rows[:TOP_FEATURES], "feature importance"))


def _confusion(card: dict, ev: dict) -> Safe:
    cm = ev.get("confusion_matrix") or {}
    labels = [str(v) for v in cm.get("labels") or []]
    chart = svg.heatmap(labels, cm.get("matrix") or [], "confusion matrix")
    caption = "Rows: actual class · columns: predicted · shade: share of the actual class"
    # The per-class table sits beside the matrix it summarises.
    figure = svg.figure(caption, chart)
    return h.tag("div", [figure, _per_class(card, ev, True)], "grid2") if chart else Safe("")


def _curves(card: dict, ev: dict) -> Safe:
    roc, pr = ev.get("roc_curve") or {}, ev.get("pr_curve") or {}
    figures = []
    if roc.get("fpr") and roc.get("tpr"):
        series = [{"x": roc["fpr"], "y": roc["tpr"]}]
        axes = ("false positive rate", "true positive rate")
        chart = svg.xy_chart(series, "ROC curve", axes, (0, 1), (0, 1), refs=[(0, 0, 1, 1)])
        figures.append(svg.figure(f"ROC curve · AUC {num(roc.get('auc'))}", chart))
    if pr.get("precision") and pr.get("recall"):
        series = [{"x": pr["recall"], "y": pr["precision"]}]
        axes = ("recall", "precision")
        chart = svg.xy_chart(series, "precision-recall curve", axes, (0, 1), (0, 1.02))
        figures.append(svg.figure(f"Precision-recall curve · AP {num(pr.get('ap'))}", chart))
    return h.tag("div", figures, "grid2") if figures else Safe("")


def _per_class(card: dict, ev: dict, beside_matrix: bool = False) -> Safe:
    if not beside_matrix and _confusion(card, ev):
        return Safe("")  # shown beside the confusion matrix instead
    keys = ("precision", "recall", "f1", "support")
    rows = [(r.get("label", "—"), *(num(r.get(k)) for k in keys)) for r in _rows(ev, "per_class")]
    return h.table(["Class", "Precision", "Recall", "F1", "Support"], rows, (1, 2, 3, 4))


def _residuals(card: dict, ev: dict) -> Safe:
    res = ev.get("residuals") or {}
    pairs = zip(res.get("predicted") or [], res.get("actual") or [], strict=False)
    pairs = [(float(p), float(a)) for p, a in pairs if is_number(p) and is_number(a)]
    if not pairs:
        return Safe("")
    pred, act = [p for p, _ in pairs], [a for _, a in pairs]
    lo, hi = min(pred + act), max(pred + act)
    both = (lo - ((hi - lo) * 0.03 or 0.5), hi + ((hi - lo) * 0.03 or 0.5))
    points, diagonal = [{"x": act, "y": pred, "style": "dots"}], [(*both, *both)]
    versus = svg.xy_chart(points, "vs actual", ("actual", "predicted"), both, both, diagonal)
    errors = [{"x": pred, "y": [a - p for p, a in pairs], "style": "dots"}]
    axes = ("predicted", "actual − predicted")
    scatter = svg.xy_chart(errors, "residuals", axes, refs=[(min(pred), 0, max(pred), 0)])
    drawn = f" ({svg.MAX_POINTS:,} drawn)" if len(pairs) > svg.MAX_POINTS else ""
    left = svg.figure(f"Predicted vs actual · {len(pairs):,} test rows{drawn}", versus)
    right = svg.figure("Residuals vs predicted · dashed: zero error", scatter)
    return h.tag("div", [left, right], "grid2")


def _history(card: dict, ev: dict) -> Safe:
    trials = [t for t in _rows(ev, "search_history") if is_number(t.get("time"))]
    trials = sorted((t for t in trials if is_number(t.get("score"))), key=lambda t: t["time"])
    if len(trials) < 2:
        return Safe("")  # a single trial has no history to draw
    times, scores = [t["time"] for t in trials], [t["score"] for t in trials]
    best = list(accumulate(scores, min if ev.get("metric") in LOWER_IS_BETTER else max))
    series = [
        {"x": times, "y": scores, "style": "dots", "name": "trial", "tone": 1},
        {"x": times, "y": best, "style": "step", "name": "best so far"},
    ]
    chart = svg.xy_chart(series, "search history", ("seconds into the search", _label(ev)))
    return svg.figure(f"{len(trials):,} trials · best {num(best[-1])}", chart)


def _data(card: dict, ev: dict) -> Safe:
    split = ev.get("split") or {}
    found = [("Training rows", split.get("train_rows")), ("Test rows", split.get("test_rows"))]
    found += [("Validation", split.get("validation")), ("Folds", split.get("folds"))]
    found += [("Rows without target (dropped)", ev.get("target_missing_dropped"))]
    pairs = [(k, num(v) if is_number(v) else v) for k, v in found if v is not None]
    timeline = {k: float(v) for k, v in (ev.get("timeline") or {}).items() if is_number(v)}
    chart = svg.hbar(list(timeline.items()), "time per phase", fmt=_seconds)
    caption = f"Time per phase · {num(sum(timeline.values()), 1)} s in total"
    return h.join([h.facts(pairs) if pairs else "", svg.figure(caption, chart)])


def _dropped(card: dict, ev: dict) -> Safe:
    dropped = _rows(ev, "dropped_columns") or _rows(card, "dropped_columns")
    rows = [(r.get("column", "—"), r.get("reason", "—")) for r in dropped]
    return h.table(["Column", "Reason"], rows)


def _leakage(card: dict, ev: dict) -> Safe:
    texts = [
        f"{w.get('feature', '?')}: {w.get('message', 'predicts the target almost perfectly')}"
        + (f" (score {num(w['score'])})" if is_number(w.get("score")) else "")
        for w in _rows(ev, "leakage_warnings")
    ]
    return h.join(h.callout(text, "bad") for text in texts)


def _onnx(card: dict, ev: dict) -> Safe:
    onnx = ev.get("onnx") or card.get("onnx")
    if not isinstance(onnx, Mapping):
        return Safe("")
    if not onnx.get("available"):
        return h.callout(f"No ONNX model: {onnx.get('reason') or 'export was not possible'}.")
    diff = onnx.get("max_abs_diff")
    if is_number(diff) and diff > ONNX_TOLERANCE:
        state = h.callout(f"model.onnx differs from model.pkl by up to {num(diff)} on test rows.")
    else:
        state = h.callout("model.onnx matches model.pkl on test rows.", "ok")
    pairs = [("max |ONNX − pickle| on test rows", num(diff))]
    pairs += [("note", onnx["reason"])] if onnx.get("reason") else []
    return h.join([state, h.facts(pairs)])


def _card(card: dict, ev: dict) -> Safe:
    parts: list[Any] = []
    if features := _rows(card, "features"):
        rows = [(f.get("name", "?"), f.get("kind", "—"), f.get("dtype", "—")) for f in features]
        rows = [(*row, _allowed(f)) for row, f in zip(rows, features, strict=True)]
        table = h.table(["Feature", "Kind", "Type", "Allowed values or range"], rows)
        parts += [Safe(f"<h3>Features ({len(features)})</h3>"), table]
    if mapping := card.get("label_mapping") or {}:
        parts += [Safe("<h3>Classes</h3>"), h.table(["Code", "Label"], list(mapping.items()))]
    elif card.get("classes"):
        parts.append(h.facts([("Classes", ", ".join(str(c) for c in card["classes"]))]))
    if isinstance(config := ev.get("best_config"), Mapping) and config:
        pairs = [(k, num(v) if is_number(v) else json.dumps(v)) for k, v in config.items()]
        parts += [Safe("<h3>Best configuration</h3>"), h.facts(pairs)]
    names = (("Job", "job_id"), ("Seed", "seed"), ("Created", "created_at"))
    if pairs := [(label, card[key]) for label, key in names if card.get(key) is not None]:
        parts += [Safe("<h3>Run</h3>"), h.facts(pairs)]
    if sha := card.get("data_sha256"):
        parts.append(h.tag("p", ["Data SHA-256 ", h.tag("span", [sha], "mono")], "muted"))
    if versions := card.get("library_versions") or {}:
        parts += [Safe("<h3>Library versions</h3>"), h.facts(versions.items())]
    return h.join(parts)


def _allowed(feature: Mapping[str, Any]) -> str:
    if values := feature.get("allowed_values"):
        more = len(values) - MAX_ALLOWED_VALUES
        shown = ", ".join(h.short(v, 30) for v in values[:MAX_ALLOWED_VALUES])
        return shown + (f" … (+{more:,} more)" if more > 0 else "")
    if is_number(feature.get("min")) or is_number(feature.get("max")):
        return f"{h.compact(feature.get('min'))} to {h.compact(feature.get('max'))}"
    return "—"
