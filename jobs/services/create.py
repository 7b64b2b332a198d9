"""Job creation: validate a training request against its dataset, store the job, hand it off."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings

from automl_lite import wiring
from core.exceptions import AlreadyExists, InvalidInput, InvalidTransition, NotFound
from jobs.services.handoff import hand_off
from jobs.services.lifecycle import is_resubmittable, job_resubmit
from training_image.contract import (
    Dataset,
    DatasetStatus,
    ErrorType,
    Job,
    JobStatus,
    TrainingRequestError,
    TrainingSettings,
    validate_training_request,
)

if TYPE_CHECKING:
    from datasets.repository import DatasetRepository
    from jobs.repository import JobRepository
    from jobs.runners.base import Runner

# Idempotency keys map to job ids inside this namespace: same owner + key -> same job.
IDEMPOTENCY_NAMESPACE = uuid.UUID("8b6f2f1e-5d1c-4f57-9a43-2f0c1f1e7a10")
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def min_time_budget() -> int:
    """The smallest search budget a user may ask for (tests lower it to train in seconds)."""
    return settings.AUTOML_MIN_TIME_BUDGET


def idempotent_job_id(owner_id: str, key: str) -> str:
    """The job id an idempotency key stands for: one job per owner and key."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{owner_id}\n{key}"))


def _analysis_column(dataset: Dataset, column: str) -> Mapping[str, Any] | None:
    """The analysis entry of `column` (`analysis["columns"]`: a list of dicts or a dict by name)."""
    columns = (dataset.analysis or {}).get("columns")
    entry: Any = None
    if isinstance(columns, Mapping):
        entry = columns.get(column)
    elif isinstance(columns, list):
        entry = next(
            (c for c in columns if isinstance(c, Mapping) and c.get("name") == column), None
        )
    return entry if isinstance(entry, Mapping) else None


def analysis_profiles(dataset: Dataset) -> dict[str, Mapping[str, Any]]:
    """The analysis entry of every column, by name."""
    return {name: entry for name in dataset.columns if (entry := _analysis_column(dataset, name))}


def _validate_training(
    *,
    dataset: Dataset,
    target_column: str,
    problem_type: str | None,
    metric: str | None,
    time_budget: int | None,
    excluded_columns: Iterable[str],
    seed: int | None = None,
    ensemble: bool = True,
    kept_columns: Iterable[str] = (),
) -> TrainingSettings:
    """Check a training request against its dataset; returns it with "auto" resolved.

    The request itself is checked by `contract.validate_training_request`, the one check
    the configure form, the API and the container make too.
    """
    if dataset.status == DatasetStatus.FAILED:
        raise InvalidInput(
            f"This dataset was rejected and cannot be trained on: {dataset.error_message or 'see the dataset page'}"
        )
    if dataset.status != DatasetStatus.READY:
        raise InvalidInput(
            f"Dataset is not ready for training (it is {dataset.status}). "
            "Wait for the analysis to finish, then try again."
        )
    try:
        request = validate_training_request(
            target_column=target_column,
            problem_type=problem_type,
            metric=metric,
            time_budget=time_budget,
            excluded_columns=list(excluded_columns),
            columns=list(dataset.columns),
            profiles=analysis_profiles(dataset),
            row_count=dataset.row_count or 0,
            min_time_budget=min_time_budget(),
            seed=seed,
            ensemble=ensemble,
            kept_columns=list(kept_columns),
        )
    except TrainingRequestError as exc:
        raise InvalidInput(
            exc.message, {"field": exc.field, "errors": [list(e) for e in exc.errors]}
        ) from None
    return request


MAX_CLASS_NAME_LENGTH = 60
_INTEGER = re.compile(r"^-?\d+$")


def target_class_values(dataset: Dataset, target_column: str) -> list[str] | None:
    """The integer class values of a target, as text, when the analysis lists them all; None
    when the target is not integer-coded (nothing to name)."""
    columns = {c.get("name"): c for c in (dataset.analysis or {}).get("columns", [])}
    column = columns.get(target_column) or {}
    top = column.get("top_values") or []
    values = [str(v.get("value")) for v in top]
    if not values or not all(_INTEGER.match(v) for v in values):
        return None
    if column.get("unique") is not None and int(column["unique"]) > len(values):
        return None  # more classes than the analysis lists
    return sorted(values, key=int)


