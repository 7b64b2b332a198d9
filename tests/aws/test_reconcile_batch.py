"""Reconciliation of Batch runs: every way a container dies ends in the right status.

Records live in DynamoDB (moto); Batch's answers are the shapes `describe_jobs` returns
for each failure, served through botocore's Stubber (moto's Batch cannot make a job time
out, run out of memory or lose its Spot capacity). The service is the one reconciler of
the product, `jobs.services.jobs_reconcile`, fed by `BatchRunner.describe`.
"""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.stub import ANY, Stubber

from jobs.runners.batch import state_from_detail
from jobs.services import jobs_reconcile
from tests.aws.stubbed_batch import QUEUE_ARN, add_penguins_job, reconcile, stubbed_runner
from training_image.contract import ErrorType, JobStatus, utcnow

DEFINITION_ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/automl-test-training:1"
BATCH_ID = "0b1c2d3e-0000-4000-8000-000000000001"


def batch_detail(
    status: str,
    *,
    status_reason: str | None = None,
    reason: str | None = None,
    exit_code: int | None = None,
    batch_id: str = BATCH_ID,
) -> dict:
    """One `describe_jobs` entry as Batch returns it for a Fargate job."""
    container: dict = {}
    if reason is not None:
        container["reason"] = reason
    if exit_code is not None:
        container["exitCode"] = exit_code
    detail: dict = {
        "jobName": "automl-penguins-job-a1",
        "jobId": batch_id,
        "jobQueue": QUEUE_ARN,
        "jobDefinition": DEFINITION_ARN,
        "status": status,
        "startedAt": 1_790_000_000_000,
        "container": container,
    }
    if status_reason is not None:
        detail["statusReason"] = status_reason
    if status in {"FAILED", "SUCCEEDED"}:
        detail["stoppedAt"] = 1_790_000_600_000
        detail["attempts"] = [
            {
                "container": dict(container),
                "startedAt": 1_790_000_000_000,
                "stoppedAt": 1_790_000_600_000,
                "statusReason": status_reason or "",
            }
        ]
    return detail


@pytest.fixture
def runner(batch):
    return stubbed_runner(batch)


def _live_job(records, status: JobStatus, **overrides):
    values = dict(status=status, runner_job_id=BATCH_ID)
    if status == JobStatus.RUNNING:
        values.update(started_at=utcnow(), heartbeat_at=utcnow())
    values.update(overrides)
    return add_penguins_job(records, **values)


def _reconcile(records, runner, batch, *details, submits: int = 0):
    report, _submitted = reconcile(
        records, runner, batch, list(details), batch_id=BATCH_ID, submits=submits
    )
    return report


