"""Cancel, resubmit, tags/notes and deploy through the services, observed in the repository."""

from __future__ import annotations

import pytest

from core.exceptions import InvalidInput, InvalidTransition
from jobs import services
from tests.jobs.factories import store_job
from training_image.contract import ErrorType, JobStatus

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- cancel


@pytest.mark.parametrize("status", [JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING])
def test_it_cancels_a_live_job_and_stops_its_run(alice, iris, runner, jobs_repo, status):
    job = store_job(alice, iris, status=status)
    cancelled = services.job_cancel(job=job)
    assert jobs_repo.get(job.job_id).status == JobStatus.CANCELLED
    assert cancelled.error_message == "Cancelled by the user."
    assert runner.cancelled == [job.job_id]


def test_it_refuses_to_cancel_a_finished_job(alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.COMPLETED)
    with pytest.raises(InvalidTransition, match="already completed"):
        services.job_cancel(job=job)
    assert runner.cancelled == []


def test_a_late_container_write_cannot_revive_a_cancelled_job(alice, iris, runner, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    services.job_cancel(job=job)
    with pytest.raises(InvalidTransition):
        jobs_repo.transition(job.job_id, JobStatus.COMPLETED, metrics={"accuracy": 1.0})
    assert jobs_repo.get(job.job_id).status == JobStatus.CANCELLED


# --------------------------------------------------------------------------- resubmit


def test_it_resubmits_a_lost_job_as_the_next_attempt(alice, iris, runner, jobs_repo):
    job = store_job(
        alice,
        iris,
        status=JobStatus.FAILED,
        error_type=ErrorType.LOST,
        error_message="gone",
        progress={"phase": "searching"},
    )
    again = services.job_resubmit(job=job)
    assert again.status == JobStatus.QUEUED
    assert again.attempt == 2
    assert again.error_type is None and again.error_message is None and again.progress == {}
    assert runner.submitted == [(job.job_id, iris.storage_key)]


def test_it_refuses_to_resubmit_a_data_error(alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.FAILED, error_type=ErrorType.DATA)
    with pytest.raises(InvalidTransition, match="because of its data or settings"):
        services.job_resubmit(job=job)
    assert runner.submitted == []


def test_it_refuses_to_resubmit_past_the_attempt_limit(alice, iris, runner, settings):
    settings.AUTOML_MAX_ATTEMPTS = 2
    job = store_job(alice, iris, status=JobStatus.FAILED, error_type=ErrorType.LOST, attempt=2)
    with pytest.raises(InvalidTransition, match="used all 2 attempts"):
        services.job_resubmit(job=job)


def test_it_refuses_to_resubmit_a_job_that_did_not_fail(alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.COMPLETED)
    with pytest.raises(InvalidTransition, match="Only failed jobs"):
        services.job_resubmit(job=job)


def test_it_explains_a_resubmit_whose_dataset_is_gone(alice, iris, runner, datasets_repo):
    job = store_job(alice, iris, status=JobStatus.FAILED, error_type=ErrorType.SUBMIT)
    datasets_repo.delete(iris.dataset_id)
    with pytest.raises(InvalidInput, match="dataset of this job was deleted"):
        services.job_resubmit(job=job)


# --------------------------------------------------------------------------- tags and notes


def test_it_saves_cleaned_tags_and_notes(alice, iris, jobs_repo):
    job = store_job(alice, iris)
    services.job_update_meta(job=job, tags=[" loan ", "v2", "loan"], notes="  first try  ")
    stored = jobs_repo.get(job.job_id)
    assert stored.tags == ["loan", "v2"]
    assert stored.notes == "first try"


def test_it_clears_notes_with_whitespace_and_keeps_tags_when_none(alice, iris, jobs_repo):
    job = store_job(alice, iris, tags=["keep"], notes="old")
    services.job_update_meta(job=job, notes="   ")
    stored = jobs_repo.get(job.job_id)
    assert stored.notes == ""
    assert stored.tags == ["keep"]


@pytest.mark.parametrize(
    ("tags", "notes", "message"),
    [
        ([f"t{i}" for i in range(11)], None, "Maximum 10 tags allowed per job"),
        (["ok", "  "], None, "Tags cannot be empty or whitespace"),
        (["x" * 51], None, "Each tag must be 50 characters or less"),
        (None, "n" * 1001, "Notes must be 1000 characters or less"),
    ],
)
def test_it_rejects_bad_tags_and_notes(alice, iris, jobs_repo, tags, notes, message):
    job = store_job(alice, iris, tags=["before"])
    with pytest.raises(InvalidInput, match=message):
        services.job_update_meta(job=job, tags=tags, notes=notes)
    assert jobs_repo.get(job.job_id).tags == ["before"]


# --------------------------------------------------------------------------- deploy


def completed(alice, iris, **overrides):
    values = dict(
        status=JobStatus.COMPLETED,
        artifacts={"model.onnx": "jobs/x/model.onnx", "model_card.json": "jobs/x/model_card.json"},
    )
    values.update(overrides)
    return store_job(alice, iris, **values)


def test_it_deploys_and_undeploys_a_completed_job(alice, iris, jobs_repo):
    job = completed(alice, iris)
    deployed = services.job_deploy(job=job, deploy=True)
    assert deployed.deployed is True and deployed.deployed_at
    undeployed = services.job_deploy(job=deployed, deploy=False)
    assert undeployed.deployed is False and undeployed.deployed_at is None


def test_it_refuses_to_deploy_an_unfinished_job(alice, iris):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    with pytest.raises(
        InvalidInput,
        match=r"Cannot deploy job with status 'running'\. Only completed jobs can be deployed\.",
    ):
        services.job_deploy(job=job, deploy=True)


def test_it_refuses_to_deploy_without_an_onnx_model(alice, iris):
    job = completed(alice, iris, artifacts={"model.pkl": "jobs/x/model.pkl"})
    with pytest.raises(InvalidInput, match="No ONNX model available for this job"):
        services.job_deploy(job=job, deploy=True)
