"""The contract between the web app and the training container.

One definition of each shared fact: record shapes, statuses and their allowed
transitions, the environment variables the container reads, and artifact names.
Pure standard library: the web imports this module, so it must stay light.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict, cast

from training_image.csv_dialect import CsvDialect

# --------------------------------------------------------------------------- statuses


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
LIVE_STATUSES = frozenset({JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING})

# Status only moves forward; `failed -> queued` is a resubmit (attempt + 1).
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.QUEUED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.QUEUED: frozenset(
        {JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}
    ),
    JobStatus.RUNNING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.CANCELLED: frozenset(),
}


def sources_for(target: JobStatus | str) -> frozenset[JobStatus]:
    """Statuses from which a job may move to `target` (used for conditional writes)."""
    target = JobStatus(target)
    return frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if target in targets)


# The earlier edition's REST contract knows four statuses only.
LEGACY_STATUS = {
    JobStatus.PENDING: "pending",
    JobStatus.QUEUED: "pending",
    JobStatus.RUNNING: "running",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}


class DatasetStatus(enum.StrEnum):
    UPLOADING = "uploading"  # record exists, file not yet confirmed
    ANALYZING = "analyzing"
    READY = "ready"
    FAILED = "failed"  # the file was rejected; error_message says why


class BatchStatus(enum.StrEnum):
    """A prediction batch: a CSV scored by a worker with a completed job's model."""

    PENDING = "pending"  # record exists, file being uploaded
    QUEUED = "queued"  # file confirmed, waiting for a worker
    SCORING = "scoring"
    COMPLETED = "completed"
    FAILED = "failed"  # error_message says why (row and column where one is to blame)


BATCH_TERMINAL_STATUSES = frozenset({BatchStatus.COMPLETED, BatchStatus.FAILED})
# `scoring -> scoring` is a worker re-claiming a batch whose worker died (no progress for
# BATCH_STALE_SECONDS); a plain second delivery finds it live and leaves it alone.
BATCH_TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    BatchStatus.PENDING: frozenset({BatchStatus.QUEUED, BatchStatus.FAILED}),
    BatchStatus.QUEUED: frozenset({BatchStatus.SCORING, BatchStatus.FAILED}),
    # `scoring -> queued`: storage failed mid-run; the worker releases it for its retry.
    BatchStatus.SCORING: frozenset(
        {BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.SCORING, BatchStatus.QUEUED}
    ),
    BatchStatus.COMPLETED: frozenset(),
    BatchStatus.FAILED: frozenset(),
}
BATCH_STALE_SECONDS = 20 * 60  # longer than a worker's run (Lambda stops at 15 minutes)


def batch_sources_for(target: BatchStatus | str) -> frozenset[BatchStatus]:
    """Statuses from which a batch may move to `target` (for conditional writes)."""
    target = BatchStatus(target)
    return frozenset(s for s, targets in BATCH_TRANSITIONS.items() if target in targets)


class JobPhase(enum.StrEnum):
    STARTING = "starting"
    LOADING = "loading"
    PROFILING = "profiling"
    PREPROCESSING = "preprocessing"
    SEARCHING = "searching"
    REFITTING = "refitting"
    EVALUATING = "evaluating"
    EXPORTING = "exporting"
    REPORTING = "reporting"
    DONE = "done"


class ErrorType(enum.StrEnum):
    CONFIG = "config"  # a missing or malformed environment variable
    DATA = "data"  # the dataset cannot be trained on as given
    INTERRUPTED = "interrupted"  # SIGTERM: Batch timeout or Spot reclaim; resubmittable
    OUT_OF_MEMORY = "out_of_memory"
    DEPENDENCY = "dependency"  # an import failed inside the container
    INTERNAL = "internal"
    SUBMIT = "submit"  # the runner could not start the container
    LOST = "lost"  # the container died without reporting (found by reconciliation)
    CANCELLED = "cancelled"


RESUBMITTABLE_ERRORS = frozenset({ErrorType.INTERRUPTED, ErrorType.SUBMIT, ErrorType.LOST})

# The one way back from `failed`, besides a resubmit: `failed -> running` when the runner
# retries the SAME run. On a Spot reclaim the container gets SIGTERM and records `failed`
# / `interrupted`; AWS Batch then starts attempt 2 of that Batch job, which finds no
# `queued` record to claim. It may re-claim the record, and only when every fact below
# holds, checked by one conditional write (so a cancel, a resubmit or a reconciler that
# moved the job on in between wins): the record is `failed` with error type
# `interrupted`, it names this run (`runner_job_id` is this container's Batch job id),
# and this is a retry (the runner's attempt number is above 1). The record's `attempt`
# goes up by one. It stays out of ALLOWED_TRANSITIONS on purpose: a plain conditional
# write on status alone (`sources_for(RUNNING)`) must never revive a failed job.
RECLAIM_FROM = JobStatus.FAILED
RECLAIM_TO = JobStatus.RUNNING
RECLAIMABLE_ERROR = ErrorType.INTERRUPTED


def can_reclaim(job: Job, *, runner_job_id: str | None, runner_attempt: int) -> bool:
    """Whether a retried run (`runner_attempt` > 1) of `runner_job_id` may re-claim `job`."""
    return (
        runner_attempt > 1
        and bool(runner_job_id)
        and job.status == RECLAIM_FROM
        and job.error_type == RECLAIMABLE_ERROR
        and job.runner_job_id == runner_job_id
    )


# --------------------------------------------------------------------------- problem types

PROBLEM_TYPES = ("binary", "multiclass", "regression")

METRICS: dict[str, tuple[str, ...]] = {
    # First entry is the default for that problem type.
    "binary": ("roc_auc", "accuracy", "f1", "log_loss", "ap"),
    "multiclass": ("accuracy", "roc_auc_ovr", "f1_macro", "log_loss"),
    "regression": ("r2", "rmse", "mae", "mape"),
}

METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "roc_auc_ovr": "ROC AUC (one-vs-rest)",
    "accuracy": "Accuracy",
    "f1": "F1",
    "f1_macro": "F1 (macro)",
    "log_loss": "Log loss",
    "ap": "Average precision",
    "r2": "R²",
    "rmse": "RMSE",
    "mae": "MAE",
    "mape": "MAPE",
}

# Display names of the learners a job may report (FLAML's names; earlier jobs and the earlier
# edition's records name some we no longer search) and of our weighted ensemble.
ESTIMATOR_LABELS = {
    "lgbm": "LightGBM",
    "xgboost": "XGBoost",
    "xgb_limitdepth": "XGBoost (depth-limited)",
    "rf": "Random forest",
    "extra_tree": "Extra trees",
    "lassolars": "Lasso LARS",
    "lrl1": "Logistic regression (L1)",
    "lrl2": "Logistic regression (L2)",
    "kneighbor": "k-nearest neighbours",
    "catboost": "CatBoost",
    "sgd": "SGD",
    "histgb": "Histogram gradient boosting",
    "enet": "Elastic net",
    "svc": "Linear SVM",
    "ensemble": "Ensemble",
}


