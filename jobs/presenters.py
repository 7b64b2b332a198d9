"""Job records in the shapes clients read: the reference API's fields, plus ours.

The earlier edition's clients know four statuses, two problem types and metric names
like `f1_score` and `r2_score`; these functions translate our richer record into
that vocabulary and add our own fields beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from jobs import links, selectors
from jobs.services import is_resubmittable
from training_image.contract import (
    EDA_REPORT,
    LEGACY_STATUS,
    MODEL_CARD,
    MODEL_ONNX,
    MODEL_PKL,
    TRAINING_REPORT,
    Job,
    JobStatus,
    PredictionBatch,
    legacy_problem_type,
)

# Legacy metric name -> our metric names that can fill it, first match wins.
LEGACY_METRICS: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy",),
    "f1_score": ("f1", "f1_macro", "f1_weighted"),
    "precision": ("precision", "precision_macro", "precision_weighted"),
    "recall": ("recall", "recall_macro", "recall_weighted"),
    "r2_score": ("r2",),
    "rmse": ("rmse",),
    "mae": ("mae",),
}
NUMERIC_FEATURE_TYPES = frozenset({"numeric", "integer", "boolean", "float"})


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def legacy_metrics(job: Job) -> dict[str, Any] | None:
    """`TrainingMetrics`: legacy metric names, training_time and best_estimator.

    None until the job has both required fields (the earlier edition failed with a
    500 when they were missing; we leave the object out instead).
    """
    metrics = job.metrics or {}
    if metrics.get("best_estimator") is None or _number(metrics.get("training_time")) is None:
        return None
    out: dict[str, Any] = {}
    for legacy, candidates in LEGACY_METRICS.items():
        value = next((_number(metrics.get(c)) for c in candidates if c in metrics), None)
        out[legacy] = value
    out["training_time"] = _number(metrics["training_time"])
    out["best_estimator"] = str(metrics["best_estimator"])
    return out


def primary_metric(job: Job) -> float | None:
    """Accuracy for classification, R² for regression; a true 0.0 stays 0.0."""
    metrics = job.metrics or {}
    name = "r2" if job.problem_type == "regression" else "accuracy"
    return _number(metrics.get(name))


def legacy_preprocessing(job: Job) -> dict[str, Any] | None:
    """`PreprocessingInfo` from the container's preprocessing summary."""
    pre = job.preprocessing or {}
    if not pre:
        return None
    features = list(pre.get("feature_columns") or [])
    dropped = [
        d.get("column") if isinstance(d, Mapping) else str(d)
        for d in pre.get("dropped_columns") or []
    ]
    values = {
        col: [str(v) for v in listed]
        for source in ("categorical_values", "text_examples")
        for col, listed in (pre.get(source) or {}).items()
        if isinstance(listed, list) and listed
    }
    # The earlier client offers a select for a `categorical` column with mappings and a number
    # input for anything else: a column the model reads as text (two-valued text like sex,
    # categories, free text with its frequent values as examples) must be `categorical`.
    types = {
        col: (
            "numeric" if str(kind) in NUMERIC_FEATURE_TYPES and col not in values else "categorical"
        )
        for col, kind in (pre.get("feature_types") or {}).items()
    }
    categorical = {
        col: {value: code for code, value in enumerate(listed)} for col, listed in values.items()
    }
    numeric_stats = {}
    for col, stats in (pre.get("numeric_stats") or {}).items():
        if isinstance(stats, Mapping):
            numeric_stats[col] = {
                "min": _number(stats.get("min")),
                "max": _number(stats.get("max")),
                "is_integer": bool(stats.get("is_integer", False)),
            }
    return {
        "feature_columns": features,
        "feature_count": len(features),
        "dropped_columns": dropped,
        "dropped_count": len(dropped),
        "feature_types": types,
        "categorical_mappings": categorical,
        "numeric_stats": numeric_stats,
        "target_mapping": {str(k): v for k, v in (pre.get("target_mapping") or {}).items()},
    }


def legacy_prediction(result: Mapping[str, Any]) -> dict[str, Any]:
    """A prediction as `POST /api/predict/{id}` answers it.

    `probabilities` is keyed by class code (the keys of `preprocessing_info.target_mapping`), as
    the earlier edition keyed it and its client reads it; `class_probabilities` holds the same
    numbers by class label. `prediction` stays the original label.
    """
    body = dict(result)
    by_label = result.get("probabilities")
    if by_label:
        # The service lists the classes in code order (the model's output columns).
        body["probabilities"] = {str(code): p for code, p in enumerate(by_label.values())}
        body["class_probabilities"] = dict(by_label)
    else:
        body["class_probabilities"] = None
    return body


