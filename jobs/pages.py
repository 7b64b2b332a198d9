"""Template context for the job pages: progress, failure help, results and the prediction form.

Views stay thin (parse, call a service or selector, render); what a page shows is
assembled here from the job record, its evaluation.json and its model card.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from jobs import charts
from jobs.services import is_resubmittable
from jobs.templatetags.job_format import metric_label
from training_image.contract import (
    LOWER_IS_BETTER,
    METRIC_LABELS,
    ErrorType,
    Evaluation,
    Job,
    JobPhase,
    JobStatus,
    ModelCard,
    estimator_label,
    parse_time,
    read_evaluation,
)
from training_image.detection import problem_type_label

PHASE_LABELS = {
    JobPhase.STARTING: "Starting",
    JobPhase.LOADING: "Loading data",
    JobPhase.PROFILING: "Profiling",
    JobPhase.PREPROCESSING: "Preprocessing",
    JobPhase.SEARCHING: "Searching models",
    JobPhase.REFITTING: "Refitting",
    JobPhase.EVALUATING: "Evaluating",
    JobPhase.EXPORTING: "Exporting",
    JobPhase.REPORTING: "Writing reports",
}
SHOWN_PHASES = tuple(PHASE_LABELS)

ERROR_TIPS = {
    ErrorType.CONFIG: (
        "The run was started with a setting the container could not use. This is a deployment "
        "problem, not your data: check the worker's environment and start a new run."
    ),
    ErrorType.DATA: (
        "The data cannot be trained on as it is. Check the target column (missing values, a "
        "class with a single row, a constant column), exclude the columns named above, or "
        "upload a cleaned file, then start a new run from the dataset page."
    ),
    ErrorType.INTERRUPTED: (
        "The run was stopped from outside (a shutdown, a time limit or a reclaimed machine), "
        "not by an error in your data. Resubmit it."
    ),
    ErrorType.OUT_OF_MEMORY: (
        "Training needed more memory than the machine had. Exclude wide text or identifier "
        "columns, use a sample of the rows, or run fewer jobs at once, then try again."
    ),
    ErrorType.DEPENDENCY: (
        "A library failed to load inside the training environment. Reinstall the training "
        "requirements (training_image/requirements.txt) and start a new run."
    ),
    ErrorType.INTERNAL: (
        "Something unexpected went wrong inside the training run. Start a new run; if it "
        "fails again, report the job id."
    ),
    ErrorType.SUBMIT: (
        "The job never started: the runner did not accept it. Make sure the worker is running "
        "(`python manage.py runlocal` in local mode), then resubmit."
    ),
    ErrorType.LOST: (
        "The training process ended without reporting a result (it crashed, was killed or "
        "stopped sending progress). Resubmit it; if it happens again, try a shorter budget "
        "or a smaller file."
    ),
    ErrorType.CANCELLED: "The job was cancelled. Start a new run from the dataset page.",
}


def _seconds_since(value: str | None, now: dt.datetime) -> float | None:
    when = parse_time(value)
    return None if when is None else max((now - when).total_seconds(), 0.0)


def progress_context(job: Job, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the progress card shows: phases, elapsed/ETA, bar width, trials and best so far."""
    now = now or dt.datetime.now(dt.UTC)
    progress = dict(job.progress or {})
    phase = progress.get("phase")
    names = [str(p) for p in SHOWN_PHASES]
    current = (
        names.index(phase) if phase in names else (-1 if job.status != JobStatus.RUNNING else 0)
    )
    phases = [
        {
            "name": name,
            "label": PHASE_LABELS[JobPhase(name)],
            "state": "done" if i < current else ("current" if i == current else "todo"),
        }
        for i, name in enumerate(names)
    ]
    elapsed = progress.get("elapsed")
    if not isinstance(elapsed, int | float):
        elapsed = _seconds_since(job.started_at, now) if job.started_at else None
    searching_index = names.index(str(JobPhase.SEARCHING))
    if current > searching_index:
        percent = 100.0
    elif elapsed is not None and job.time_budget and current >= 0:
        percent = min(elapsed / job.time_budget * 100, 99.0)
    else:
        percent = 0.0
    metric = progress.get("metric") or job.metric
    return {
        "job": job,
        "live": job.status not in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED),
        "phases": phases,
        "phase_label": PHASE_LABELS.get(JobPhase(phase), phase) if phase in names else None,
        "message": progress.get("message"),
        "elapsed": elapsed,
        "eta": progress.get("eta"),
        "percent": round(percent, 1),
        "trials": progress.get("trials"),
        "best_estimator": progress.get("best_estimator"),
        "best_score": progress.get("best_score"),
        "metric": metric,
        "metric_label": METRIC_LABELS.get(metric or "", metric),
        "waiting_seconds": _seconds_since(job.created_at, now)
        if job.status in (JobStatus.PENDING, JobStatus.QUEUED)
        else None,
    }