def validate_class_names(
    *,
    dataset: Dataset,
    target_column: str,
    problem_type: str,
    names: Mapping[str, str] | None,
) -> dict[str, str]:
    """The class names to train with (blank ones left out), checked against the target.

    Raises:
        InvalidInput: names for a regression or a target that is not integer-coded, a value
            that is not one of the target's classes, a name too long or used twice.
    """
    cleaned = {str(k).strip(): str(v).strip() for k, v in (names or {}).items()}
    cleaned = {k: v for k, v in cleaned.items() if v}
    if not cleaned:
        return {}
    if problem_type == "regression":
        raise InvalidInput("Class names apply to classification, not to regression")
    known = target_class_values(dataset, target_column)
    if known is None:
        raise InvalidInput(
            f"Class names apply to a target coded as whole numbers; '{target_column}' is not"
        )
    unknown = [k for k in cleaned if k not in known]
    if unknown:
        raise InvalidInput(
            f"Class names for values {unknown} that '{target_column}' does not have "
            f"(its classes: {', '.join(known)})"
        )
    long = [v for v in cleaned.values() if len(v) > MAX_CLASS_NAME_LENGTH]
    if long:
        raise InvalidInput(f"Class names must be {MAX_CLASS_NAME_LENGTH} characters or less")
    final = [cleaned.get(v, v) for v in known]
    repeated = sorted({n for n in final if final.count(n) > 1})
    if repeated:
        raise InvalidInput(f"Each class needs its own name: {', '.join(repeated)} is used twice")
    return cleaned


def job_create(
    *,
    owner_id: str,
    dataset_id: str,
    target_column: str,
    problem_type: str | None = None,
    metric: str | None = None,
    time_budget: int | None = None,
    excluded_columns: Iterable[str] = (),
    class_names: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    seed: int | None = None,
    ensemble: bool = True,
    kept_columns: Iterable[str] = (),
    repository: JobRepository | None = None,
    datasets: DatasetRepository | None = None,
    runner: Runner | None = None,
) -> Job:
    """Validate a training request, store the job and hand it to the runner.

    The record is written (`pending`) before the runner is asked, so a runner failure
    leaves a `failed` job with error type `submit` that can be resubmitted, never a
    job stuck in `pending`. With an idempotency key, a repeated request returns the
    job the first one created.

    Args:
        owner_id: The requesting user's id; the dataset must be theirs.
        dataset_id: The analysed dataset to train on.
        target_column: The column to predict.
        problem_type: binary, multiclass or regression; None/"auto" uses the detected type.
        metric: Optimisation metric; None/"auto" uses the problem type's default.
        time_budget: Search seconds; None picks one from the row count.
        excluded_columns: Columns to leave out of the features.
        class_names: Names for integer-coded classes (class value as text -> name); the
            model then predicts and reports the names.
        idempotency_key: Client key that makes repeats return the same job.
        seed: The search's random seed; None for the deployment's.
        ensemble: Whether a weighted ensemble of the best models may be tried.
        kept_columns: Identifier or constant columns to keep as features anyway.

    Returns:
        The job as stored after the hand-off (normally `queued`).

    Raises:
        NotFound: the dataset does not exist or belongs to someone else.
        InvalidInput: the request does not fit the dataset.
        AlreadyExists: the idempotency key was used for a different request.
    """
    repository = repository or wiring.job_repository()
    datasets = datasets or wiring.dataset_repository()
    runner = runner or wiring.runner()
    owner_id = str(owner_id)

    job_id = None
    if idempotency_key is not None:
        idempotency_key = str(idempotency_key).strip()
        if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise InvalidInput(
                f"Idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
            )
        job_id = idempotent_job_id(owner_id, idempotency_key)
        existing = repository.get(job_id)
        if existing is not None:
            return _repeat(existing, dataset_id, target_column, repository, datasets, runner)

    dataset = datasets.get(dataset_id)
    if dataset is None or dataset.owner_id != owner_id:
        raise NotFound("Dataset not found")
    request = _validate_training(
        dataset=dataset,
        target_column=target_column,
        problem_type=problem_type,
        metric=metric,
        time_budget=time_budget,
        excluded_columns=excluded_columns,
        seed=seed,
        ensemble=ensemble,
        kept_columns=kept_columns,
    )
    names = validate_class_names(
        dataset=dataset,
        target_column=target_column,
        problem_type=request.problem_type or problem_type,
        names=class_names,
    )
    job = Job(
        job_id=job_id or str(uuid.uuid4()),
        owner_id=owner_id,
        dataset_id=dataset.dataset_id,
        dataset_name=dataset.filename,
        target_column=target_column,
        status=JobStatus.PENDING,
        problem_type=request.problem_type,
        metric=request.metric,
        time_budget=int(request.time_budget or 0),
        excluded_columns=list(request.excluded_columns),
        idempotency_key=idempotency_key,
        csv_dialect=dataset.csv_dialect,
        class_names=names,
        seed=request.seed,
        ensemble=request.ensemble,
        kept_columns=list(request.kept_columns),
    )
    try:
        repository.add(job)
    except AlreadyExists:
        # A concurrent request with the same key won the race: answer with its job.
        existing = repository.get(job.job_id)
        if existing is None:
            raise
        if (
            existing.status == JobStatus.PENDING
            and existing.dataset_id == dataset_id
            and existing.target_column == target_column
        ):
            # Our own write landed but its answer was lost (botocore's retry then found the
            # item), or a concurrent request is about to hand it off: the conditional
            # pending -> queued claim lets exactly one of us submit it; never leave it pending.
            try:
                return hand_off(
                    existing,
                    dataset_key=dataset.storage_key,
                    expected=(JobStatus.PENDING,),
                    repository=repository,
                    runner=runner,
                )
            except InvalidTransition:
                return repository.get(job.job_id) or existing
        return _repeat(existing, dataset_id, target_column, repository, datasets, runner)
    return hand_off(
        job,
        dataset_key=dataset.storage_key,
        expected=(JobStatus.PENDING,),
        repository=repository,
        runner=runner,
    )


