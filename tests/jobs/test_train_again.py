"""Train again: the configure page from a finished run, `POST /api/jobs/{id}/resubmit` on a
completed job, `manage.py cancel_job` and `manage.py resubmit_job --failed-since`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from automl_lite import wiring
from tests.jobs.factories import store_job
from training_image.contract import ErrorType, JobStatus, new_id

pytestmark = pytest.mark.django_db

SETTINGS = dict(
    target_column="species",
    problem_type="multiclass",
    metric="f1_macro",
    time_budget=45,
    excluded_columns=["sepal width (cm)"],
)


def finished(owner, dataset, status=JobStatus.COMPLETED, **overrides):
    return store_job(owner, dataset, status=status, **{**SETTINGS, **overrides})


# --------------------------------------------------------------------------- configure page


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_the_configure_page_starts_from_a_finished_runs_settings(alice_client, alice, iris, status):
    job = finished(alice, iris, status)
    detail = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    link = f'href="/datasets/{iris.dataset_id}/?from_job={job.job_id}"'
    assert link in detail and "Train again" in detail
    html = alice_client.get(f"/datasets/{iris.dataset_id}/?from_job={job.job_id}").content.decode()
    assert 'id="train-again-note"' in html and f'href="/jobs/{job.job_id}/"' in html
    assert '<option value="multiclass" selected>' in html
    assert '<option value="f1_macro" selected>' in html
    assert 'name="time_budget" id="id_time_budget"' in html and 'value="45"' in html
    assert 'value="sepal width (cm)" aria-label="Exclude sepal width (cm)" checked' in html
    assert 'value="petal width (cm)" aria-label="Exclude petal width (cm)" checked' not in html


def test_a_run_of_another_user_or_dataset_is_not_copied(alice_client, alice, bob, iris):
    from tests.jobs.factories import store_dataset

    theirs = finished(bob, store_dataset(bob))
    other = finished(alice, store_dataset(alice))
    live = store_job(alice, iris, status=JobStatus.RUNNING)
    for job_id in (theirs.job_id, other.job_id, live.job_id, "not-an-id", new_id()):
        response = alice_client.get(f"/datasets/{iris.dataset_id}/?from_job={job_id}")
        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="train-again-note"' not in html and "cannot be copied" in html


def test_a_live_job_offers_no_train_again(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    assert 'id="train-again"' not in alice_client.get(f"/jobs/{job.job_id}/").content.decode()


def test_the_copied_settings_start_a_new_run(alice_client, alice, iris, runner):
    job = finished(alice, iris, JobStatus.CANCELLED)
    response = alice_client.post(
        "/jobs/create/",
        {
            "dataset_id": iris.dataset_id,
            "target_column": "species",
            "problem_type": "multiclass",
            "metric": "accuracy",  # edited
            "time_budget": "45",
            "excluded_columns": ["sepal width (cm)"],
        },
    )
    new_id_ = response["Location"].strip("/").split("/")[-1]
    new = wiring.job_repository().get(new_id_)
    assert new.job_id != job.job_id and new.metric == "accuracy"
    assert new.excluded_columns == ["sepal width (cm)"] and new.time_budget == 45


# --------------------------------------------------------------------------- API


def test_resubmitting_a_completed_job_creates_a_new_job(alice_client, alice, iris, runner):
    job = finished(alice, iris)
    response = alice_client.post(f"/api/jobs/{job.job_id}/resubmit")
    assert response.status_code == 201
    body = response.json()
    assert body["job_id"] != job.job_id and response["Location"] == f"/api/jobs/{body['job_id']}"
    new = wiring.job_repository().get(body["job_id"])
    assert new.status == JobStatus.QUEUED and runner.submitted[0][0] == new.job_id
    for name in ("dataset_id", "target_column", "problem_type", "metric", "time_budget"):
        assert getattr(new, name) == getattr(job, name)
    assert new.excluded_columns == job.excluded_columns
    assert wiring.job_repository().get(job.job_id).status == JobStatus.COMPLETED


def test_resubmitting_with_a_key_twice_makes_one_new_job(alice_client, alice, iris, runner):
    job = finished(alice, iris, JobStatus.CANCELLED)
    first = alice_client.post(f"/api/jobs/{job.job_id}/resubmit", HTTP_IDEMPOTENCY_KEY="k-1")
    second = alice_client.post(f"/api/jobs/{job.job_id}/resubmit", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.json()["job_id"] == second.json()["job_id"]
    assert len(runner.submitted) == 1


def test_resubmitting_a_failed_job_still_runs_it_again(alice_client, alice, iris, runner):
    job = finished(alice, iris, JobStatus.FAILED, error_type=ErrorType.LOST)
    response = alice_client.post(f"/api/jobs/{job.job_id}/resubmit")
    assert response.status_code == 200 and response.json()["job_id"] == job.job_id
    assert response.json()["attempt"] == 2


def test_a_completed_job_whose_dataset_is_gone_cannot_train_again(alice_client, alice, iris):
    job = finished(alice, iris)
    wiring.dataset_repository().delete(iris.dataset_id)
    response = alice_client.post(f"/api/jobs/{job.job_id}/resubmit")
    assert response.status_code == 404 and "deleted" in response.json()["detail"]


def test_a_completed_job_with_a_budget_under_the_floor_is_refused(
    alice_client, alice, iris, runner, settings
):
    settings.AUTOML_MIN_TIME_BUDGET = 60
    job = finished(alice, iris, time_budget=30)
    response = alice_client.post(f"/api/jobs/{job.job_id}/resubmit")
    assert response.status_code == 400 and "Time budget" in response.json()["detail"]
    assert runner.submitted == []


def test_resubmit_checks_ownership_and_method(alice_client, bob_client, alice, iris):
    job = finished(alice, iris)
    assert bob_client.post(f"/api/jobs/{job.job_id}/resubmit").status_code == 404
    assert alice_client.get(f"/api/jobs/{job.job_id}/resubmit").status_code == 405
    assert alice_client.post("/api/jobs/not-an-id/resubmit").status_code == 404


# --------------------------------------------------------------------------- commands


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_cancel_job_stops_a_running_job(alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    assert f"Job {job.job_id}: cancelled" in run("cancel_job", job.job_id)
    assert wiring.job_repository().get(job.job_id).status == JobStatus.CANCELLED
    assert runner.cancelled == [job.job_id]


def test_cancel_job_explains_why_it_cannot(alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.COMPLETED)
    with pytest.raises(CommandError, match="completed"):
        run("cancel_job", job.job_id)
    with pytest.raises(CommandError, match="not found"):
        run("cancel_job", new_id())


def test_resubmit_job_failed_since_resubmits_what_a_retry_can_fix(alice, bob, iris, runner):
    lost = store_job(
        alice,
        iris,
        status=JobStatus.FAILED,
        error_type=ErrorType.LOST,
        completed_at="2026-11-20T10:00:00.000000Z",
    )
    theirs = store_job(
        bob,
        None,
        status=JobStatus.FAILED,
        error_type=ErrorType.INTERRUPTED,
        completed_at="2026-11-21T10:00:00.000000Z",
    )
    data = store_job(
        alice,
        iris,
        status=JobStatus.FAILED,
        error_type=ErrorType.DATA,
        completed_at="2026-11-22T10:00:00.000000Z",
    )
    old = store_job(
        alice,
        iris,
        status=JobStatus.FAILED,
        error_type=ErrorType.LOST,
        completed_at="2026-11-01T10:00:00.000000Z",
        updated_at="2026-11-01T10:00:00.000000Z",
    )
    out = run("resubmit_job", failed_since="2026-11-15")
    repository = wiring.job_repository()
    assert repository.get(lost.job_id).status == JobStatus.QUEUED
    assert repository.get(theirs.job_id).status == JobStatus.FAILED  # no dataset to run on
    assert repository.get(data.job_id).status == JobStatus.FAILED
    assert repository.get(old.job_id).status == JobStatus.FAILED
    assert f"Job {data.job_id}: skipped (data)" in out
    assert "1 resubmitted, 2 skipped of 3 failed since 2026-11-15T00:00:00.000000Z" in out


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ((), {}, "either a JOB_ID or --failed-since"),
        (("some-id",), {"failed_since": "2026-11-15"}, "either a JOB_ID or --failed-since"),
        ((), {"failed_since": "last tuesday"}, "is not a date"),
    ],
)
def test_resubmit_job_refuses_a_bad_command_line(args, options, message):
    with pytest.raises(CommandError, match=message):
        run("resubmit_job", *args, **options)