def estimator_label(name: object) -> str:
    """A learner's display name ("" for none; an unknown name as it is)."""
    return ESTIMATOR_LABELS.get(str(name), str(name)) if name else ""


# Metrics where lower is better; everything else is higher-is-better.
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mape"})


# A classification target is imbalanced when its rarest class has fewer than a quarter of the
# rows of its commonest (worse than 1:4; a binary target under 20 % of rows): class weights
# are then applied, and the default metric is an F1 that counts the rare class. Penguins'
# species (152 / 124 / 68) are not; 8 % fraud is.
IMBALANCE_RATIO = 0.25
IMBALANCED_METRICS = {"binary": "f1", "multiclass": "f1_macro"}
# Metrics that count each class's right answers on its own: balanced class weights move the
# model's decisions toward the rare classes, which these reward. Accuracy counts every row
# alike (weights trade common-class hits for rare ones and lose), ROC AUC and average
# precision rank (weights barely move them), log loss scores calibrated probabilities
# (weights skew them): those train unweighted. Measured on fair_affairs (imbalanced, 5
# classes, 20 s, split 0): accuracy 0.364 weighted against 0.466 unweighted.
CLASS_WEIGHTED_METRICS = frozenset({"f1", "f1_macro"})


def is_imbalanced(class_counts: Any) -> bool:
    """Whether the rarest of these class counts is under IMBALANCE_RATIO of the commonest."""
    counts = [int(c) for c in (() if class_counts is None else class_counts) if int(c) > 0]
    return len(counts) >= 2 and min(counts) / max(counts) < IMBALANCE_RATIO


def default_metric(problem_type: str, *, imbalanced: bool = False) -> str:
    """The metric a job optimises when none is chosen: F1 for imbalanced classes."""
    if imbalanced and problem_type in IMBALANCED_METRICS:
        return IMBALANCED_METRICS[problem_type]
    return METRICS[problem_type][0]


def profile_class_counts(profile: Mapping[str, Any] | None) -> list[int] | None:
    """A target column's class counts from the upload analysis (`top_values`), when they
    cover every class; None otherwise."""
    profile = profile or {}
    top = profile.get("top_values") or []
    counts = [v.get("count") for v in top if isinstance(v, Mapping)]
    unique = profile.get("unique")
    if not counts or not all(isinstance(c, int) for c in counts):
        return None
    if not isinstance(unique, int) or unique > len(counts):
        return None
    return counts


def legacy_problem_type(problem_type: str | None) -> str | None:
    """The earlier edition only knew classification and regression."""
    if problem_type is None:
        return None
    return "regression" if problem_type == "regression" else "classification"


# --------------------------------------------------------------------------- time budget

MIN_TIME_BUDGET = 30
MAX_TIME_BUDGET = 3600


def auto_time_budget(row_count: int) -> int:
    """Seconds of search for a dataset of `row_count` rows when the user gives none."""
    if row_count < 1_000:
        return 120
    if row_count < 10_000:
        return 300
    if row_count < 50_000:
        return 600
    return 1_200


# --------------------------------------------------------------------------- training request


MAX_SEED = 2**31 - 1


class TrainingRequestError(ValueError):
    """A training request that cannot run. `errors` lists (field, message) pairs, the
    fields named as the configure form and the API's `config` name them."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        self.field, self.message = errors[0]
        super().__init__("; ".join(message for _, message in errors))


@dataclass(frozen=True)
class TrainingSettings:
    """A validated training request: what a job record and the container's run carry."""

    target_column: str
    problem_type: str | None  # None: the container detects it (no analysis at hand)
    metric: str | None  # None: the problem type's default, once known
    time_budget: int | None  # None: no row count at hand to pick one from
    excluded_columns: tuple[str, ...]
    seed: int | None = None  # None: the deployment's seed
    ensemble: bool = True
    kept_columns: tuple[str, ...] = ()


def _budget(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value)


