"""A Spot reclaim: Batch's own retry re-claims the job; reconciliation never doubles it.

On a Spot reclaim the container gets SIGTERM and records `failed` / `interrupted`, and
Batch starts attempt 2 of the SAME Batch job. That attempt re-claims the record
(`failed -> running`, attempt + 1). Reconciliation leaves such a job alone while Batch
still holds its run (RUNNABLE, STARTING, RUNNING: a resubmit would train it twice), and
resubmits it (attempt + 1, up to AUTOML_MAX_ATTEMPTS) once Batch has given up.

Batch's answers for the reconciliation cases are `describe_jobs` shapes served through
botocore's Stubber (moto cannot hold a job RUNNABLE or reclaim Spot capacity); the
story at the end runs real containers against a moto server.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys

import pytest

from datasets.analysis import analyze_csv
from jobs import services
from tests.aws.batch_emulator import REPO_ROOT, BatchEmulator
from tests.aws.stack import deploy_stack, stack_records, stack_runner
from tests.aws.stubbed_batch import QUEUE_ARN, add_penguins_job, reconcile, stubbed_runner
from tests.conftest import make_dataset
from tests.jobs.models import PENGUINS_CSV
from tests.training_image.jobenv import wait_for
from training_image import contract
from training_image.contract import ErrorType, JobStatus, utcnow

BATCH_ID = "0b1c2d3e-0000-4000-8000-00000000000c"
SPOT = "Your Spot Task was interrupted."
SIGTERM_MESSAGE = (
    "The training container was stopped (SIGTERM) while searching: a time limit or a "
    "reclaimed Spot instance. The job can be resubmitted."
)


def spot_attempt(exit_code: int = 143) -> dict:
    return {
        "container": {"exitCode": exit_code},
        "startedAt": 1_790_000_000_000,
        "stoppedAt": 1_790_000_300_000,
        "statusReason": SPOT,
    }


def batch_detail(status: str, *, attempts: list[dict] | None = None, reason: str = "") -> dict:
    """One `describe_jobs` entry for the job's Batch run, with its attempts so far."""
    detail = {
        "jobName": "automl-penguins-job-a1",
        "jobId": BATCH_ID,
        "jobQueue": QUEUE_ARN,
        "jobDefinition": "automl-test-training",
        "status": status,
        "startedAt": 1_790_000_000_000,
        "attempts": attempts or [],
        "container": {},
    }
    if reason:
        detail["statusReason"] = reason
    return detail


@pytest.fixture
def runner(batch):
    return stubbed_runner(batch)


def _interrupted_job(records, **overrides):
    """What the SIGTERM handler leaves: `failed` / `interrupted`, naming its Batch run."""
    values = dict(
        status=JobStatus.FAILED,
        error_type=str(ErrorType.INTERRUPTED),
        error_message=SIGTERM_MESSAGE,
        error_phase="searching",
        started_at=utcnow(),
        completed_at=utcnow(),
        runner_job_id=BATCH_ID,
        attempt=1,
    )
    values.update(overrides)
    return add_penguins_job(records, **values)


def _reconcile(records, runner, batch, *details, submits: int = 0):
    """One reconciliation pass; Batch answers `details`, then accepts `submits` new jobs."""
    return reconcile(
        records, runner, batch, list(details) or None, batch_id=BATCH_ID, submits=submits
    )


# --------------------------------------------------------------------------- Batch still retrying


@pytest.mark.parametrize(
    "batch_status", ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"]
)
def test_it_leaves_an_interrupted_job_alone_while_batch_retries_its_run(
    records, runner, batch, batch_status
):
    job = _interrupted_job(records)

    report, submitted = _reconcile(
        records, runner, batch, batch_detail(batch_status, attempts=[spot_attempt()])
    )

    stored = records.jobs.get(job.job_id)
    assert submitted == []
    assert report.retrying == [job.job_id]
    assert report.requeued == report.failed == []
    assert (stored.status, stored.error_type, stored.attempt) == (
        JobStatus.FAILED,
        ErrorType.INTERRUPTED,
        1,
    )
    assert stored.runner_job_id == BATCH_ID