FAILURES = {
    "timeout": (
        JobStatus.RUNNING,
        batch_detail("FAILED", status_reason="Job attempt duration exceeded timeout"),
        ["Training ran past its time limit", "Job attempt duration exceeded timeout"],
    ),
    "out of memory (exit 137)": (
        JobStatus.RUNNING,
        batch_detail(
            "FAILED",
            status_reason="Essential container in task exited",
            reason="OutOfMemoryError: Container killed due to memory usage",
            exit_code=137,
        ),
        ["ran out of memory", "OutOfMemoryError", "exit code 137"],
    ),
    "image pull error": (
        JobStatus.QUEUED,
        batch_detail(
            "FAILED",
            status_reason="Task failed to start",
            reason=(
                "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                "failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/automl:9: not found"
            ),
        ),
        ["could not pull the training image", "CannotPullContainerError", "image URI"],
    ),
    "crash before the first write": (
        JobStatus.QUEUED,
        batch_detail("FAILED", status_reason="Essential container in task exited", exit_code=1),
        ["stopped without reporting a result", "Essential container in task exited", "exit code 1"],
    ),
    "died while writing failed": (
        JobStatus.RUNNING,
        batch_detail("FAILED", status_reason="Essential container in task exited", exit_code=1),
        ["stopped without reporting a result", "exit code 1"],
    ),
    "exited 0 without a result": (
        JobStatus.RUNNING,
        batch_detail("SUCCEEDED", status_reason="Essential container in task exited", exit_code=0),
        ["exited normally but never recorded a result"],
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_it_fails_a_dead_run_with_batchs_reason(records, runner, batch, case):
    status, detail, phrases = FAILURES[case]
    job = _live_job(records, status, progress={"phase": "searching"})

    report = _reconcile(records, runner, batch, detail)

    stored = records.jobs.get(job.job_id)
    assert report.failed == [job.job_id]
    assert stored.status == JobStatus.FAILED
    assert stored.error_type == ErrorType.LOST
    for phrase in phrases:
        assert phrase in stored.error_message
    assert stored.error_phase == "searching"
    assert stored.completed_at is not None


def test_it_keeps_the_message_of_a_container_that_wrote_failed_before_dying(records, runner, batch):
    job = _live_job(records, JobStatus.RUNNING)
    records.jobs.transition(
        job.job_id,
        JobStatus.FAILED,
        error_type=str(ErrorType.DATA),
        error_message="Target column 'species' has a class with one row.",
    )

    with Stubber(batch):  # no Batch call expected: the record is no longer live
        report = jobs_reconcile(repository=records.jobs, datasets=records.datasets, runner=runner)

    stored = records.jobs.get(job.job_id)
    assert report.checked == 0
    assert (stored.status, stored.error_type) == (JobStatus.FAILED, ErrorType.DATA)
    assert stored.error_message == "Target column 'species' has a class with one row."


@pytest.mark.parametrize(
    "status_reason",
    ["Host EC2 (instance i-0123456789abcdef0) terminated.", "Your Spot Task was interrupted."],
)
def test_it_resubmits_a_spot_interrupted_run_as_the_next_attempt(
    records, runner, batch, status_reason
):
    job = _live_job(records, JobStatus.RUNNING, attempt=1)

    report = _reconcile(
        records, runner, batch, batch_detail("FAILED", status_reason=status_reason), submits=1
    )

    stored = records.jobs.get(job.job_id)
    assert report.requeued == [job.job_id]
    assert stored.status == JobStatus.QUEUED
    assert stored.attempt == 2
    assert stored.runner_job_id == "resubmitted-batch-id-0"
    assert stored.error_type is None and stored.error_message is None


def test_it_fails_a_spot_interrupted_run_that_used_every_attempt(records, runner, batch, settings):
    settings.AUTOML_MAX_ATTEMPTS = 3
    job = _live_job(records, JobStatus.RUNNING, attempt=3)

    report = _reconcile(
        records,
        runner,
        batch,
        batch_detail("FAILED", status_reason="Your Spot Task was interrupted."),
    )

    stored = records.jobs.get(job.job_id)
    assert report.failed == [job.job_id]
    assert stored.status == JobStatus.FAILED
    assert stored.error_type == ErrorType.INTERRUPTED
    assert "reclaimed by AWS" in stored.error_message
    assert "used all 3 attempts" in stored.error_message


def test_it_fails_a_spot_interrupted_run_whose_resubmit_is_refused(records, runner, batch):
    job = _live_job(records, JobStatus.RUNNING, attempt=1)

    with Stubber(batch) as stub:
        stub.add_response(
            "describe_jobs",
            {"jobs": [batch_detail("FAILED", status_reason="Your Spot Task was interrupted.")]},
        )
        stub.add_client_error("submit_job", service_error_code="ClientException")
        jobs_reconcile(repository=records.jobs, datasets=records.datasets, runner=runner)

    stored = records.jobs.get(job.job_id)
    assert (stored.status, stored.error_type, stored.attempt) == (JobStatus.FAILED, "submit", 2)
    assert "AWS Batch refused the training job" in stored.error_message


@pytest.mark.parametrize(
    "batch_status", ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"]
)
def test_it_leaves_a_run_batch_still_holds_alone(records, runner, batch, batch_status):
    job = _live_job(records, JobStatus.QUEUED)

    report = _reconcile(records, runner, batch, batch_detail(batch_status))

    assert records.jobs.get(job.job_id).status == JobStatus.QUEUED
    assert report.failed == report.requeued == []


def test_it_stops_and_fails_a_running_job_whose_heartbeat_went_stale(
    records, runner, batch, settings
):
    settings.AUTOML_HEARTBEAT_TIMEOUT = 300
    stale = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    job = _live_job(records, JobStatus.RUNNING, started_at=stale, heartbeat_at=stale)

    with Stubber(batch) as stub:
        stub.add_response("describe_jobs", {"jobs": [batch_detail("RUNNING")]})
        stub.add_response("terminate_job", {}, {"jobId": BATCH_ID, "reason": ANY})
        report = jobs_reconcile(repository=records.jobs, datasets=records.datasets, runner=runner)
        stub.assert_no_pending_responses()

    stored = records.jobs.get(job.job_id)
    assert report.failed == [job.job_id]
    assert stored.status == JobStatus.FAILED
    assert "stopped reporting progress" in stored.error_message


def test_it_fails_a_run_batch_has_forgotten_after_a_grace_period(records, batch):
    job = _live_job(records, JobStatus.QUEUED)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    runner = stubbed_runner(batch, clock=lambda: later)

    report = _reconcile(records, runner, batch)  # describe_jobs answers with no job

    stored = records.jobs.get(job.job_id)
    assert report.failed == [job.job_id]
    assert "AWS Batch has no record of the training run" in stored.error_message


def test_it_gives_batch_time_to_list_a_just_submitted_run(records, runner, batch):
    job = _live_job(records, JobStatus.QUEUED)

    report = _reconcile(records, runner, batch)  # describe_jobs lags just after submit

    assert records.jobs.get(job.job_id).status == JobStatus.QUEUED
    assert report.failed == []


def test_it_reads_the_reason_from_the_last_attempt_when_the_top_level_has_none():
    detail = batch_detail("FAILED")
    detail["attempts"] = [
        {"container": {"exitCode": 137, "reason": "OutOfMemoryError: killed"}, "statusReason": "x"}
    ]

    state = state_from_detail(detail)

    assert not state.alive and state.exit_code == 137
    assert "ran out of memory" in state.reason


def test_it_resubmits_when_batchs_own_retry_after_a_spot_reclaim_could_not_claim_the_job(
    records, runner, batch
):
    job = _live_job(records, JobStatus.RUNNING, attempt=1)
    detail = batch_detail("FAILED", status_reason="Essential container in task exited", exit_code=3)
    detail["attempts"].insert(
        0,
        {
            "container": {"exitCode": 143},
            "startedAt": 1_790_000_000_000,
            "stoppedAt": 1_790_000_300_000,
            "statusReason": "Host EC2 (instance i-0123456789abcdef0) terminated.",
        },
    )

    report = _reconcile(records, runner, batch, detail, submits=1)

    stored = records.jobs.get(job.job_id)
    assert report.requeued == [job.job_id]
    assert (stored.status, stored.attempt) == (JobStatus.QUEUED, 2)
