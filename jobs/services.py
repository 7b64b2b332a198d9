"""Job services: create, submit, cancel, resubmit, delete, tags/notes, deploy, predict, reconcile.

Every function takes keyword arguments; collaborators (repositories, runner) are
passed in or taken from `automl_lite.wiring`. Status changes go through the
repository's conditional `transition`, so a late write never overrides a newer one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings

from automl_lite import wiring
from core.exceptions import AlreadyExists, InvalidInput, InvalidTransition, NotFound
from jobs.repository import fail_live_job
from jobs.runners.base import SubmitError
from training_image.contract import (
    ARTIFACT_STORAGE,
    LEGACY_STATUS,
    LIVE_STATUSES,
    MAX_TIME_BUDGET,
    METRICS,
    MODEL_ONNX,
    MODEL_PKL,
    PROBLEM_TYPES,
    RESUBMITTABLE_ERRORS,
    Dataset,
    DatasetStatus,
    ErrorType,
    Job,
    JobStatus,
    auto_time_budget,
    parse_time,
    utcnow,
)
from training_image.detection import unusable_target_reason

if TYPE_CHECKING:
    from datasets.repository import DatasetRepository
    from jobs.prediction_files import ScoredFile
    from jobs.repository import JobRepository
    from jobs.runners.base import Runner

logger = logging.getLogger(__name__)

# Idempotency keys map to job ids inside this namespace: same owner + key -> same job.
IDEMPOTENCY_NAMESPACE = uuid.UUID("8b6f2f1e-5d1c-4f57-9a43-2f0c1f1e7a10")
MAX_TAGS = 10
MAX_TAG_LENGTH = 50
MAX_NOTES_LENGTH = 1000
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def min_time_budget() -> int:
    """The smallest search budget a user may ask for (tests lower it to train in seconds)."""
    return settings.AUTOML_MIN_TIME_BUDGET


def idempotent_job_id(owner_id: str, key: str) -> str:
    """The job id an idempotency key stands for: one job per owner and key."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{owner_id}\n{key}"))


def is_resubmittable(job: Job) -> bool:
    """A failed job whose failure was not its own fault, with attempts left."""
    return (
        job.status == JobStatus.FAILED
        and job.error_type in RESUBMITTABLE_ERRORS
        and job.attempt < settings.AUTOML_MAX_ATTEMPTS
    )


# --------------------------------------------------------------------------- create


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


def detected_problem_type(dataset: Dataset, column: str) -> str | None:
    """The problem type the dataset analysis detected for `column` as a target (or None)."""
    entry = _analysis_column(dataset, column)
    value = entry.get("problem_type") if entry else None
    return value if value in PROBLEM_TYPES else None


def not_a_target_message(dataset: Dataset, column: str) -> str:
    """What to tell a user who picked a column that cannot be predicted."""
    entry = _analysis_column(dataset, column) or {}
    unique = entry.get("unique")
    reason = unusable_target_reason(entry.get("kind"), unique if isinstance(unique, int) else None)
    return (
        f"Column '{column}' cannot be a training target: {reason}. Pick another target, "
        "or choose the problem type yourself."
    )