def validate_training_request(
    *,
    target_column: str,
    problem_type: str | None = None,
    metric: str | None = None,
    time_budget: Any = None,
    excluded_columns: Any = (),
    columns: list[str] | tuple[str, ...] | None = None,
    profiles: Mapping[str, Mapping[str, Any]] | None = None,
    row_count: int | None = None,
    min_time_budget: int = MIN_TIME_BUDGET,
    seed: Any = None,
    ensemble: Any = True,
    kept_columns: Any = (),
) -> TrainingSettings:
    """The one check of a training request: the configure form, the API, the job service
    and the container all call it, so a request means the same and fails the same way
    everywhere.

    Args:
        target_column: The column to predict.
        problem_type: binary, multiclass or regression; None, "" or "auto" to detect.
        metric: A metric of the problem type; None, "" or "auto" for its default.
        time_budget: Search seconds (int or digits); None or "" for the automatic budget.
        excluded_columns: Columns to leave out of the features.
        columns: The dataset's columns, when known (the checks against them are skipped
            otherwise: the API's shape check, the container before it reads the file).
        profiles: The analysis entries by column name (`problem_type`, `kind`, `unique`),
            when known: "auto" then resolves to the detected problem type.
        row_count: The dataset's rows, when known, for the automatic budget.
        min_time_budget: The budget floor: the deployment's (the web's setting, by default
            MIN_TIME_BUDGET); the container passes CONTAINER_MIN_TIME_BUDGET, the web
            having checked the deployment's floor already.
        seed: The search's random seed (0 to 2**31 - 1); None for the deployment's.
        ensemble: Whether a weighted ensemble of the best models may be tried.
        kept_columns: Identifier or constant columns to keep as features anyway.

    Returns:
        The settings with "auto" resolved as far as the facts given allow.

    Raises:
        TrainingRequestError: every problem found, each with the field it belongs to.
    """
    errors: list[tuple[str, str]] = []
    target = target_column if isinstance(target_column, str) else ""
    if not target:
        errors.append(("target_column", "Choose the column to predict."))
    elif columns is not None and target not in columns:
        errors.append(("target_column", f"Target column '{target}' not found in dataset"))

    if isinstance(excluded_columns, str) or not all(
        isinstance(c, str) for c in excluded_columns or ()
    ):
        errors.append(("excluded_columns", "Excluded columns must be a list of column names."))
        excluded: list[str] = []
    else:
        excluded = list(dict.fromkeys(excluded_columns or ()))
    if columns is not None:
        unknown = [c for c in excluded if c not in columns]
        if unknown:
            errors.append(("excluded_columns", f"Excluded columns not found in dataset: {unknown}"))
    if target and target in excluded:
        errors.append(
            (
                "excluded_columns",
                f"The target column '{target}' cannot also be excluded: untick it, or pick "
                "another target.",
            )
        )
    elif (
        columns is not None
        and target in columns
        and not [c for c in columns if c != target and c not in excluded]
    ):
        errors.append(("excluded_columns", "No feature columns are left: exclude fewer."))

    chosen = None if problem_type in (None, "", "auto") else problem_type
    if chosen is not None and chosen not in PROBLEM_TYPES:
        errors.append(
            (
                "problem_type",
                f"Unknown problem type '{chosen}': use one of {', '.join(PROBLEM_TYPES)}.",
            )
        )
        chosen = None
    elif (
        chosen is None
        and profiles is not None
        and target
        and (columns is None or target in columns)
    ):
        profile = profiles.get(target) or {}
        detected = profile.get("problem_type")
        if detected in PROBLEM_TYPES:
            chosen = detected
        else:
            from training_image.detection import unusable_target_reason

            unique = profile.get("unique")
            reason = unusable_target_reason(
                profile.get("kind"), unique if isinstance(unique, int) else None
            )
            errors.append(
                (
                    "target_column",
                    f"Column '{target}' cannot be a training target: {reason}. Pick another "
                    "target, or choose the problem type yourself.",
                )
            )

    every_metric = {m for names in METRICS.values() for m in names}
    chosen_metric = None if metric in (None, "", "auto") else metric
    if chosen_metric is not None and chosen_metric not in every_metric:
        errors.append(("metric", f"Unknown metric '{chosen_metric}'."))
        chosen_metric = None
    elif chosen_metric is not None and chosen in METRICS and chosen_metric not in METRICS[chosen]:
        from training_image.detection import problem_type_label

        errors.append(
            (
                "metric",
                f"{METRIC_LABELS.get(chosen_metric, chosen_metric)} does not apply to "
                f"{problem_type_label(chosen).lower()} ({chosen}); pick one of "
                f"{', '.join(METRIC_LABELS.get(m, m) for m in METRICS[chosen])}.",
            )
        )
    if chosen_metric is None and chosen in METRICS:
        counts = profile_class_counts((profiles or {}).get(target))
        chosen_metric = default_metric(chosen, imbalanced=is_imbalanced(counts))

    budget: int | None = None
    try:
        budget = _budget(time_budget)
    except (TypeError, ValueError):
        errors.append(("time_budget", "Time budget must be a whole number of seconds."))
    else:
        if budget is None and row_count is not None:
            budget = auto_time_budget(row_count)
        elif budget is not None and not min_time_budget <= budget <= MAX_TIME_BUDGET:
            errors.append(
                (
                    "time_budget",
                    f"Time budget must be between {min_time_budget} and {MAX_TIME_BUDGET} seconds.",
                )
            )
    if chosen_metric == "mape" and profiles is not None and target:
        profile = profiles.get(target) or {}
        low, high = profile.get("min"), profile.get("max")
        if isinstance(low, int | float) and isinstance(high, int | float) and low <= 0 <= high:
            errors.append(
                (
                    "metric",
                    f"MAPE divides by the target, and '{target}' reaches zero (from {low} to "
                    f"{high}): pick RMSE or MAE instead.",
                )
            )

    chosen_seed: int | None = None
    if seed not in (None, ""):
        try:
            chosen_seed = _budget(seed)
        except (TypeError, ValueError):
            chosen_seed = -1
        if chosen_seed is None or not 0 <= chosen_seed <= MAX_SEED:
            errors.append(("seed", f"Seed must be a whole number from 0 to {MAX_SEED}."))
            chosen_seed = None
    if not isinstance(ensemble, bool):
        errors.append(("ensemble", "Ensemble must be true or false."))

    if isinstance(kept_columns, str) or not all(isinstance(c, str) for c in kept_columns or ()):
        errors.append(("kept_columns", "Kept columns must be a list of column names."))
        kept: list[str] = []
    else:
        kept = [c for c in dict.fromkeys(kept_columns or ()) if c != target]
        clash = [c for c in kept if c in excluded]
        if clash:
            errors.append(("kept_columns", f"Columns cannot be both kept and excluded: {clash}"))
        if columns is not None and (unknown := [c for c in kept if c not in columns]):
            errors.append(("kept_columns", f"Kept columns not found in dataset: {unknown}"))

    if errors:
        raise TrainingRequestError(errors)
    return TrainingSettings(
        target_column=target,
        problem_type=chosen,
        metric=chosen_metric,
        time_budget=budget,
        excluded_columns=tuple(excluded),
        seed=chosen_seed,
        ensemble=bool(ensemble),
        kept_columns=tuple(kept),
    )