def failure_context(job: Job) -> dict[str, Any]:
    """What a failed or cancelled job tells the user, and whether a resubmit may help."""
    return {
        "error_type": job.error_type,
        "error_phase": job.error_phase,
        "error_message": job.error_message or "The job failed without a message.",
        "tip": ERROR_TIPS.get(job.error_type or "", ERROR_TIPS[ErrorType.INTERNAL]),
        "resubmittable": is_resubmittable(job),
        "attempt": job.attempt,
        "max_attempts": settings.AUTOML_MAX_ATTEMPTS,
    }


def _numbers(mapping: Any) -> dict[str, float]:
    if not isinstance(mapping, Mapping):
        return {}
    return {
        str(k): float(v)
        for k, v in mapping.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def results_context(job: Job, evaluation: Evaluation | None) -> dict[str, Any]:
    """Headline metrics vs the baseline, leaderboard, importance bars and curves."""
    evaluation = evaluation or read_evaluation({})
    test_metrics = evaluation["test_metrics"] or {
        k: v
        for k, v in _numbers(job.metrics).items()
        if k not in ("training_time", "validation_score")
    }
    recorded = evaluation["baseline"]
    baseline = recorded["metrics"] if recorded else {}
    baseline_name = recorded["name"] if recorded else None
    headline = []
    order = [job.metric] + [m for m in test_metrics if m != job.metric]
    for name in order:
        if name not in test_metrics:
            continue
        value = test_metrics[name]
        base = baseline.get(name)
        better = None
        if base is not None:
            better = value < base if name in LOWER_IS_BETTER else value > base
        headline.append(
            {
                "name": name,
                "label": metric_label(name),
                "value": value,
                "baseline": base,
                "better": better,
                "primary": name == job.metric,
            }
        )

    best = (job.metrics or {}).get("best_estimator")
    importance = charts.bars(
        [(row["feature"], row["importance"]) for row in evaluation["feature_importance"]]
    )

    context: dict[str, Any] = {
        "headline": headline,
        "baseline_name": baseline_name,
        "leaderboard": evaluation["leaderboard"],
        "best_estimator": best,
        "importance": importance,
        "leakage_warnings": evaluation["leakage_warnings"],
        "dropped_columns": evaluation["dropped_columns"]
        or (job.preprocessing or {}).get("dropped_columns")
        or [],
        "onnx": evaluation["onnx"],
        "split": evaluation["split"],
        "phase_times": _phase_times(evaluation["timeline"]),
        "per_class": evaluation.get("per_class", []),  # classification only
        "warnings": evaluation["warnings"],
        "cut": evaluation["cut"],
        "target_transform": evaluation["target_transform"],
        "chart": {"width": charts.WIDTH, "height": charts.HEIGHT, "pad": charts.PAD},
    }
    # The curves and the matrix exist for some problem types only (contract.Evaluation).
    cm = evaluation.get("confusion_matrix")
    if cm and cm["matrix"]:
        labels = [str(x) for x in cm["labels"]]
        cells = charts.heatmap(cm["matrix"])
        context["confusion"] = {
            "labels": labels,
            "rows": [
                {"label": labels[i] if i < len(labels) else str(i), "cells": row}
                for i, row in enumerate(cells)
            ],
        }
    roc = evaluation.get("roc_curve")
    if roc:
        points = charts.polyline(roc["fpr"], roc["tpr"])
        if points:
            context["roc"] = {"points": points, "auc": roc["auc"]}
    pr = evaluation.get("pr_curve")
    if pr:
        points = charts.polyline(pr["recall"], pr["precision"])
        if points:
            context["pr"] = {"points": points, "ap": pr["ap"]}
    residuals = evaluation.get("residuals")
    if residuals:
        context["residuals"] = charts.scatter(residuals["predicted"], residuals["actual"])
    return context


def _phase_times(timeline: Mapping[str, float]) -> list[dict[str, Any]]:
    """Seconds per phase from evaluation.json's `timeline`, in phase order, as bar widths."""
    rows = [
        (PHASE_LABELS[phase], float(timeline[str(phase)]))
        for phase in SHOWN_PHASES
        if str(phase) in timeline
    ]
    top = max((seconds for _, seconds in rows), default=0.0) or 1.0
    return [
        {"label": label, "seconds": seconds, "width": round(seconds / top * 100, 1)}
        for label, seconds in rows
    ]


def timeline_context(job: Job) -> list[dict[str, Any]]:
    """Created, started, completed with the time spent waiting and running."""

    def gap(a: str | None, b: str | None) -> float | None:
        start, end = parse_time(a), parse_time(b)
        return None if start is None or end is None else (end - start).total_seconds()

    rows = [
        {"label": "Created", "at": job.created_at, "took": None, "took_label": ""},
        {
            "label": "Started",
            "at": job.started_at,
            "took": gap(job.created_at, job.started_at),
            "took_label": "waited",
        },
        {
            "label": "Cancelled"
            if job.status == JobStatus.CANCELLED
            else ("Failed" if job.status == JobStatus.FAILED else "Completed"),
            "at": job.completed_at,
            "took": gap(job.started_at, job.completed_at),
            "took_label": "ran",
        },
    ]
    if job.deployed_at:
        rows.append({"label": "Deployed", "at": job.deployed_at, "took": None, "took_label": ""})
    return rows


# Numbers in `job.metrics` that are not test-set scores.
_NOT_TEST_METRICS = frozenset({"training_time", "validation_score"})


def _best_marks(values: list[float | None], lower_is_better: bool) -> list[bool]:
    """Which cells hold the best value of the row (ties all win; one value wins nothing)."""
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return [False] * len(values)
    best = min(present) if lower_is_better else max(present)
    return [v is not None and v == best for v in values]


# Colours of the compared jobs in the importance chart (CSS classes .series-1 … .series-4).
SERIES = ("series-1", "series-2", "series-3", "series-4")
COMPARE_FEATURES = 12


def _same(values: list[Any]) -> bool:
    return len({repr(v) for v in values}) <= 1


def _settings_rows(jobs: list[Job], cards: list[ModelCard | None]) -> list[dict[str, Any]]:
    """What each run was asked to do and what it found, each row marked when runs differ."""

    def excluded(job: Job) -> str:
        return ", ".join(job.excluded_columns) or "none"

    def seed(job: Job, card: ModelCard | None) -> Any:
        if job.seed is not None:
            return job.seed
        return card["seed"] if card and card["seed"] is not None else "default"

    def data_hash(card: ModelCard | None) -> str:
        return card["data_sha256"][:12] if card and card["data_sha256"] else "—"

    rows = [
        ("Target", [job.target_column for job in jobs]),
        ("Problem type", [problem_type_label(job.problem_type) or "—" for job in jobs]),
        ("Optimised for", [metric_label(job.metric) if job.metric else "—" for job in jobs]),
        ("Time budget", [job.time_budget for job in jobs]),
        ("Excluded columns", [excluded(job) for job in jobs]),
        (
            "Winner",
            [estimator_label((job.metrics or {}).get("best_estimator")) or "—" for job in jobs],
        ),
        ("Seed", [seed(job, card) for job, card in zip(jobs, cards, strict=True)]),
        ("Ensemble", ["allowed" if job.ensemble else "off" for job in jobs]),
        ("Data hash", [data_hash(card) for card in cards]),
    ]
    return [
        {
            "label": label,
            "values": values,
            "differs": not _same(values),
            "duration": label == "Time budget",
        }
        for label, values in rows
    ]


def _importance_chart(jobs: list[Job], evaluations: list[Evaluation | None]) -> dict:
    """Feature importance side by side: the features that matter most to any run, one bar
    per run, widths relative to the largest importance shown."""
    per_job = [
        {row["feature"]: row["importance"] for row in evaluation["feature_importance"]}
        if evaluation
        else {}
        for evaluation in evaluations
    ]
    names = sorted(
        {name for values in per_job for name in values},
        key=lambda name: max(abs(v.get(name, 0.0)) for v in per_job),
        reverse=True,
    )[:COMPARE_FEATURES]
    top = max((abs(v.get(n, 0.0)) for v in per_job for n in names), default=0.0) or 1.0
    rows = [
        {
            "feature": name,
            "bars": [
                {
                    "value": values.get(name),
                    "width": round(abs(values.get(name, 0.0)) / top * 100, 1),
                    "series": SERIES[i],
                }
                for i, values in enumerate(per_job)
            ],
        }
        for name in names
    ]
    legend = [{"job": job, "series": SERIES[i]} for i, job in enumerate(jobs)]
    return {"rows": rows, "legend": legend, "missing": [bool(v) is False for v in per_job]}


def compare_context(
    jobs: list[Job],
    evaluations: list[Evaluation | None] | None = None,
    cards: list[ModelCard | None] | None = None,
) -> dict[str, Any]:
    """Test metrics side by side, what differs between the runs, their importances and
    leaderboards; the best of each row is marked only when the runs are comparable (same
    dataset, target and problem type)."""
    evaluations = evaluations or [None] * len(jobs)
    cards = cards or [None] * len(jobs)
    scores = [_numbers(job.metrics) for job in jobs]
    comparable = (
        len({(job.dataset_id, job.target_column) for job in jobs}) == 1
        and len({job.problem_type for job in jobs}) == 1
    )
    names: list[str] = []
    for job, numbers in zip(jobs, scores, strict=True):
        for name in [job.metric or "", *numbers]:
            if name in numbers and name not in _NOT_TEST_METRICS and name not in names:
                names.append(name)
    rows = []
    for name in names:
        values = [numbers.get(name) for numbers in scores]
        marks = (
            _best_marks(values, name in LOWER_IS_BETTER) if comparable else [False] * len(values)
        )
        rows.append(
            {
                "name": name,
                "label": metric_label(name),
                "lower_is_better": name in LOWER_IS_BETTER,
                "cells": [{"value": v, "best": b} for v, b in zip(values, marks, strict=True)],
            }
        )
    times = [numbers.get("training_time") for numbers in scores]
    warnings = []
    if len({(job.dataset_id, job.target_column) for job in jobs}) > 1:
        warnings.append(
            "These jobs use different datasets (or separate uploads of one file) or predict "
            "different columns: their test scores come from different rows and are not "
            "directly comparable, so none is marked best."
        )
    elif len({job.problem_type for job in jobs}) > 1:
        warnings.append(
            "These jobs treat the target as different problem types: their scores measure "
            "different things and are not comparable, so none is marked best."
        )
    unfinished = [job for job in jobs if job.status != JobStatus.COMPLETED]
    if unfinished:
        warnings.append(
            f"{len(unfinished)} of these jobs {'has' if len(unfinished) == 1 else 'have'} "
            "no results yet (not completed)."
        )
    leaderboards = [
        {
            "job": job,
            "best": (job.metrics or {}).get("best_estimator"),
            "rows": evaluation["leaderboard"] if evaluation else [],
        }
        for job, evaluation in zip(jobs, evaluations, strict=True)
    ]
    return {
        "jobs": jobs,
        "comparable": comparable,
        "metric_rows": rows,
        "time_cells": [
            {"value": v, "best": b}
            for v, b in zip(
                times, _best_marks(times, True) if comparable else [False] * len(times), strict=True
            )
        ],
        "settings_rows": _settings_rows(jobs, cards),
        "importance": _importance_chart(jobs, evaluations),
        "leaderboards": leaderboards,
        "warnings": warnings,
    }
