"""The configure page: a dataset's analysis, its columns and the training form.

It belongs to jobs (it makes a training request), so it reads the dataset's facts through
`datasets.pages` and never the other way round. Presentation only: views pass in the
records they loaded.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from datasets.pages import DEFAULT_REMEDIES, REMEDIES, column_rows, rejection_code
from jobs.forms import AUTO, TrainForm, metric_choices
from jobs.selectors import budget_cost
from jobs.services import min_time_budget, target_class_values
from training_image.contract import (
    MAX_TIME_BUDGET,
    METRIC_LABELS,
    METRICS,
    Dataset,
    DatasetStatus,
    Job,
    auto_time_budget,
    default_metric,
    is_imbalanced,
    profile_class_counts,
)
from training_image.detection import DROPPED_KINDS, problem_type_label

# A regression target with this few distinct values is probably a class label.
FEW_VALUES = 10
BUDGET_RULE = "< 1,000 rows: 120 s · < 10,000: 300 s · < 50,000: 600 s · more: 1,200 s"


def _budget_or(value: Any, default: int) -> int:
    try:
        budget = int(value)
    except (TypeError, ValueError):
        return default
    return budget if 0 < budget <= MAX_TIME_BUDGET else default


def target_context(
    dataset: Dataset,
    target: str | None,
    *,
    problem_type: str | None = None,
    metric: str | None = None,
    time_budget: Any = None,
) -> dict[str, Any]:
    """The target card: detected problem type, the type in force, metrics, auto budget,
    and what the run should cost on AWS."""
    analysis = dataset.analysis or {}
    columns = {c["name"]: c for c in analysis.get("columns", [])}
    column = columns.get(target or "")
    detected = column.get("problem_type") if column else None
    chosen = problem_type if problem_type in METRICS else AUTO
    effective = chosen if chosen != AUTO else detected
    counts = profile_class_counts(column)
    imbalanced = effective in ("binary", "multiclass") and is_imbalanced(counts)
    metrics = metric_choices(effective, imbalanced=imbalanced)
    if metric not in {value for value, _ in metrics}:
        metric = AUTO
    rows = dataset.row_count or 0
    notes = []
    if column is not None:
        if column.get("missing"):
            notes.append(
                f"{column['missing']:,} rows have no value in '{target}'; training drops them."
            )
        if column.get("kind") in DROPPED_KINDS:
            notes.append(f"'{target}' is {column.get('reason') or 'not a usable feature'}.")
        unique = column.get("unique")
        if effective == "regression" and isinstance(unique, int) and 2 <= unique <= FEW_VALUES:
            values = ", ".join(str(v.get("value")) for v in (column.get("top_values") or [])[:5])
            notes.append(
                f"'{target}' takes only {unique} distinct values"
                f"{f' ({values})' if values else ''}: regression will predict numbers in "
                "between them. If these are classes, choose binary or multiclass "
                "classification above."
            )
        if imbalanced and counts:
            rare = min(column.get("top_values") or [], key=lambda v: v.get("count", 0))
            notes.append(
                f"Imbalanced classes: '{rare.get('value')}' is only {rare.get('pct')}% of the rows. "
                "Training weights the classes to balance them, and the default metric is "
                f"{METRIC_LABELS[default_metric(effective, imbalanced=True)]}, which counts "
                "the rare class (accuracy would look good by always predicting the common one)."
            )
        if detected is None:
            notes.append(
                "This column does not look like a target (a single value, free text, a date or "
                "an identifier). Pick another column, or choose the problem type yourself."
            )
    return {
        "dataset": dataset,
        "target": target,
        "column": column,
        "detected": detected,
        "detected_label": problem_type_label(detected),
        "problem_type": chosen,
        "effective": effective,
        "effective_label": problem_type_label(effective),
        "metrics": metrics,
        "metric": metric or AUTO,
        "imbalanced": imbalanced,
        "default_metric_label": METRIC_LABELS.get(
            default_metric(effective, imbalanced=imbalanced), ""
        )
        if effective in METRICS
        else "",
        "rows": rows,
        "auto_budget": auto_time_budget(rows),
        "budget_rule": BUDGET_RULE,
        "max_budget": MAX_TIME_BUDGET,
        "min_budget": min_time_budget(),
        "default_seed": settings.AUTOML_SEED,
        "estimated_cost_usd": budget_cost(_budget_or(time_budget, auto_time_budget(rows))),
        "notes": notes,
        # Integer-coded classes the user may name (0 -> "no", 1 -> "yes").
        "class_values": target_class_values(dataset, target)
        if target and effective in ("binary", "multiclass")
        else None,
    }


def configure_context(
    dataset: Dataset,
    *,
    train_form: TrainForm | None = None,
    target: str | None = None,
    jobs: list[Job] | None = None,
    from_job: Job | None = None,
    also_exclude: list[str] | None = None,
) -> dict[str, Any]:
    """Everything the configure page and its analysis fragment render.

    With `from_job` (a finished run on this dataset) the form starts from its settings.
    """
    analysis = dataset.analysis or {}
    context: dict[str, Any] = {
        "dataset": dataset,
        "analysis": analysis,
        "live": dataset.status == DatasetStatus.ANALYZING,
        "jobs": jobs or [],
    }
    if dataset.status == DatasetStatus.FAILED:
        code = rejection_code(dataset)
        context["remedies"] = REMEDIES.get(code, DEFAULT_REMEDIES)
    if dataset.status != DatasetStatus.READY:
        return context
    excluded_by_default = dict(analysis.get("excluded_columns") or {})
    if train_form is not None and train_form.is_bound:
        data = train_form.data
        target = data.get("target_column") or target
        excluded = set(data.getlist("excluded_columns")) if hasattr(data, "getlist") else set()
        problem_type, metric = data.get("problem_type"), data.get("metric")
        time_budget = data.get("time_budget") or ""
        seed = data.get("seed") or ""
        ensemble = (data.getlist("ensemble") if hasattr(data, "getlist") else ["1"])[-1:] != ["0"]
    elif from_job is not None:
        target = from_job.target_column
        excluded = (set(from_job.excluded_columns) | set(also_exclude or ())) & set(
            dataset.columns
        ) - {target}
        problem_type, metric = from_job.problem_type, from_job.metric
        time_budget = from_job.time_budget
        seed, ensemble = from_job.seed, from_job.ensemble
        train_form = TrainForm(dataset=dataset, initial={"target_column": target})
    else:
        target = target if target in dataset.columns else analysis.get("suggested_target")
        excluded = set(excluded_by_default) - {target}
        problem_type = metric = None
        time_budget = seed = ""
        ensemble = True
        train_form = TrainForm(dataset=dataset, initial={"target_column": target})
    rows = column_rows(dataset)
    for row in rows:
        row["excluded"] = row["name"] in excluded
        row["is_target"] = row["name"] == target
    context.update(
        form=train_form,
        columns=rows,
        target=target,
        target_info=target_context(
            dataset, target, problem_type=problem_type, metric=metric, time_budget=time_budget
        ),
        time_budget=time_budget,
        seed=seed,
        ensemble=ensemble,
        warnings=[
            w for w in analysis.get("warnings", []) if w.get("code") not in ("id", "constant")
        ],
        excluded_by_default=excluded_by_default,
        idempotency_key=_form_key(train_form),
        from_job=from_job,
        newly_excluded=[
            c for c in also_exclude or () if from_job is not None and c in excluded and c != target
        ],
    )
    return context


def _form_key(form: TrainForm) -> str:
    """The idempotency key of this rendering of the form: a double submit makes one job."""
    if form.is_bound and form.data.get("idempotency_key"):
        return str(form.data["idempotency_key"])
    from training_image.contract import new_id

    return new_id()