def _repeat(
    existing: Job,
    dataset_id: str,
    target_column: str,
    repository: JobRepository,
    datasets: DatasetRepository,
    runner: Runner,
) -> Job:
    """A repeated idempotent request: the same job; a failed submission is retried."""
    if existing.dataset_id != dataset_id or existing.target_column != target_column:
        raise AlreadyExists(
            "This idempotency key was already used for a different training request"
        )
    if existing.error_type == ErrorType.SUBMIT and is_resubmittable(existing):
        return job_resubmit(job=existing, repository=repository, datasets=datasets, runner=runner)
    return existing


def job_train_again(
    *,
    job: Job,
    idempotency_key: str | None = None,
    repository: JobRepository | None = None,
    datasets: DatasetRepository | None = None,
    runner: Runner | None = None,
) -> Job:
    """A new job with the settings of the finished `job` (same dataset, target, problem
    type, metric, budget and excluded columns), validated and started like any other.

    Raises:
        InvalidTransition: `job` is still pending, queued or running.
        NotFound: its dataset has been deleted.
        InvalidInput: its settings no longer fit (e.g. a budget under today's minimum).
    """
    if not job.is_terminal:
        raise InvalidTransition(
            f"This job is still {job.status}: wait for it to finish, or cancel it, before "
            "training again with its settings."
        )
    datasets = datasets or wiring.dataset_repository()
    dataset = datasets.get(job.dataset_id)
    if dataset is None or dataset.owner_id != job.owner_id:
        raise NotFound("The dataset of this job has been deleted; upload it again to train.")
    return job_create(
        owner_id=job.owner_id,
        dataset_id=job.dataset_id,
        target_column=job.target_column,
        problem_type=job.problem_type,
        metric=job.metric,
        time_budget=job.time_budget,
        excluded_columns=job.excluded_columns,
        idempotency_key=idempotency_key,
        seed=job.seed,
        ensemble=job.ensemble,
        kept_columns=job.kept_columns,
        repository=repository,
        datasets=datasets,
        runner=runner,
    )