def mape_applies(values: Any) -> bool:
    """Whether MAPE means something for these target values: all of one sign and none
    near zero (within 1 % of the median size), so no row's error is divided by ~0."""
    sizes = []
    for value in values:
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            return False
        sizes.append(number)
    if not sizes or not (all(v > 0 for v in sizes) or all(v < 0 for v in sizes)):
        return False
    magnitudes = sorted(abs(v) for v in sizes)
    median = magnitudes[len(magnitudes) // 2]
    return magnitudes[0] >= 0.01 * median


# --------------------------------------------------------------------------- artifacts

MODEL_PKL = "model.pkl"
MODEL_ONNX = "model.onnx"
MODEL_CARD = "model_card.json"
EVALUATION = "evaluation.json"
EDA_REPORT = "eda_report.html"
TRAINING_REPORT = "training_report.html"

ARTIFACTS = (MODEL_PKL, MODEL_ONNX, MODEL_CARD, EVALUATION, EDA_REPORT, TRAINING_REPORT)

ARTIFACT_CONTENT_TYPES = {
    MODEL_PKL: "application/octet-stream",
    MODEL_ONNX: "application/octet-stream",
    MODEL_CARD: "application/json",
    EVALUATION: "application/json",
    EDA_REPORT: "text/html; charset=utf-8",
    TRAINING_REPORT: "text/html; charset=utf-8",
}


# --------------------------------------------------------------------------- run documents
# evaluation.json and model_card.json: the container builds them (training_image/pipeline.py,
# export.py, evaluate.py), the web reads them (jobs/pages.py, jobs/model_spec.py). Keys marked
# NotRequired are absent by design (a classifier's curves, an encoding's facts). A record
# written before a key existed lacks it: `read_evaluation` and `read_model_card` fill in what
# that absence means, once, so readers index every other key directly.


class Baseline(TypedDict):
    name: str  # "majority class", "mean of the training target"
    metrics: dict[str, float]


class ConfusionMatrix(TypedDict):
    labels: list[Any]  # original labels, in code order
    matrix: list[list[int]]  # rows: true class, columns: predicted


class ClassReport(TypedDict):
    label: Any
    precision: float
    recall: float
    f1: float
    support: int


class RocCurve(TypedDict):
    fpr: list[float]
    tpr: list[float]
    auc: float


class PrCurve(TypedDict):
    precision: list[float]
    recall: list[float]
    ap: float  # average precision


class Residuals(TypedDict):
    predicted: list[float]
    actual: list[float]


class LeaderboardRow(TypedDict):
    estimator: str  # a learner, or "ensemble"
    best_score: float
    trials: int
    time: float  # seconds of its trials
    oof_score: NotRequired[float | None]  # when the ensemble was tried: re-measured out-of-fold
    members: NotRequired[dict[str, int]]  # the ensemble's row: candidate id -> weight


class Importance(TypedDict):
    feature: str  # an original column
    importance: float


class LeakageWarning(TypedDict):
    feature: str
    score: float
    message: str


class OnnxCheck(TypedDict):
    """evaluation.json's `onnx`: whether model.onnx was written and how well it matches."""

    available: bool
    max_abs_diff: float | None
    reason: str | None  # why it is not available
    rows_checked: NotRequired[int]
    label_agreement: NotRequired[float | None]
    tied_rows: NotRequired[int | None]


class SplitSummary(TypedDict):
    train_rows: int
    test_rows: int
    validation: str  # "cv" or "holdout"
    folds: int | None
    seed: int


class DroppedColumn(TypedDict):
    column: str
    reason: str


class SearchSummary(TypedDict):
    trials: int
    seconds: float
    stopped: str  # "converged", "planned" (every planned trial ran), "time", "requested"
    estimators: list[str]


class EnsembleSummary(TypedDict):
    used: bool
    reason: str
    weights: dict[str, int]  # candidate id -> weight
    score: float | None  # out-of-fold, when tried
    single_score: float | None


class HistoryPoint(TypedDict):
    time: float
    trial: int
    estimator: str
    score: float


class TargetTransform(TypedDict):
    transform: str | None  # "log1p" or None
    reason: str
    r2_raw: float | None  # the quick check's R² learning y
    r2_log: float | None  # and learning log(1 + y), both in y's units


class Evaluation(TypedDict):
    """evaluation.json. A None or empty value in a record means "not recorded" (written before
    the key existed); the container always writes every key with its value."""

    problem_type: str | None
    metric: str | None
    metric_label: str | None
    best_estimator: str | None
    best_config: dict[str, Any]
    validation_score: float | None
    test_metrics: dict[str, float]
    baseline: Baseline | None
    confusion_matrix: NotRequired[ConfusionMatrix]  # classification
    per_class: NotRequired[list[ClassReport]]  # classification
    roc_curve: NotRequired[RocCurve]  # binary, both classes among the test rows
    pr_curve: NotRequired[PrCurve]  # binary, both classes among the test rows
    residuals: NotRequired[Residuals]  # regression
    leaderboard: list[LeaderboardRow]
    feature_importance: list[Importance]
    leakage_warnings: list[LeakageWarning]
    onnx: OnnxCheck | None
    split: SplitSummary | None
    dropped_columns: list[DroppedColumn]
    target_missing_dropped: int
    search: SearchSummary | None
    ensemble: EnsembleSummary | None
    class_weighting: str | None  # "balanced" or None
    # Whether the target was learnt as log(1 + y), and the quick check that chose; None for a
    # run from before the check.
    target_transform: TargetTransform | None
    # What the time budget cut from the run's fixed plan: empty, the same data, settings and
    # seed give the same model again; None for a run from before the plan was fixed.
    cut: list[str] | None
    trained_on: str | None
    warnings: list[str]
    search_history: list[HistoryPoint]
    timeline: dict[str, float]  # phase -> seconds


class FeatureEntry(TypedDict):
    """One feature of the model card: what a raw value of the column may be."""

    name: str  # the raw column
    kind: str  # detection's column kind
    dtype: str  # its pandas dtype in training
    allowed_values: NotRequired[list[str]]  # onehot / ordinal: most frequent first (at most 50)
    n_values: NotRequired[int]  # onehot / ordinal: categories learned
    min: NotRequired[float]  # numeric / boolean, when the column has values
    max: NotRequired[float]
    median: NotRequired[float]
    is_integer: NotRequired[bool]
    format: NotRequired[str | None]  # datetime: its strptime format
    unit: NotRequired[str]  # numeric: the unit its values are written with ("kmpl")
    examples: NotRequired[list[str]]  # text: a few frequent values


class OnnxInput(TypedDict):
    name: str  # graph input name
    column: str  # the raw column it is made from
    dtype: str  # "float" or "string"
    derived: str | None  # datetime: the part (year, month, ...)
    encoding: str  # numeric, boolean, onehot, ordinal, text, datetime
    format: NotRequired[str | None]  # datetime: its strptime format
    unit: NotRequired[str]  # numeric: the unit its values are written with


class OnnxOutput(TypedDict):
    name: str
    dtype: str
    shape: list[Any]
    meaning: str


class CardOnnx(TypedDict):
    available: bool
    inputs: list[OnnxInput]
    outputs: list[OnnxOutput]
    notes: str  # how a server builds the inputs from a raw row
    max_abs_diff: float | None
    opset: int | None


class CardEnsemble(TypedDict):
    allowed: bool
    used: bool
    reason: str


class PickleUsage(TypedDict):
    load: str
    predict: str


class ModelCard(TypedDict):
    """model_card.json. A None or empty value in a record means "not recorded" (written before
    the key existed); the container always writes every key with its value."""

    job_id: str | None
    problem_type: str
    target: str
    metric: str | None
    best_estimator: str | None
    features: list[FeatureEntry]
    classes: list[Any] | None  # original labels in code order (classification)
    label_mapping: dict[str, Any]  # str(code) -> label
    metrics: dict[str, float]  # test metrics
    seed: int | None
    # The same data, settings and seed give the same model and test scores (None: older runs,
    # whose search followed the clock); `cut` lists what the time budget cut from the plan.
    reproducible: bool | None
    cut: list[str]
    ensemble: CardEnsemble | None
    data_sha256: str | None
    library_versions: dict[str, str]
    created_at: str | None
    dropped_columns: list[DroppedColumn]
    trained_on: str | None
    onnx: CardOnnx
    pickle: PickleUsage | None
    # Per-feature training distribution, for drift checks on new data.
    drift_reference: NotRequired[dict[str, Any]]


# What a key missing from an older record means (every key not marked NotRequired).
_EVALUATION_UNRECORDED: dict[str, Any] = {
    "problem_type": None,
    "metric": None,
    "metric_label": None,
    "best_estimator": None,
    "best_config": {},
    "validation_score": None,
    "test_metrics": {},
    "baseline": None,
    "leaderboard": [],
    "feature_importance": [],
    "leakage_warnings": [],
    "onnx": None,
    "split": None,
    "dropped_columns": [],
    "target_missing_dropped": 0,
    "search": None,
    "ensemble": None,
    "class_weighting": None,
    "target_transform": None,
    "cut": None,
    "trained_on": None,
    "warnings": [],
    "search_history": [],
    "timeline": {},
}
_CARD_UNRECORDED: dict[str, Any] = {
    "job_id": None,
    "metric": None,
    "best_estimator": None,
    "features": [],
    "classes": None,
    "label_mapping": {},
    "metrics": {},
    "seed": None,
    "reproducible": None,
    "cut": [],
    "ensemble": None,
    "data_sha256": None,
    "library_versions": {},
    "created_at": None,
    "dropped_columns": [],
    "trained_on": None,
    "pickle": None,
}
_CARD_ONNX_UNRECORDED: dict[str, Any] = {
    "available": False,
    "inputs": [],
    "outputs": [],
    "notes": "",
    "max_abs_diff": None,
    "opset": None,
}


def _with_unrecorded(raw: Mapping[str, Any], unrecorded: Mapping[str, Any]) -> dict[str, Any]:
    """`raw` with each missing (or null) key of `unrecorded` set to its "not recorded" value."""
    out = dict(raw)
    for key, value in unrecorded.items():
        if out.get(key) is None:
            out[key] = json.loads(json.dumps(value))  # a fresh copy of the empty value
    return out


def read_evaluation(raw: Mapping[str, Any]) -> Evaluation:
    """An evaluation.json as read back, from any edition of the container."""
    return cast(Evaluation, _with_unrecorded(raw, _EVALUATION_UNRECORDED))


def read_model_card(raw: Mapping[str, Any]) -> ModelCard:
    """A model_card.json as read back, from any edition of the container.

    Raises:
        ValueError: `raw` names no problem type: it is not a model card.
    """
    if not isinstance(raw.get("problem_type"), str):
        raise ValueError("a model card names its problem type")
    card = _with_unrecorded(raw, _CARD_UNRECORDED)
    card["onnx"] = _with_unrecorded(card.get("onnx") or {}, _CARD_ONNX_UNRECORDED)
    return cast(ModelCard, card)


# Which storage alias (bucket or folder) holds each artifact: HTML reports go to the reports
# storage, everything a server needs to load a model goes to the models storage.
ARTIFACT_STORAGE = {
    MODEL_PKL: "models",
    MODEL_ONNX: "models",
    MODEL_CARD: "models",
    EVALUATION: "models",
    EDA_REPORT: "reports",
    TRAINING_REPORT: "reports",
}


def artifact_key(job_id: str, name: str) -> str:
    """Key of a job's artifact inside the models storage (bucket or folder)."""
    if name not in ARTIFACTS:
        raise ValueError(f"unknown artifact {name!r}")
    return f"jobs/{job_id}/{name}"


def dataset_key(dataset_id: str, filename: str) -> str:
    """Key of an uploaded CSV inside the datasets storage."""
    return f"datasets/{dataset_id}/{filename}"


def batch_input_key(job_id: str, batch_id: str, filename: str) -> str:
    """Key of a batch's uploaded CSV inside the datasets storage (outside `datasets/`,
    which the training container may read)."""
    return f"batches/{job_id}/{batch_id}/{filename}"


# The scored CSV is a download for people, like the HTML reports: it goes to the reports
# storage, never beside the model files a server loads (models storage).
BATCH_OUTPUT_STORAGE = "reports"
BATCH_OUTPUT_NAME = "predictions.csv"
BATCH_VALIDATION_NAME = "validation.json"


def batch_output_key(job_id: str, batch_id: str) -> str:
    """Key of a batch's result CSV inside the reports storage."""
    return f"batches/{job_id}/{batch_id}/{BATCH_OUTPUT_NAME}"


def batch_validation_key(job_id: str, batch_id: str) -> str:
    """Key of a validation batch's report (metrics and drift, JSON) in the reports storage."""
    return f"batches/{job_id}/{batch_id}/{BATCH_VALIDATION_NAME}"


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_filename(name: str, *, max_length: int = 120) -> str:
    """A storage-safe file name: no directories, no odd characters, keeps the extension."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = _SAFE_NAME.sub("_", base).strip("._") or "dataset.csv"
    if len(base) > max_length:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: max_length - len(ext) - 1] + dot + ext) if dot else base[:max_length]
    return base


# --------------------------------------------------------------------------- records


def utcnow() -> str:
    """ISO-8601 UTC timestamp with microseconds: sorts as text, as DynamoDB needs."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Dataset:
    dataset_id: str
    owner_id: str
    filename: str
    storage_key: str
    status: str = DatasetStatus.UPLOADING
    file_size: int = 0
    created_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)
    # Filled by analysis: see datasets/analysis.py for the shape.
    row_count: int | None = None
    columns: list[str] = field(default_factory=list)
    analysis: dict[str, Any] | None = None
    error_message: str | None = None
    # How the file is read (CsvDialect.to_dict()), sniffed once by the analysis; every job
    # on the dataset hands it to the container (AUTOML_CSV_DIALECT). None: not analysed yet.
    csv_dialect: dict[str, Any] | None = None

    def to_item(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Dataset:
        return _from_item(cls, item)


@dataclass
class Job:
    job_id: str
    owner_id: str
    dataset_id: str
    target_column: str
    status: str = JobStatus.PENDING
    dataset_name: str = ""
    problem_type: str | None = None  # None: the container detects it
    metric: str | None = None  # None: the problem type's default
    time_budget: int = 120
    excluded_columns: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)
    started_at: str | None = None
    completed_at: str | None = None
    heartbeat_at: str | None = None
    attempt: int = 1
    runner_job_id: str | None = None  # Batch job id, or the local process id
    idempotency_key: str | None = None
    # Live progress: phase, trials, best_estimator, best_score, elapsed, eta, message.
    progress: dict[str, Any] = field(default_factory=dict)
    # Headline test metrics (floats) plus training_time and best_estimator.
    metrics: dict[str, Any] = field(default_factory=dict)
    # Artifact name -> storage key.
    artifacts: dict[str, str] = field(default_factory=dict)
    # Feature columns, dropped columns with reasons, target mapping (string keys).
    preprocessing: dict[str, Any] = field(default_factory=dict)
    error_type: str | None = None
    error_message: str | None = None
    error_phase: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    deployed: bool = False
    deployed_at: str | None = None
    # The dataset's CsvDialect.to_dict() when the job was created (None: the container sniffs).
    csv_dialect: dict[str, Any] | None = None
    # Names for integer-coded classes, given at configure time: class value (text) -> name.
    class_names: dict[str, str] = field(default_factory=dict)
    # Search settings: the random seed (None: the deployment's, Backend.seed), whether a
    # weighted ensemble may be tried, and the columns the analysis would drop (identifier,
    # constant) that the user chose to keep as features.
    seed: int | None = None
    ensemble: bool = True
    kept_columns: list[str] = field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_item(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Job:
        return _from_item(cls, item)


@dataclass
class PredictionBatch:
    """One CSV file scored with a job's model: its upload, progress and result."""

    batch_id: str
    owner_id: str
    job_id: str
    filename: str  # the sanitized name of the uploaded file
    input_key: str  # datasets storage
    status: str = BatchStatus.PENDING
    size: int = 0  # bytes of the uploaded file
    output_key: str | None = None  # reports storage, once completed
    # reports storage: metrics and drift, when the file held the target (a validation)
    validation_key: str | None = None
    rows_total: int | None = None  # known when scoring ends
    rows_done: int = 0
    bytes_done: int = 0  # of the input read so far (the progress while scoring)
    created_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)
    started_at: str | None = None
    completed_at: str | None = None
    error_message: str | None = None
    # Where the error sits: row, line, column, missing_columns (when one is to blame).
    error_details: dict[str, Any] = field(default_factory=dict)
    attempt: int = 0  # claims by a worker

    @property
    def is_terminal(self) -> bool:
        return self.status in BATCH_TERMINAL_STATUSES

    @property
    def progress(self) -> float:
        """Share of the work done, 0.0 to 1.0."""
        if self.status == BatchStatus.COMPLETED:
            return 1.0
        if not self.size:
            return 0.0
        return round(min(self.bytes_done / self.size, 0.99), 4)

    def to_item(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> PredictionBatch:
        return _from_item(cls, item)


def _from_item(cls: type, item: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in item.items() if k in names})


