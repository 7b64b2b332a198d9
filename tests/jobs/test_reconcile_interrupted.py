"""jobs_reconcile and jobs the container itself recorded `failed` / `interrupted`.

Runner-agnostic, on the SQLite records: while the runner still holds the run (Batch
retrying it) the job is left alone; once the runner says the run ended by an
interruption it is resubmitted (attempt + 1). In local mode, where a run is a process
and has no retries, such a job stays as the container left it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobs import services
from jobs.runners.base import RunnerState
from jobs.runners.local import LocalRunner, format_runner_id
from tests.jobs.factories import store_job
from training_image.contract import ErrorType, JobStatus, utcnow

pytestmark = pytest.mark.django_db

RETRYING = RunnerState(alive=True, status="RUNNABLE")
GAVE_UP = RunnerState(
    alive=False, status="FAILED", reason="Your Spot Task was interrupted.", interrupted=True
)


def _interrupted(alice, iris, **overrides):
    values = dict(
        status=JobStatus.FAILED,
        error_type=str(ErrorType.INTERRUPTED),
        error_message="The training container was stopped (SIGTERM) while searching.",
        started_at=utcnow(),
        completed_at=utcnow(),
        runner_job_id="batch-1",
    )
    values.update(overrides)
    return store_job(alice, iris, **values)


def test_it_leaves_an_interrupted_job_alone_while_its_run_is_retried(
    alice, iris, runner, jobs_repo
):
    job = _interrupted(alice, iris)
    runner.states[job.job_id] = RETRYING

    report = services.jobs_reconcile()

    stored = jobs_repo.get(job.job_id)
    assert report.retrying == [job.job_id]
    assert runner.submitted == []
    assert (stored.status, stored.attempt) == (JobStatus.FAILED, 1)


def test_it_resubmits_an_interrupted_job_the_runner_gave_up_on(alice, iris, runner, jobs_repo):
    job = _interrupted(alice, iris)
    runner.states[job.job_id] = GAVE_UP

    report = services.jobs_reconcile()

    stored = jobs_repo.get(job.job_id)
    assert report.requeued == [job.job_id]
    assert runner.submitted == [(job.job_id, iris.storage_key)]
    assert (stored.status, stored.attempt, stored.error_type) == (JobStatus.QUEUED, 2, None)


def test_it_resubmits_only_once_over_repeated_passes(alice, iris, runner, jobs_repo):
    job = _interrupted(alice, iris)
    runner.states[job.job_id] = GAVE_UP

    services.jobs_reconcile()
    runner.states.pop(job.job_id)  # the new run: not listed yet
    services.jobs_reconcile()

    assert runner.submitted == [(job.job_id, iris.storage_key)]
    assert jobs_repo.get(job.job_id).attempt == 2


def test_it_leaves_a_local_jobs_interrupted_record_as_the_container_wrote_it(
    alice, iris, jobs_repo, datasets_repo
):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    job = _interrupted(alice, iris, runner_job_id=format_runner_id(int(gone.stdout)))

    report = services.jobs_reconcile(
        repository=jobs_repo, datasets=datasets_repo, runner=LocalRunner()
    )

    stored = jobs_repo.get(job.job_id)
    assert report.requeued == report.retrying == report.failed == []
    assert (stored.status, stored.error_type) == (JobStatus.FAILED, ErrorType.INTERRUPTED)
    assert stored.runner_job_id == job.runner_job_id