def _validate_training(
    *,
    dataset: Dataset,
    target_column: str,
    problem_type: str | None,
    metric: str | None,
    time_budget: int | None,
    excluded_columns: Iterable[str],
) -> tuple[str, str, int, list[str]]:
    """Check a training request against its dataset; returns (problem type, metric, budget, excluded)."""
    if dataset.status == DatasetStatus.FAILED:
        raise InvalidInput(
            f"This dataset was rejected and cannot be trained on: {dataset.error_message or 'see the dataset page'}"
        )
    if dataset.status != DatasetStatus.READY:
        raise InvalidInput(
            f"Dataset is not ready for training (it is {dataset.status}). "
            "Wait for the analysis to finish, then try again."
        )
    columns = list(dataset.columns)
    if target_column not in columns:
        raise InvalidInput(f"Target column '{target_column}' not found in dataset")
    excluded: list[str] = []
    for column in excluded_columns:
        if column not in excluded:
            excluded.append(column)
    unknown = [c for c in excluded if c not in columns]
    if unknown:
        raise InvalidInput(f"Excluded columns not found in dataset: {unknown}")
    if target_column in excluded:
        raise InvalidInput(f"The target column '{target_column}' cannot also be excluded")
    if not [c for c in columns if c != target_column and c not in excluded]:
        raise InvalidInput("No feature columns are left: exclude fewer columns")

    if problem_type in (None, "", "auto"):
        problem_type = detected_problem_type(dataset, target_column)
        if problem_type is None:
            raise InvalidInput(not_a_target_message(dataset, target_column))
    elif problem_type not in PROBLEM_TYPES:
        raise InvalidInput(
            f"Unknown problem type '{problem_type}': use one of {', '.join(PROBLEM_TYPES)}"
        )

    if metric in (None, "", "auto"):
        metric = METRICS[problem_type][0]
    elif metric not in METRICS[problem_type]:
        choices = ", ".join(METRICS[problem_type])
        raise InvalidInput(
            f"Metric '{metric}' does not apply to {problem_type} problems; use one of {choices}"
        )

    if time_budget is None:
        time_budget = auto_time_budget(dataset.row_count or 0)
    elif not min_time_budget() <= int(time_budget) <= MAX_TIME_BUDGET:
        raise InvalidInput(
            f"Time budget must be between {min_time_budget()} and {MAX_TIME_BUDGET} seconds"
        )
    return problem_type, metric, int(time_budget), excluded