# NOTE for the container's job store: the SQLite schema is SQLITE_SCHEMA at the end of this
# module (lead's decision). Each record is ONE JSON document in the `item` column (Job.to_item()),
# with owner_id/dataset_id/created_at/updated_at/status mirrored as indexed columns. A conditional
# write is: BEGIN IMMEDIATE; SELECT item ... WHERE job_id=? ; check status in sources_for(to);
# UPDATE jobs SET item=?, status=?, updated_at=? WHERE job_id=? AND status=?; COMMIT.
# Use sqlite_job_columns() below so both sides mirror the same columns.


# --------------------------------------------------------------------------- container environment


class ContainerEnvError(ValueError):
    """A required container variable is missing or malformed."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


@dataclass(frozen=True)
class EnvVar:
    name: str
    required: bool
    help: str


ENV_JOB_ID = "AUTOML_JOB_ID"
ENV_DATASET_KEY = "AUTOML_DATASET_KEY"
ENV_TARGET_COLUMN = "AUTOML_TARGET_COLUMN"
ENV_PROBLEM_TYPE = "AUTOML_PROBLEM_TYPE"
ENV_METRIC = "AUTOML_METRIC"
ENV_TIME_BUDGET = "AUTOML_TIME_BUDGET"
ENV_CLASS_NAMES = "AUTOML_CLASS_NAMES"  # optional: JSON object, class value (text) -> name
ENV_SEED = "AUTOML_SEED"
ENV_ENSEMBLE = "AUTOML_ENSEMBLE"  # optional: "false" turns the weighted ensemble off
ENV_KEPT_COLUMNS = "AUTOML_KEPT_COLUMNS"  # optional JSON list: detected drops to keep
ENV_STORAGE = "AUTOML_STORAGE"
ENV_DATASETS_LOCATION = "AUTOML_DATASETS_LOCATION"
ENV_MODELS_LOCATION = "AUTOML_MODELS_LOCATION"
ENV_REPORTS_LOCATION = "AUTOML_REPORTS_LOCATION"
ENV_JOB_STORE = "AUTOML_JOB_STORE"
ENV_JOB_STORE_LOCATION = "AUTOML_JOB_STORE_LOCATION"
ENV_AWS_REGION = "AWS_DEFAULT_REGION"
# Optional: the dataset's CsvDialect as JSON (CsvDialect.to_json()); absent for jobs made
# before the analysis stored one, and then the container sniffs the file itself.
ENV_CSV_DIALECT = "AUTOML_CSV_DIALECT"
# Set by AWS Batch itself in every container it starts (never by us): the Batch job id and
# the attempt number (1 for the first run, 2 for Batch's retry after a Spot reclaim).
ENV_RUNNER_JOB_ID = "AWS_BATCH_JOB_ID"
ENV_RUNNER_ATTEMPT = "AWS_BATCH_JOB_ATTEMPT"

CONTAINER_ENV: tuple[EnvVar, ...] = (
    EnvVar(ENV_JOB_ID, True, "job record id"),
    EnvVar(ENV_DATASET_KEY, True, "key of the CSV in the datasets storage"),
    EnvVar(ENV_TARGET_COLUMN, True, "column to predict"),
    EnvVar(ENV_PROBLEM_TYPE, True, "binary, multiclass, regression or auto"),
    EnvVar(ENV_METRIC, True, "metric name or auto"),
    EnvVar(ENV_TIME_BUDGET, True, f"search seconds, {MIN_TIME_BUDGET}-{MAX_TIME_BUDGET}"),
    EnvVar(ENV_SEED, True, "random seed (integer)"),
    EnvVar(ENV_STORAGE, True, "local or s3"),
    EnvVar(ENV_DATASETS_LOCATION, True, "folder or bucket holding datasets"),
    EnvVar(ENV_MODELS_LOCATION, True, "folder or bucket receiving model artifacts"),
    EnvVar(ENV_REPORTS_LOCATION, True, "folder or bucket receiving HTML reports"),
    EnvVar(ENV_JOB_STORE, True, "sqlite or dynamodb"),
    EnvVar(ENV_JOB_STORE_LOCATION, True, "SQLite file path or DynamoDB jobs table name"),
    EnvVar(ENV_CSV_DIALECT, False, "JSON CsvDialect of the dataset (absent: sniff the file)"),
    EnvVar(ENV_CLASS_NAMES, False, "JSON object naming integer-coded classes (value -> name)"),
    EnvVar(ENV_ENSEMBLE, False, "true (default) or false: may a weighted ensemble be tried"),
    EnvVar(
        ENV_KEPT_COLUMNS,
        False,
        "JSON list of identifier or constant columns to keep as features (default [])",
    ),
)
REQUIRED_ENV = tuple(v.name for v in CONTAINER_ENV if v.required)

# The deployment's facts: the same for every run, so AWS Batch's job definition carries them
# (deploy/automl-lite.yaml) and a submit's `containerOverrides` only the per-job values (ECS
# caps overrides at 8,192 characters). Long per-job lists, such as the excluded columns,
# are read from the job record by the container, never passed in the environment.
DEPLOYMENT_ENV = (
    ENV_STORAGE,
    ENV_DATASETS_LOCATION,
    ENV_MODELS_LOCATION,
    ENV_REPORTS_LOCATION,
    ENV_JOB_STORE,
    ENV_JOB_STORE_LOCATION,
    ENV_AWS_REGION,
)

# Tests may shorten the search below the product's floor; the container accepts >= 1 s.
CONTAINER_MIN_TIME_BUDGET = 1


@dataclass(frozen=True)
class Backend:
    """Where the container finds its storage and job table: the deployment's facts."""

    storage: str  # "local" | "s3"
    datasets_location: str
    models_location: str
    reports_location: str
    job_store: str  # "sqlite" | "dynamodb"
    job_store_location: str
    seed: int = 42
    extra_env: tuple[tuple[str, str], ...] = ()  # e.g. AWS region, endpoint URL