def test_it_never_resubmits_on_repeated_passes_while_batch_retries(records, runner, batch):
    job = _interrupted_job(records)

    for _ in range(3):
        _report, submitted = _reconcile(
            records, runner, batch, batch_detail("RUNNABLE", attempts=[spot_attempt()])
        )
        assert submitted == []

    assert records.jobs.get(job.job_id).runner_job_id == BATCH_ID


# --------------------------------------------------------------------------- Batch gave up


def test_it_resubmits_an_interrupted_job_once_batch_has_given_up(records, runner, batch, settings):
    settings.AUTOML_MAX_ATTEMPTS = 3
    job = _interrupted_job(records)
    gave_up = batch_detail("FAILED", attempts=[spot_attempt(), spot_attempt()], reason=SPOT)

    report, submitted = _reconcile(records, runner, batch, gave_up, submits=1)

    stored = records.jobs.get(job.job_id)
    assert report.requeued == [job.job_id]
    assert (stored.status, stored.attempt) == (JobStatus.QUEUED, 2)
    assert stored.runner_job_id == "resubmitted-batch-id-0"
    assert stored.error_type is None and stored.error_message is None
    (request,) = submitted
    # Attempt 2 of 3: Batch may retry once more (its retry would be attempt 3), no further.
    assert request["retryStrategy"]["attempts"] == 2
    assert request["tags"]["automl:attempt"] == "2"


def test_it_lets_batch_retry_no_further_than_the_attempts_left(records, runner, batch, settings):
    settings.AUTOML_MAX_ATTEMPTS = 3
    # Attempt 2 was Batch's own retry (it re-claimed the record), and it was reclaimed too.
    job = _interrupted_job(records, attempt=2)
    gave_up = batch_detail("FAILED", attempts=[spot_attempt(), spot_attempt()], reason=SPOT)

    report, submitted = _reconcile(records, runner, batch, gave_up, submits=1)

    stored = records.jobs.get(job.job_id)
    assert report.requeued == [job.job_id]
    assert (stored.status, stored.attempt) == (JobStatus.QUEUED, 3)
    (request,) = submitted
    assert request["retryStrategy"]["attempts"] == 1  # the last attempt: no Batch retry


def test_it_does_not_look_at_an_interrupted_job_without_attempts_left(
    records, runner, batch, settings
):
    settings.AUTOML_MAX_ATTEMPTS = 3
    job = _interrupted_job(records, attempt=3)

    report, submitted = _reconcile(records, runner, batch)  # no Batch call at all

    stored = records.jobs.get(job.job_id)
    assert submitted == [] and report.requeued == []
    assert (stored.status, stored.attempt) == (JobStatus.FAILED, 3)


def test_it_keeps_the_record_of_a_run_batch_stopped_for_its_time_limit(records, runner, batch):
    job = _interrupted_job(records)
    timed_out = batch_detail(
        "FAILED",
        attempts=[{"container": {"exitCode": 143}, "statusReason": "x"}],
        reason="Job attempt duration exceeded timeout",
    )

    report, submitted = _reconcile(records, runner, batch, timed_out)

    stored = records.jobs.get(job.job_id)
    assert submitted == [] and report.requeued == []
    assert (stored.status, stored.error_type) == (JobStatus.FAILED, ErrorType.INTERRUPTED)
    assert stored.error_message == SIGTERM_MESSAGE


def test_it_stops_watching_an_interrupted_job_after_a_day(records, runner, batch):
    long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    job = _interrupted_job(records, updated_at=long_ago)

    report, submitted = _reconcile(records, runner, batch)  # no Batch call at all

    assert submitted == [] and report.requeued == report.retrying == []
    assert records.jobs.get(job.job_id).status == JobStatus.FAILED