def job_create(
    *,
    owner_id: str,
    dataset_id: str,
    target_column: str,
    problem_type: str | None = None,
    metric: str | None = None,
    time_budget: int | None = None,
    excluded_columns: Iterable[str] = (),
    idempotency_key: str | None = None,
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
        idempotency_key: Client key that makes repeats return the same job.

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
    problem_type, metric, time_budget, excluded = _validate_training(
        dataset=dataset,
        target_column=target_column,
        problem_type=problem_type,
        metric=metric,
        time_budget=time_budget,
        excluded_columns=excluded_columns,
    )
    job = Job(
        job_id=job_id or str(uuid.uuid4()),
        owner_id=owner_id,
        dataset_id=dataset.dataset_id,
        dataset_name=dataset.filename,
        target_column=target_column,
        status=JobStatus.PENDING,
        problem_type=problem_type,
        metric=metric,
        time_budget=time_budget,
        excluded_columns=excluded,
        idempotency_key=idempotency_key,
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
                return _hand_off(
                    existing,
                    dataset_key=dataset.storage_key,
                    expected=(JobStatus.PENDING,),
                    repository=repository,
                    runner=runner,
                )
            except InvalidTransition:
                return repository.get(job.job_id) or existing
        return _repeat(existing, dataset_id, target_column, repository, datasets, runner)
    return _hand_off(
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


def _hand_off(
    job: Job,
    *,
    dataset_key: str,
    expected: tuple[JobStatus, ...],
    repository: JobRepository,
    runner: Runner,
    **fields: Any,
) -> Job:
    """Move the job to `queued`, then ask the runner to start it.

    `queued` comes first because the container claims `queued -> running`, and a fast
    runner (an eager task, a quick Batch start) may start it before submit returns.
    """
    queued = repository.transition(job.job_id, JobStatus.QUEUED, expected=expected, **fields)
    try:
        runner_id = runner.submit(queued, dataset_key=dataset_key)
    except SubmitError as exc:
        message = exc.message
    except Exception:  # noqa: BLE001 - any runner fault must leave a clear, resubmittable job
        logger.exception("Runner failed to submit job %s", job.job_id)
        message = "The runner did not accept the job (the error was logged). Resubmit it."
    else:
        if runner_id:
            # Already finished or cancelled: the id no longer matters.
            with contextlib.suppress(InvalidTransition):
                repository.update(job.job_id, runner_job_id=runner_id, only_if_status=LIVE_STATUSES)
        return repository.get(job.job_id) or queued
    with contextlib.suppress(InvalidTransition):
        repository.transition(
            job.job_id,
            JobStatus.FAILED,
            expected=(JobStatus.QUEUED,),
            error_type=str(ErrorType.SUBMIT),
            error_message=f"Could not start training: {message}",
            error_phase=None,
            completed_at=utcnow(),
        )
    return repository.get(job.job_id) or queued


def _dataset_key_or_fail(job: Job, datasets: DatasetRepository) -> str:
    dataset = datasets.get(job.dataset_id)
    if dataset is None:
        raise InvalidInput(
            "The dataset of this job was deleted, so it cannot run again. Upload the data again."
        )
    return dataset.storage_key


# --------------------------------------------------------------------------- lifecycle


def job_cancel(
    *, job: Job, repository: JobRepository | None = None, runner: Runner | None = None
) -> Job:
    """Cancel a pending, queued or running job and stop its run.

    The record moves to `cancelled` first (a conditional write), so whatever the dying
    container writes afterwards is refused.

    Raises:
        InvalidTransition: the job already finished.
    """
    repository = repository or wiring.job_repository()
    runner = runner or wiring.runner()
    if job.status not in LIVE_STATUSES:
        raise InvalidTransition(
            f"Job is already {job.status}; only pending, queued or running jobs can be cancelled."
        )
    cancelled = repository.transition(
        job.job_id,
        JobStatus.CANCELLED,
        expected=tuple(LIVE_STATUSES),
        error_type=str(ErrorType.CANCELLED),
        error_message="Cancelled by the user.",
        error_phase=(job.progress or {}).get("phase"),
        completed_at=utcnow(),
    )
    try:
        runner.cancel(cancelled)
    except Exception:  # noqa: BLE001 - the record is cancelled; stopping the run is best effort
        logger.exception("Could not stop the run of cancelled job %s", job.job_id)
    return cancelled


def _reset_fields(attempt: int) -> dict[str, Any]:
    """Fields a new attempt starts from."""
    return {
        "attempt": attempt,
        "error_type": None,
        "error_message": None,
        "error_phase": None,
        "progress": {},
        "started_at": None,
        "completed_at": None,
        "heartbeat_at": None,
        "runner_job_id": None,
    }


def job_resubmit(
    *,
    job: Job,
    repository: JobRepository | None = None,
    datasets: DatasetRepository | None = None,
    runner: Runner | None = None,
) -> Job:
    """Run a failed job again (`failed -> queued`, attempt + 1).

    Raises:
        InvalidTransition: the job is not failed, failed for a reason a retry cannot
            fix, or has used all its attempts.
    """
    repository = repository or wiring.job_repository()
    datasets = datasets or wiring.dataset_repository()
    runner = runner or wiring.runner()
    if job.status != JobStatus.FAILED:
        raise InvalidTransition(f"Only failed jobs can be resubmitted; this one is {job.status}.")
    if job.error_type not in RESUBMITTABLE_ERRORS:
        raise InvalidTransition(
            "This job failed because of its data or settings; running it again would fail the "
            "same way. Fix the cause and start a new training run from the dataset page."
        )
    if job.attempt >= settings.AUTOML_MAX_ATTEMPTS:
        raise InvalidTransition(
            f"This job has used all {settings.AUTOML_MAX_ATTEMPTS} attempts; "
            "start a new training run from the dataset page."
        )
    dataset_key = _dataset_key_or_fail(job, datasets)
    return _hand_off(
        job,
        dataset_key=dataset_key,
        expected=(JobStatus.FAILED,),
        repository=repository,
        runner=runner,
        **_reset_fields(job.attempt + 1),
    )


def _requeue(
    job: Job,
    *,
    reason: str,
    repository: JobRepository,
    datasets: DatasetRepository,
    runner: Runner,
    count_attempt: bool = True,
) -> bool:
    """Re-queue a job whose run the infrastructure interrupted; fail it when out of attempts.

    With `count_attempt=False` (an orderly worker shutdown, not a fault of the run) the
    job keeps its attempt number and is re-queued whatever it is.
    """
    if job.status == JobStatus.FAILED:
        if count_attempt and not is_resubmittable(job):
            return False
    elif count_attempt and job.attempt >= settings.AUTOML_MAX_ATTEMPTS:
        _fail(
            job,
            ErrorType.INTERRUPTED,
            f"{reason} The job was not retried: it used all {settings.AUTOML_MAX_ATTEMPTS} attempts.",
            repository,
        )
        return False
    elif job.status == JobStatus.RUNNING:
        if not _fail(job, ErrorType.INTERRUPTED, reason, repository):
            return False
        job = repository.get(job.job_id) or job
    datasets_key = datasets.get(job.dataset_id)
    if datasets_key is None:
        _fail(job, ErrorType.DATA, "The dataset was deleted; the job cannot run again.", repository)
        return False
    expected = (JobStatus.FAILED,) if job.status == JobStatus.FAILED else (JobStatus.QUEUED,)
    try:
        requeued = _hand_off(
            job,
            dataset_key=datasets_key.storage_key,
            expected=expected,
            repository=repository,
            runner=runner,
            **_reset_fields(job.attempt + 1 if count_attempt else job.attempt),
        )
    except InvalidTransition:
        return False  # someone else moved it meanwhile
    return requeued.status != JobStatus.FAILED


def _fail(job: Job, error_type: str, message: str, repository: JobRepository) -> bool:
    """Mark a live job failed; False when another writer got there first."""
    return fail_live_job(repository, job, error_type, message)


def job_requeue_interrupted(
    *,
    job_id: str,
    repository: JobRepository | None = None,
    datasets: DatasetRepository | None = None,
    runner: Runner | None = None,
) -> bool:
    """Re-queue a job whose run was stopped by an orderly worker shutdown (local mode).

    The attempt number stays: stopping `runlocal` is not a failure of the run.

    Returns:
        True when the job is queued again.
    """
    repository = repository or wiring.job_repository()
    datasets = datasets or wiring.dataset_repository()
    runner = runner or wiring.runner()
    job = repository.get(job_id)
    if job is None or job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        return False
    if job.status == JobStatus.FAILED and job.error_type != ErrorType.INTERRUPTED:
        return False
    return _requeue(
        job,
        reason="Training was interrupted because the worker stopped.",
        repository=repository,
        datasets=datasets,
        runner=runner,
        count_attempt=False,
    )


# --------------------------------------------------------------------------- delete


ARTIFACT_LABELS = {
    "model.pkl": "model",
    "model.onnx": "onnx_model",
    "model_card.json": "model_card",
    "evaluation.json": "evaluation",
    "eda_report.html": "eda_report",
    "training_report.html": "training_report",
}


@dataclass
class DeleteSummary:
    """What job_delete removed, and what it kept because something else uses it."""

    job_id: str
    deleted_resources: list[str] = field(default_factory=list)
    kept_resources: list[str] = field(default_factory=list)


def _delete_folder(alias: str, folder: str, failures: list[str]) -> list[str]:
    """Delete every file under `folder` of a storage alias; returns the deleted keys."""
    storage = wiring.storage(alias)
    deleted: list[str] = []
    try:
        _dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        return deleted
    except Exception:  # noqa: BLE001 - storage faults are reported, not raised raw
        logger.exception("Could not list %s/%s", alias, folder)
        failures.append(f"{alias}: {folder}")
        return deleted
    for name in files:
        key = f"{folder}/{name}"
        try:
            storage.delete(key)
        except Exception:  # noqa: BLE001
            logger.exception("Could not delete %s/%s", alias, key)
            failures.append(f"{alias}: {key}")
        else:
            deleted.append(key)
    return deleted


def job_delete(
    *,
    job: Job,
    delete_data: bool = False,
    repository: JobRepository | None = None,
    datasets: DatasetRepository | None = None,
    runner: Runner | None = None,
) -> DeleteSummary:
    """Delete a job: stop its run, delete every artifact (ONNX too), evict its model.

    With `delete_data`, the dataset file and record go too, but only when no other
    job was trained on that dataset. When a file cannot be deleted the job record is
    kept, so the delete can simply be repeated.

    Raises:
        ServiceUnavailable: a storage delete failed (nothing is lost; retry).
    """
    from core.exceptions import ServiceUnavailable
    from jobs.inference import model_cache

    repository = repository or wiring.job_repository()
    datasets = datasets or wiring.dataset_repository()
    runner = runner or wiring.runner()
    summary = DeleteSummary(job_id=job.job_id)

    if job.status in LIVE_STATUSES:
        try:
            job = job_cancel(job=job, repository=repository, runner=runner)
        except InvalidTransition:
            job = repository.get(job.job_id) or job
        summary.deleted_resources.append(f"run: {job.runner_job_id or 'not started'} (stopped)")

    failures: list[str] = []
    folder = f"jobs/{job.job_id}"
    known = dict(job.artifacts or {})
    for alias in sorted(set(ARTIFACT_STORAGE.values())):
        for key in _delete_folder(alias, folder, failures):
            name = key.rsplit("/", 1)[-1]
            summary.deleted_resources.append(f"{ARTIFACT_LABELS.get(name, 'artifact')}: {key}")
            known.pop(name, None)
    # Artifacts recorded under keys outside the job's folder (older layouts).
    for name, key in known.items():
        storage = wiring.storage(ARTIFACT_STORAGE.get(name, "models"))
        try:
            if storage.exists(key):
                storage.delete(key)
                summary.deleted_resources.append(f"{ARTIFACT_LABELS.get(name, 'artifact')}: {key}")
        except Exception:  # noqa: BLE001
            logger.exception("Could not delete artifact %s", key)
            failures.append(key)
    model_cache.evict(job.job_id)

    if delete_data:
        _delete_dataset_of(job, summary, failures, repository=repository, datasets=datasets)
    if failures:
        raise ServiceUnavailable(
            "Some files could not be deleted; the job was kept so you can try again.",
            {"failed": failures},
        )
    repository.delete(job.job_id)
    return summary


def _delete_dataset_of(
    job: Job,
    summary: DeleteSummary,
    failures: list[str],
    *,
    repository: JobRepository,
    datasets: DatasetRepository,
) -> None:
    dataset = datasets.get(job.dataset_id)
    if dataset is None or dataset.owner_id != job.owner_id:
        return
    others = [j for j in repository.list_for_dataset(dataset.dataset_id) if j.job_id != job.job_id]
    if others:
        summary.kept_resources.append(
            f"dataset: {dataset.dataset_id} (used by {len(others)} other job"
            f"{'s' if len(others) != 1 else ''})"
        )
        return
    folder = dataset.storage_key.rsplit("/", 1)[0] if "/" in dataset.storage_key else ""
    deleted = _delete_folder("datasets", folder, failures) if folder else []
    if not folder:
        storage = wiring.storage("datasets")
        if storage.exists(dataset.storage_key):
            storage.delete(dataset.storage_key)
            deleted.append(dataset.storage_key)
    summary.deleted_resources.append(f"dataset files: {len(deleted)}")
    if not failures:
        datasets.delete(dataset.dataset_id)
        summary.deleted_resources.append(f"dataset metadata: {dataset.dataset_id}")


# --------------------------------------------------------------------------- tags, notes, deploy


def clean_tags(tags: Iterable[Any]) -> list[str]:
    """Validated tags: stripped, de-duplicated, at most 10 of at most 50 characters."""
    tags = list(tags)
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"Maximum {MAX_TAGS} tags allowed per job")
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidInput("Tags cannot be empty or whitespace")
        tag = tag.strip()
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(f"Each tag must be {MAX_TAG_LENGTH} characters or less")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def job_update_meta(
    *,
    job: Job,
    tags: Iterable[str] | None = None,
    notes: str | None = None,
    repository: JobRepository | None = None,
) -> Job:
    """Set a job's tags and/or notes; None leaves a field as it is, "" clears the notes.

    Raises:
        InvalidInput: more than 10 tags, an empty tag, a tag over 50 characters, or
            notes over 1000 characters.
    """
    repository = repository or wiring.job_repository()
    fields: dict[str, Any] = {}
    if tags is not None:
        fields["tags"] = clean_tags(tags)
    if notes is not None:
        if len(notes) > MAX_NOTES_LENGTH:
            raise InvalidInput(f"Notes must be {MAX_NOTES_LENGTH} characters or less")
        fields["notes"] = notes.strip()
    if not fields:
        return job
    return repository.update(job.job_id, **fields)


def job_deploy(*, job: Job, deploy: bool, repository: JobRepository | None = None) -> Job:
    """Deploy (or undeploy) a completed job's ONNX model for predictions.

    Raises:
        InvalidInput: the job is not completed, or has no ONNX model to deploy.
    """
    from jobs.inference import model_cache

    repository = repository or wiring.job_repository()
    if job.status != JobStatus.COMPLETED:
        raise InvalidInput(
            f"Cannot deploy job with status '{LEGACY_STATUS[JobStatus(job.status)]}'. "
            "Only completed jobs can be deployed."
        )
    if deploy and MODEL_ONNX not in (job.artifacts or {}):
        raise InvalidInput(
            "No ONNX model available for this job. Only jobs with ONNX export can be deployed."
        )
    updated = repository.update(
        job.job_id,
        deployed=bool(deploy),
        deployed_at=utcnow() if deploy else None,
        only_if_status=(JobStatus.COMPLETED,),
    )
    if not deploy:
        model_cache.evict(job.job_id)
    return updated


def job_predict(*, job: Job, features: Mapping[str, Any]) -> dict[str, Any]:
    """Score one row with the job's deployed ONNX model.

    Returns:
        `{prediction, probability?, probabilities?, inference_time_ms, model_type}`,
        the prediction in the target's original labels.

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
    result = inference.predict(job, features)
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

    if job.status != JobStatus.COMPLETED:
        raise InvalidInput(
            f"Cannot score a file with a job that is {job.status}. "
            "Only completed jobs make predictions."
        )
    artifacts = job.artifacts or {}
    if MODEL_ONNX not in artifacts:
        hint = (
            " Download model.pkl and score rows with it in Python."
            if MODEL_PKL in artifacts
            else ""
        )
        raise InvalidInput(f"No ONNX model available for this job, so it cannot score files.{hint}")
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


# --------------------------------------------------------------------------- reconcile


# An interrupted job is watched this long for the runner's own retry (which re-claims it)
# or for the runner giving up (then it is resubmitted); older ones are left as they are.
INTERRUPTED_WATCH = dt.timedelta(days=1)
INTERRUPTED_WATCH_LIMIT = 500  # records read per pass, newest first
_WATCH_PAGE = 100


@dataclass
class ReconcileReport:
    """What one reconciliation pass did, by job id."""

    checked: int = 0
    failed: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)
    # Interrupted jobs whose run the runner is still retrying itself: left alone.
    retrying: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"checked {self.checked} live jobs: {len(self.failed)} failed, "
            f"{len(self.requeued)} re-queued, {len(self.resubmitted)} handed to the runner "
            f"again, {len(self.retrying)} interrupted and being retried by the runner"
        )


def last_sign_of_life(job: Job) -> dt.datetime | None:
    """When the container last reported: heartbeat, progress, start, or the last write."""
    candidates = [
        parse_time(job.heartbeat_at),
        parse_time((job.progress or {}).get("updated_at")),
        parse_time(job.started_at),
    ]
    present = [c for c in candidates if c is not None]
    return max(present) if present else parse_time(job.updated_at)


def jobs_reconcile(
    *,
    repository: JobRepository | None = None,
    datasets: DatasetRepository | None = None,
    runner: Runner | None = None,
    now: dt.datetime | None = None,
    requeue_waiting: bool = False,
) -> ReconcileReport:
    """Fail or re-queue queued/running jobs whose run is gone; never leave one running.

    - The runner says the run ended and the record is not terminal: re-queued
      (attempt + 1) when the infrastructure interrupted it and attempts remain,
      otherwise `failed` with the runner's reason (`lost`).
    - A running job whose last heartbeat is older than AUTOML_HEARTBEAT_TIMEOUT is
      stopped and failed, even if its process still exists (it hangs).
    - With `requeue_waiting` (local start-up only: the broker may have lost messages
      of a killed worker), queued jobs without a run are handed to the runner again;
      a duplicate task finds the job claimed and does nothing.
    - A job its container recorded `failed` / `interrupted` (SIGTERM on a Spot reclaim)
      is left alone while the runner still holds its run (Batch retries the same job,
      and that attempt re-claims the record), and is resubmitted (attempt + 1, up to
      AUTOML_MAX_ATTEMPTS) once the runner says the run ended by an interruption.
    """
    repository = repository or wiring.job_repository()
    datasets = datasets or wiring.dataset_repository()
    runner = runner or wiring.runner()
    now = now or dt.datetime.now(dt.UTC)
    report = ReconcileReport()
    live = repository.list_by_status([JobStatus.QUEUED, JobStatus.RUNNING])
    report.checked = len(live)
    states = runner.describe(live) if live else {}
    timeout = dt.timedelta(seconds=settings.AUTOML_HEARTBEAT_TIMEOUT)
    for job in live:
        state = states.get(job.job_id)
        if state is not None and not state.alive:
            current = repository.get(job.job_id)
            if current is None or current.is_terminal:
                continue  # it finished while we looked
            if current.runner_job_id != job.runner_job_id or current.attempt != job.attempt:
                continue  # another reconciler already moved it on: `state` is about an old run
            reason = state.reason or "The training run disappeared without reporting a result."
            if state.interrupted:
                if _requeue(
                    current, reason=reason, repository=repository, datasets=datasets, runner=runner
                ):
                    report.requeued.append(job.job_id)
                else:
                    report.failed.append(job.job_id)
            elif _fail(current, ErrorType.LOST, reason, repository):
                report.failed.append(job.job_id)
            continue
        if job.status == JobStatus.RUNNING:
            last = last_sign_of_life(job)
            if last is not None and now - last > timeout:
                seconds = int((now - last).total_seconds())
                try:
                    runner.cancel(job)
                except Exception:  # noqa: BLE001
                    logger.exception("Could not stop hung job %s", job.job_id)
                if _fail(
                    job,
                    ErrorType.LOST,
                    f"Training stopped reporting progress {seconds} s ago and was stopped. "
                    "Resubmit the job.",
                    repository,
                ):
                    report.failed.append(job.job_id)
            continue
        if state is None and requeue_waiting and job.status == JobStatus.QUEUED:
            dataset = datasets.get(job.dataset_id)
            if dataset is None:
                continue
            try:
                runner.submit(job, dataset_key=dataset.storage_key)
            except SubmitError:
                logger.exception("Could not hand queued job %s to the runner", job.job_id)
            else:
                report.resubmitted.append(job.job_id)
    # Last, so a job this pass failed or re-queued is not looked at twice.
    _reconcile_interrupted(report, repository=repository, datasets=datasets, runner=runner, now=now)
    return report


def recently_interrupted(
    *, repository: JobRepository, now: dt.datetime, limit: int = INTERRUPTED_WATCH_LIMIT
) -> list[Job]:
    """Failed jobs their container marked `interrupted`, with a run to ask about and
    attempts left, updated within INTERRUPTED_WATCH (newest first, status index only)."""
    cutoff = now - INTERRUPTED_WATCH
    found: list[Job] = []
    cursor: str | None = None
    read = 0
    while read < limit:
        page = repository.list_recent(
            statuses=[JobStatus.FAILED], limit=min(_WATCH_PAGE, limit - read), cursor=cursor
        )
        for job in page.items:
            updated = parse_time(job.updated_at)
            if updated is not None and updated < cutoff:
                return found  # newest first: everything after is older still
            interrupted = job.error_type == ErrorType.INTERRUPTED and job.runner_job_id
            if interrupted and is_resubmittable(job):
                found.append(job)
        read += len(page.items)
        if not page.next_cursor or not page.items:
            break
        cursor = page.next_cursor
    return found


def _reconcile_interrupted(
    report: ReconcileReport,
    *,
    repository: JobRepository,
    datasets: DatasetRepository,
    runner: Runner,
    now: dt.datetime,
) -> None:
    """Resubmit interrupted jobs whose run the runner gave up on; leave those it retries.

    Nothing else is touched: a run that ended for another reason (a timeout) keeps the
    container's own record, and a runner that says nothing (a local process that is
    gone, a Batch job not listed yet) changes nothing.
    """
    waiting = recently_interrupted(repository=repository, now=now)
    if not waiting:
        return
    states = runner.describe(waiting)
    for job in waiting:
        state = states.get(job.job_id)
        if state is None:
            continue
        if state.alive:
            # Batch is retrying the same job: its next attempt re-claims the record
            # (failed -> running). Resubmitting now would start the training twice.
            report.retrying.append(job.job_id)
            continue
        if not state.interrupted:
            continue
        current = repository.get(job.job_id)
        if (
            current is None
            or current.status != JobStatus.FAILED
            or current.runner_job_id != job.runner_job_id
            or current.attempt != job.attempt
        ):
            continue  # re-claimed, resubmitted or cancelled meanwhile
        reason = state.reason or "The training run was interrupted."
        if _requeue(
            current, reason=reason, repository=repository, datasets=datasets, runner=runner
        ):
            report.requeued.append(job.job_id)


# --------------------------------------------------------------------------- purge


def jobs_purge(
    *,
    older_than: dt.timedelta,
    statuses: Iterable[str] = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED),
    delete_data: bool = False,
    dry_run: bool = False,
    repository: JobRepository | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Delete finished jobs (and their artifacts) last updated before `now - older_than`.

    Returns:
        The ids of the deleted (or, with `dry_run`, the matching) jobs.
    """
    repository = repository or wiring.job_repository()
    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - older_than
    wanted = [JobStatus(s) for s in statuses]
    live = [s for s in wanted if s in LIVE_STATUSES]
    if live:
        raise InvalidInput(f"Live jobs cannot be purged: {', '.join(live)}")
    done: list[str] = []
    seen: set[str] = set()
    while True:
        batch = [
            j
            for j in repository.list_by_status(wanted)
            if j.job_id not in seen and (parse_time(j.updated_at) or now) < cutoff
        ]
        if not batch:
            return done
        for job in batch:
            seen.add(job.job_id)
            if not dry_run:
                job_delete(job=job, delete_data=delete_data, repository=repository)
            done.append(job.job_id)
        if dry_run:
            return done