def container_env(job: Job, *, dataset_key: str, backend: Backend) -> dict[str, str]:
    """The environment for one training run: the only place it is built."""
    env = {
        ENV_JOB_ID: job.job_id,
        ENV_DATASET_KEY: dataset_key,
        ENV_TARGET_COLUMN: job.target_column,
        ENV_PROBLEM_TYPE: job.problem_type or "auto",
        ENV_METRIC: job.metric or "auto",
        ENV_TIME_BUDGET: str(int(job.time_budget)),
        ENV_SEED: str(backend.seed if job.seed is None else job.seed),
        ENV_STORAGE: backend.storage,
        ENV_DATASETS_LOCATION: backend.datasets_location,
        ENV_MODELS_LOCATION: backend.models_location,
        ENV_REPORTS_LOCATION: backend.reports_location,
        ENV_JOB_STORE: backend.job_store,
        ENV_JOB_STORE_LOCATION: backend.job_store_location,
        ENV_ENSEMBLE: "true" if job.ensemble else "false",
        ENV_KEPT_COLUMNS: json.dumps(list(job.kept_columns)),
    }
    if job.csv_dialect is not None:
        env[ENV_CSV_DIALECT] = CsvDialect.from_dict(job.csv_dialect).to_json()
    if job.class_names:
        env[ENV_CLASS_NAMES] = json.dumps(dict(job.class_names))
    env.update(dict(backend.extra_env))
    return env