def download_urls(request: HttpRequest, job: Job) -> dict[str, str | None]:
    """The reference's URL fields (and ours), present only for a completed job."""
    names = {
        "model_download_url": MODEL_PKL,
        "onnx_model_download_url": MODEL_ONNX,
        "eda_report_download_url": EDA_REPORT,
        "training_report_download_url": TRAINING_REPORT,
        "model_card_download_url": MODEL_CARD,
    }
    completed = job.status == JobStatus.COMPLETED
    urls = {
        field: links.artifact_url(request, job, name) if completed else None
        for field, name in names.items()
    }
    urls["report_download_url"] = urls["eda_report_download_url"]  # legacy alias
    return urls


def job_summary(job: Job) -> dict[str, Any]:
    """`JobSummary` of `GET /jobs` plus our status detail."""
    metrics = job.metrics or {}
    return {
        "job_id": job.job_id,
        "dataset_id": job.dataset_id or "",
        "status": LEGACY_STATUS[JobStatus(job.status)],
        "target_column": job.target_column or "",
        "problem_type": legacy_problem_type(job.problem_type),
        "dataset_name": job.dataset_name,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "tags": list(job.tags or []),
        "primary_metric": primary_metric(job),
        "training_time": _number(metrics.get("training_time")),
        "best_estimator": metrics.get("best_estimator"),
        "status_detail": str(job.status),
        "problem_type_detail": job.problem_type,
        "deployed": bool(job.deployed),
        **selectors.job_cost(job),
    }


def job_detail(request: HttpRequest, job: Job) -> dict[str, Any]:
    """`JobResponse`: the reference's fields, then ours."""
    body: dict[str, Any] = {
        "job_id": job.job_id,
        "dataset_id": job.dataset_id,
        "status": LEGACY_STATUS[JobStatus(job.status)],
        "target_column": job.target_column,
        "dataset_name": job.dataset_name,
        "problem_type": legacy_problem_type(job.problem_type),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "metrics": legacy_metrics(job),
        **download_urls(request, job),
        "error_message": job.error_message,
        "tags": list(job.tags or []),
        "notes": job.notes or None,
        "deployed": bool(job.deployed),
        "deployed_at": job.deployed_at,
        "preprocessing_info": legacy_preprocessing(job),
        # Ours.
        "status_detail": str(job.status),
        "problem_type_detail": job.problem_type,
        "metric": job.metric,
        "time_budget": job.time_budget,
        "excluded_columns": list(job.excluded_columns or []),
        "class_names": dict(job.class_names or {}),
        "seed": job.seed,
        "ensemble": bool(job.ensemble),
        "kept_columns": list(job.kept_columns or []),
        "attempt": job.attempt,
        "max_attempts": settings.AUTOML_MAX_ATTEMPTS,
        "resubmittable": is_resubmittable(job),
        "progress": dict(job.progress or {}),
        "error_type": job.error_type,
        "error_phase": job.error_phase,
        "all_metrics": dict(job.metrics or {}),
        # What AWS Fargate Spot bills for the run (in local mode: would bill; it is free here).
        **selectors.job_cost(job),
    }
    return body


def job_etag(body: Mapping[str, Any]) -> str:
    """A strong ETag over everything in the body plus the links' expiry window.

    The window is hashed too, so when links roll over to a new expiry the ETag
    changes and a revalidating client gets fresh URLs instead of a 304.
    """
    raw = json.dumps(body, sort_keys=True, default=str) + f"|window={links.url_window()}"
    return '"' + hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest() + '"'


def batch_detail(request: HttpRequest, job: Job, batch: PredictionBatch) -> dict[str, Any]:
    """A prediction batch as the API shows it (`download_url` once completed)."""
    from jobs.services.batches import batch_download_url

    return {
        "batch_id": batch.batch_id,
        "job_id": batch.job_id,
        "status": str(batch.status),
        "filename": batch.filename,
        "size": batch.size,
        "rows_total": batch.rows_total,
        "rows_done": batch.rows_done,
        "progress": batch.progress,
        "error_message": batch.error_message,
        "error_details": dict(batch.error_details or {}),
        "download_url": batch_download_url(request=request, job=job, batch=batch),
        # Set when the file held the target: its metrics and drift are there.
        "validation_url": request.build_absolute_uri(
            reverse(
                "api:job-batch-validation",
                kwargs={"job_id": batch.job_id, "batch_id": batch.batch_id},
            )
        )
        if batch.validation_key
        else None,
        "created_at": batch.created_at,
        "updated_at": batch.updated_at,
        "started_at": batch.started_at,
        "completed_at": batch.completed_at,
    }
