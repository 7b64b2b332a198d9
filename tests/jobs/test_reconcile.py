"""jobs_reconcile: dead runs are failed or re-queued, hung runs are stopped; nothing stays running."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from jobs import services
from jobs.runners.base import RunnerState
from tests.jobs.factories import store_job
from training_image.contract import ErrorType, JobStatus, utcnow

pytestmark = pytest.mark.django_db

DEAD = RunnerState(alive=False, status="exited", reason="The process is gone.")
INTERRUPTED = RunnerState(
    alive=False, status="FAILED", reason="Host EC2 was reclaimed (Spot).", interrupted=True
)


def test_it_fails_a_running_job_whose_run_is_dead(alice, iris, runner, jobs_repo):
    job = store_job(
        alice, iris, status=JobStatus.RUNNING, started_at=utcnow(), progress={"phase": "searching"}
    )
    runner.states[job.job_id] = DEAD
    report = services.jobs_reconcile()
    stored = jobs_repo.get(job.job_id)
    assert report.failed == [job.job_id]
    assert stored.status == JobStatus.FAILED
    assert stored.error_type == ErrorType.LOST
    assert stored.error_message == "The process is gone."
    assert stored.error_phase == "searching"


def test_it_requeues_an_interrupted_job_as_the_next_attempt(alice, iris, runner, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.RUNNING, started_at=utcnow())
    runner.states[job.job_id] = INTERRUPTED
    report = services.jobs_reconcile()
    stored = jobs_repo.get(job.job_id)
    assert report.requeued == [job.job_id]
    assert stored.status == JobStatus.QUEUED
    assert stored.attempt == 2
    assert runner.submitted == [(job.job_id, iris.storage_key)]


def test_it_requeues_an_interrupted_queued_job(alice, iris, runner, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.QUEUED, runner_job_id="batch-1")
    runner.states[job.job_id] = INTERRUPTED
    services.jobs_reconcile()
    assert jobs_repo.get(job.job_id).attempt == 2


def test_it_fails_an_interrupted_job_out_of_attempts(alice, iris, runner, jobs_repo, settings):
    settings.AUTOML_MAX_ATTEMPTS = 2
    job = store_job(alice, iris, status=JobStatus.RUNNING, attempt=2, started_at=utcnow())
    runner.states[job.job_id] = INTERRUPTED
    report = services.jobs_reconcile()
    stored = jobs_repo.get(job.job_id)
    assert report.failed == [job.job_id]
    assert stored.status == JobStatus.FAILED
    assert stored.error_type == ErrorType.INTERRUPTED
    assert "used all 2 attempts" in stored.error_message
    assert runner.submitted == []


def test_it_stops_and_fails_a_running_job_with_a_stale_heartbeat(
    alice, iris, runner, jobs_repo, settings
):
    settings.AUTOML_HEARTBEAT_TIMEOUT = 60
    now = dt.datetime.now(dt.UTC)
    old = (now - dt.timedelta(seconds=600)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    job = store_job(alice, iris, status=JobStatus.RUNNING, started_at=old, heartbeat_at=old)
    runner.states[job.job_id] = RunnerState(alive=True, status="running")
    report = services.jobs_reconcile(now=now)
    stored = jobs_repo.get(job.job_id)
    assert report.failed == [job.job_id]
    assert stored.status == JobStatus.FAILED
    assert "stopped reporting progress" in stored.error_message
    assert runner.cancelled == [job.job_id]


def test_it_leaves_a_healthy_running_job_alone(alice, iris, runner, jobs_repo):
    job = store_job(
        alice, iris, status=JobStatus.RUNNING, started_at=utcnow(), heartbeat_at=utcnow()
    )
    runner.states[job.job_id] = RunnerState(alive=True, status="running")
    report = services.jobs_reconcile()
    assert report.failed == [] and report.requeued == []
    assert jobs_repo.get(job.job_id).status == JobStatus.RUNNING


def test_it_leaves_a_queued_job_the_runner_knows_nothing_about(alice, iris, runner, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    services.jobs_reconcile()
    assert jobs_repo.get(job.job_id).status == JobStatus.QUEUED
    assert runner.submitted == []


def test_it_hands_waiting_jobs_to_the_runner_again_on_local_start(alice, iris, runner, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    report = services.jobs_reconcile(requeue_waiting=True)
    assert report.resubmitted == [job.job_id]
    assert runner.submitted == [(job.job_id, iris.storage_key)]
    assert jobs_repo.get(job.job_id).attempt == 1


def test_the_command_prints_what_it_did(alice, iris, runner, capsys):
    job = store_job(alice, iris, status=JobStatus.RUNNING, started_at=utcnow())
    runner.states[job.job_id] = DEAD
    call_command("reconcile_jobs")
    out = capsys.readouterr().out
    assert "checked 1 live jobs: 1 failed" in out
    assert job.job_id in out


def test_the_celery_task_reconciles(alice, iris, runner, jobs_repo):
    from jobs.tasks import reconcile_jobs

    job = store_job(alice, iris, status=JobStatus.RUNNING, started_at=utcnow())
    runner.states[job.job_id] = DEAD
    reconcile_jobs.delay()
    assert jobs_repo.get(job.job_id).status == JobStatus.FAILED