def test_it_leaves_a_job_its_retry_already_reclaimed_to_the_live_checks(records, runner, batch):
    job = _interrupted_job(records)
    # Attempt 2 of the same Batch job re-claims the record (what the container does).
    records.jobs.transition(
        job.job_id,
        JobStatus.RUNNING,
        expected=(JobStatus.FAILED,),
        attempt=2,
        heartbeat_at=utcnow(),
        error_type=None,
        error_message=None,
    )

    report, submitted = _reconcile(
        records, runner, batch, batch_detail("RUNNING", attempts=[spot_attempt()])
    )

    stored = records.jobs.get(job.job_id)
    assert submitted == [] and report.checked == 1
    assert (stored.status, stored.attempt) == (JobStatus.RUNNING, 2)


# --------------------------------------------------------------------------- the whole story


@pytest.fixture
def deployed(moto_server, settings):
    """The stack on the moto server; penguins uploaded and analyzed."""
    settings.AUTOML_MIN_TIME_BUDGET = 1
    settings.AUTOML_MAX_ATTEMPTS = 3
    stack = deploy_stack(endpoint_url=moto_server)
    records = stack_records(stack)
    runner = stack_runner(stack)
    backend = runner.backend()
    s3 = stack.client("s3")
    batch = stack.client("batch")
    analysis = analyze_csv(PENGUINS_CSV)
    dataset = records.datasets.add(
        make_dataset(
            filename="penguins.csv",
            analysis=analysis,
            columns=[c["name"] for c in analysis["columns"]],
            row_count=analysis["rows"],
        )
    )
    s3.put_object(
        Bucket=backend.datasets_location, Key=dataset.storage_key, Body=PENGUINS_CSV.read_bytes()
    )
    return records, runner, dataset, BatchEmulator(batch, endpoint_url=moto_server)


def _start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(  # our own interpreter and module
        [sys.executable, "-m", "training_image"],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_it_finishes_a_job_on_batchs_retry_after_a_spot_reclaim(deployed):
    records, runner, dataset, emulator = deployed
    job = services.job_create(
        owner_id="1",
        dataset_id=dataset.dataset_id,
        target_column="species",
        time_budget=3,
        excluded_columns=["year"],
        repository=records.jobs,
        datasets=records.datasets,
        runner=runner,
    )
    assert job.status == JobStatus.QUEUED and job.runner_job_id
    batch_id = job.runner_job_id

    # Attempt 1 runs and the Spot capacity is reclaimed under it: ECS sends SIGTERM.
    first = _start(
        emulator.container_environment(batch_id, extra={contract.ENV_RUNNER_ATTEMPT: "1"})
    )
    wait_for(lambda: records.jobs.get(job.job_id).status == JobStatus.RUNNING, timeout=120)
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 143, stderr[-3000:]
    interrupted = records.jobs.get(job.job_id)
    assert (interrupted.status, interrupted.error_type) == (
        JobStatus.FAILED,
        ErrorType.INTERRUPTED,
    )

    # Batch retries the same Batch job: attempt 2 re-claims the record and trains it.
    second = emulator.run(batch_id, extra={contract.ENV_RUNNER_ATTEMPT: "2"})

    assert second.returncode == 0, second.stderr[-3000:]
    assert second.environment[contract.ENV_RUNNER_JOB_ID] == batch_id
    done = records.jobs.get(job.job_id)
    assert (done.status, done.attempt, done.runner_job_id) == (JobStatus.COMPLETED, 2, batch_id)
    assert done.error_type is None and done.error_message is None
    assert done.metrics["accuracy"] > 0.8
    assert contract.MODEL_ONNX in done.artifacts

    # A late duplicate of attempt 2 finds the job finished and does nothing.
    again = emulator.run(batch_id, extra={contract.ENV_RUNNER_ATTEMPT: "2"})
    assert again.returncode == 0
    assert records.jobs.get(job.job_id).updated_at == done.updated_at