@dataclass(frozen=True)
class ContainerConfig:
    job_id: str
    dataset_key: str
    target_column: str
    problem_type: str | None  # None: detect
    metric: str | None  # None: default for the problem type
    time_budget: int
    seed: int
    storage: str
    datasets_location: str
    models_location: str
    reports_location: str
    job_store: str
    job_store_location: str
    # The runner's id of this run and its attempt (AWS Batch; None / 1 elsewhere).
    runner_job_id: str | None = None
    runner_attempt: int = 1
    # How to read the dataset (None: sniff it).
    csv_dialect: CsvDialect | None = None
    class_names: tuple[tuple[str, str], ...] = ()  # class value (text) -> name

    ensemble: bool = True
    kept_columns: tuple[str, ...] = ()


def _class_names_env(raw: str | None) -> tuple[tuple[str, str], ...]:
    if raw is None or not raw.strip():
        return ()
    try:
        names = json.loads(raw)
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in names.items()
    ):
        raise ContainerEnvError(ENV_CLASS_NAMES, "must be a JSON object of text to text")
    return tuple(names.items())


# Which container variable carries each field of a training request.
_TRAINING_FIELD_ENV = {
    "target_column": ENV_TARGET_COLUMN,
    "problem_type": ENV_PROBLEM_TYPE,
    "metric": ENV_METRIC,
    "time_budget": ENV_TIME_BUDGET,
}


