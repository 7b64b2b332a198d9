"""Hand a stored job to the runner: the `queued` claim, the submit, and its failure record.

Shared by job creation, resubmission and re-queueing.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from core.exceptions import InvalidTransition
from jobs.runners.base import SubmitError
from training_image.contract import LIVE_STATUSES, ErrorType, Job, JobStatus, utcnow

if TYPE_CHECKING:
    from jobs.repository import JobRepository
    from jobs.runners.base import Runner

logger = logging.getLogger(__name__)


def hand_off(
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
    except Exception:  # any runner fault must leave a clear, resubmittable job
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
