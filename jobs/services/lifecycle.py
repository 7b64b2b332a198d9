"""Job lifecycle: cancel, resubmit, and re-queue a job whose run was interrupted."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings

from automl_lite import wiring
from core.exceptions import InvalidInput, InvalidTransition
from jobs.repository import fail_live_job
from jobs.services.handoff import hand_off
from training_image.contract import (
    LIVE_STATUSES,
    RESUBMITTABLE_ERRORS,
    ErrorType,
    Job,
    JobStatus,
    utcnow,
)

if TYPE_CHECKING:
    from datasets.repository import DatasetRepository
    from jobs.repository import JobRepository
    from jobs.runners.base import Runner

logger = logging.getLogger(__name__)


def is_resubmittable(job: Job) -> bool:
    """A failed job whose failure was not its own fault, with attempts left."""
    return (
        job.status == JobStatus.FAILED
        and job.error_type in RESUBMITTABLE_ERRORS
        and job.attempt < settings.AUTOML_MAX_ATTEMPTS
    )


def _dataset_key_or_fail(job: Job, datasets: DatasetRepository) -> str:
    dataset = datasets.get(job.dataset_id)
    if dataset is None:
        raise InvalidInput(
            "The dataset of this job was deleted, so it cannot run again. Upload the data again."
        )
    return dataset.storage_key


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
    except Exception:  # the record is cancelled; stopping the run is best effort
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
    return hand_off(
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
        requeued = hand_off(
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
