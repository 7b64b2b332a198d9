"""Predictions: one row with a deployed model, or every row of an uploaded CSV."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings

from core.exceptions import InvalidInput
from training_image.contract import MODEL_ONNX, Job

if TYPE_CHECKING:
    from jobs.prediction_files import ScoredFile


def job_predict(
    *, job: Job, features: Mapping[str, Any], explain: bool | None = False
) -> dict[str, Any]:
    """Score one row with the job's deployed ONNX model.

    Args:
        job: the deployed job.
        features: the row, column -> raw value.
        explain: add the top feature contributions (True), not (False), or when they keep
            the prediction within its latency target (None).

    Returns:
        `{prediction, probability?, probabilities?, warnings, explanation?,
        explanation_info?, inference_time_ms, model_type}`, the prediction in the target's
        original labels.

    Raises:
        InvalidInput: not deployed, no ONNX model, missing features or a value that
            is not a number for a numeric feature.
        ModelError: the model's metadata is unusable or inference failed (500).
    """
    from jobs import inference

    started = time.perf_counter()
    if not job.deployed:
        raise InvalidInput(
            f"Model is not deployed. Deploy the model first using POST /jobs/{job.job_id}/deploy"
        )
    if MODEL_ONNX not in (job.artifacts or {}):
        raise InvalidInput("No ONNX model available for this job")
    result = inference.predict(job, features, explain=explain)
    result["inference_time_ms"] = round((time.perf_counter() - started) * 1000, 2)
    result["model_type"] = (job.metrics or {}).get("best_estimator") or "unknown"
    return result


def job_predict_file(*, job: Job, uploaded_file: IO[bytes]) -> ScoredFile:
    """Score every row of an uploaded CSV with the job's ONNX model.

    Unlike the one-row endpoint this needs no deployment: it is an offline batch run
    on a completed job. The file's columns must include the model's features; other
    columns are copied to the result.

    Args:
        job: The job whose model scores the file (already checked to be the user's).
        uploaded_file: The CSV, readable from its start (a Django UploadedFile).

    Returns:
        The result CSV (original columns + `prediction`, and for classification
        `probability` and `probability_<class>`), with its download name.

    Raises:
        InvalidInput: the job is not completed or has no ONNX model; the file is not a
            readable CSV, lacks feature columns, or holds an unreadable value (400).
        PayloadTooLarge: over AUTOML_MAX_PREDICT_BYTES or AUTOML_MAX_PREDICT_ROWS (413).
        ModelError: the model cannot be loaded or run (500).
    """
    from jobs import prediction_files
    from jobs.services.batches import check_can_score

    check_can_score(job)
    prediction_files.check_size(_file_size(uploaded_file), settings.AUTOML_MAX_PREDICT_BYTES)
    return prediction_files.score_file(
        job, uploaded_file, max_rows=settings.AUTOML_MAX_PREDICT_ROWS
    )


def _file_size(handle: IO[bytes]) -> int | None:
    size = getattr(handle, "size", None)
    if size is not None:
        return int(size)
    try:
        position = handle.tell()
        size = handle.seek(0, 2)
        handle.seek(position)
    except (AttributeError, OSError):
        return None
    return size