def read_container_env(environ: Mapping[str, str]) -> ContainerConfig:
    """Validate the container's environment; raise ContainerEnvError naming the variable."""

    def need(name: str) -> str:
        value = environ.get(name)
        if value is None or value.strip() == "":
            raise ContainerEnvError(name, "is missing or empty")
        return value.strip()

    def choice(name: str, allowed: tuple[str, ...]) -> str:
        value = need(name)
        if value not in allowed:
            raise ContainerEnvError(name, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def integer(name: str, low: int, high: int) -> int:
        raw = need(name)
        try:
            value = int(raw)
        except ValueError:
            raise ContainerEnvError(name, f"must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise ContainerEnvError(name, f"must be between {low} and {high}, got {value}")
        return value

    for var in CONTAINER_ENV:
        if var.required:
            need(var.name)

    problem_type = choice(ENV_PROBLEM_TYPE, (*PROBLEM_TYPES, "auto"))
    budget = need(ENV_TIME_BUDGET)
    if not budget.isdigit():
        raise ContainerEnvError(ENV_TIME_BUDGET, f"must be an integer, got {budget!r}")
    try:
        # The web's check, again: the record may come from anywhere (a script, an old web).
        request = validate_training_request(
            target_column=environ[ENV_TARGET_COLUMN],  # column names may carry spaces
            problem_type=problem_type,
            metric=need(ENV_METRIC),
            time_budget=budget,
            excluded_columns=(),  # read from the job record (__main__)
            min_time_budget=CONTAINER_MIN_TIME_BUDGET,
        )
    except TrainingRequestError as exc:
        raise ContainerEnvError(_TRAINING_FIELD_ENV[exc.field], exc.message) from None

    return ContainerConfig(
        job_id=need(ENV_JOB_ID),
        dataset_key=need(ENV_DATASET_KEY),
        target_column=request.target_column,
        problem_type=request.problem_type,
        # An explicit metric stays; "auto" stays None (the container resolves it once the
        # problem type is detected).
        metric=None if need(ENV_METRIC) == "auto" else request.metric,
        time_budget=int(request.time_budget or 0),
        seed=integer(ENV_SEED, 0, MAX_SEED),
        storage=choice(ENV_STORAGE, ("local", "s3")),
        datasets_location=need(ENV_DATASETS_LOCATION),
        models_location=need(ENV_MODELS_LOCATION),
        reports_location=need(ENV_REPORTS_LOCATION),
        job_store=choice(ENV_JOB_STORE, ("sqlite", "dynamodb")),
        job_store_location=need(ENV_JOB_STORE_LOCATION),
        runner_job_id=(environ.get(ENV_RUNNER_JOB_ID) or "").strip() or None,
        runner_attempt=(
            integer(ENV_RUNNER_ATTEMPT, 1, 10_000) if environ.get(ENV_RUNNER_ATTEMPT) else 1
        ),
        csv_dialect=_csv_dialect(environ.get(ENV_CSV_DIALECT)),
        class_names=_class_names_env(environ.get(ENV_CLASS_NAMES)),
        ensemble=_flag(environ, ENV_ENSEMBLE, default=True),
        kept_columns=_json_names(environ, ENV_KEPT_COLUMNS),
    )


def _csv_dialect(raw: str | None) -> CsvDialect | None:
    if raw is None or not raw.strip():
        return None
    try:
        return CsvDialect.from_json(raw)
    except ValueError as error:
        raise ContainerEnvError(
            ENV_CSV_DIALECT, f"must be a CSV dialect as JSON (CsvDialect.to_json()): {error}"
        ) from None


def _flag(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = (environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false", "1", "0"):
        raise ContainerEnvError(name, f"must be true or false, got {raw!r}")
    return raw in ("true", "1")


def _json_names(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ContainerEnvError(name, "must be a JSON list of strings") from None
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ContainerEnvError(name, "must be a JSON list of strings")
    return tuple(value)


# --------------------------------------------------------------------------- storage schema

# Both record stores keep the whole record as one document (SQLite: JSON text in
# `item`; DynamoDB: one item) and mirror the indexed fields as columns/keys.
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status     TEXT NOT NULL,
    item       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS datasets_owner_created ON datasets (owner_id, created_at DESC, dataset_id);
CREATE INDEX IF NOT EXISTS datasets_status_created ON datasets (status, created_at DESC, dataset_id);
CREATE TABLE IF NOT EXISTS jobs (
    job_id     TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status     TEXT NOT NULL,
    item       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner_created ON jobs (owner_id, created_at DESC, job_id);
CREATE INDEX IF NOT EXISTS jobs_status_updated ON jobs (status, updated_at);
CREATE INDEX IF NOT EXISTS jobs_dataset ON jobs (dataset_id);
CREATE TABLE IF NOT EXISTS prediction_batches (
    batch_id   TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    job_id     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status     TEXT NOT NULL,
    item       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_job_created ON prediction_batches (job_id, created_at DESC, batch_id);
"""

# DynamoDB: table key and global secondary indexes (name -> (hash key, range key)).
DYNAMO_DATASETS_KEY = "dataset_id"
DYNAMO_JOBS_KEY = "job_id"
DYNAMO_OWNER_INDEX = "owner_id-created_at-index"
DYNAMO_STATUS_INDEX = "status-updated_at-index"
DYNAMO_DATASET_INDEX = "dataset_id-index"
# Datasets by status, across owners: staff lists and stuck-upload clean-up, without a Scan.
DYNAMO_DATASET_STATUS_INDEX = "status-created_at-index"
DYNAMO_DATASETS_INDEXES = {
    DYNAMO_OWNER_INDEX: ("owner_id", "created_at"),
    DYNAMO_DATASET_STATUS_INDEX: ("status", "created_at"),
}
# A user's jobs in one status / of one problem type, newest first (the history's filters).
DYNAMO_OWNER_STATUS_INDEX = "owner_status-created_at-index"
DYNAMO_OWNER_PROBLEM_INDEX = "owner_problem-created_at-index"
DYNAMO_JOBS_INDEXES = {
    DYNAMO_OWNER_INDEX: ("owner_id", "created_at"),
    DYNAMO_STATUS_INDEX: ("status", "updated_at"),
    DYNAMO_DATASET_INDEX: ("dataset_id", "created_at"),
    DYNAMO_OWNER_STATUS_INDEX: ("owner_status", "created_at"),
    DYNAMO_OWNER_PROBLEM_INDEX: ("owner_problem", "created_at"),
}
# Prediction batches: one table, listed per job (newest first) through one index.
DYNAMO_BATCHES_KEY = "batch_id"
DYNAMO_BATCH_JOB_INDEX = "job_id-created_at-index"
DYNAMO_BATCHES_INDEXES = {
    DYNAMO_BATCH_JOB_INDEX: ("job_id", "created_at"),
}

# --------------------------------------------------------------------------- history filters
#
# The owner-scoped filter indexes are keyed on "<owner_id>|<value>". DynamoDB stores these
# keys as attributes every writer of a status or problem type sets (job_derived_attributes:
# the web's adapter and the container's job store); SQLite computes the same text as
# generated columns (SQLITE_JOB_GENERATED_COLUMNS), so a writer that only mirrors `status`
# and `item` still keeps them right. A job without a problem type has no `owner_problem`
# (a sparse index). Search text is kept the same way: one function, stored on DynamoDB,
# computed on the fly by SQLite.
OWNER_KEY_SEPARATOR = "|"
JOB_OWNER_KEYS = {"owner_status": "status", "owner_problem": "problem_type"}
JOB_SEARCH_FIELDS = ("dataset_name", "target_column", "job_id")
JOB_SEARCH_ATTRIBUTE = "search_text"
JOB_DERIVED_INPUTS = frozenset({*JOB_OWNER_KEYS.values(), *JOB_SEARCH_FIELDS})
SQLITE_JOB_GENERATED_COLUMNS = {
    "owner_status": "owner_id || '|' || status",
    "owner_problem": "owner_id || '|' || NULLIF(json_extract(item, '$.problem_type'), '')",
}
SQLITE_JOB_FILTER_INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_owner_status_created ON jobs (owner_status, created_at DESC, job_id);
CREATE INDEX IF NOT EXISTS jobs_owner_problem_created ON jobs (owner_problem, created_at DESC, job_id);
CREATE INDEX IF NOT EXISTS jobs_dataset_created ON jobs (dataset_id, created_at DESC, job_id);
"""


def owner_key(owner_id: str, value: str) -> str:
    """The hash key of an owner-scoped filter index: one owner's jobs with one value."""
    return f"{owner_id}{OWNER_KEY_SEPARATOR}{value}"


def job_search_text(item: Mapping[str, Any]) -> str:
    """What a history search matches: dataset name, target and id, case-folded."""
    return " ".join(str(item.get(name) or "") for name in JOB_SEARCH_FIELDS).casefold()


def job_derived_attributes(fields: Mapping[str, Any], owner_id: str) -> dict[str, str | None]:
    """The index attributes a write of `fields` (a whole record or a write's changes) sets.

    Only attributes whose inputs are in `fields` are returned; None means "remove".
    """
    derived: dict[str, str | None] = {}
    for name, source in JOB_OWNER_KEYS.items():
        if source in fields:
            value = fields[source]
            derived[name] = owner_key(owner_id, str(value)) if value else None
    if all(name in fields for name in JOB_SEARCH_FIELDS):
        derived[JOB_SEARCH_ATTRIBUTE] = job_search_text(fields)
    return derived


def sqlite_job_columns(job: Job) -> dict[str, Any]:
    """Column values of a job row in SQLITE_SCHEMA (the mirrored index columns + item)."""
    return {
        "job_id": job.job_id,
        "owner_id": job.owner_id,
        "dataset_id": job.dataset_id,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "status": str(job.status),
        "item": json.dumps(json_safe(job.to_item()), allow_nan=False),
    }


def json_safe(value: Any) -> Any:
    """A copy that JSON (and DynamoDB) can store: NaN/inf become None, keys become strings."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, str | int | bool) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalars
        return json_safe(value.item())
    return str(value)
