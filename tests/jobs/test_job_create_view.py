"""POST /jobs/create/: the configure page's form starts a job or comes back with its errors."""

from __future__ import annotations

import pytest

from automl_lite import wiring
from jobs.runners.base import SubmitError
from training_image.contract import JobStatus, new_id

pytestmark = pytest.mark.django_db

URL = "/jobs/create/"


def form(dataset, **overrides):
    data = {
        "dataset_id": dataset.dataset_id,
        "target_column": "species",
        "problem_type": "auto",
        "metric": "auto",
        "time_budget": "60",
        "excluded_columns": ["sepal width (cm)"],
        "idempotency_key": new_id(),
    }
    data.update(overrides)
    return data


def test_it_starts_a_job_and_shows_it(alice_client, alice, iris, runner):
    response = alice_client.post(URL, form(iris))
    assert response.status_code == 302
    job_id = response["Location"].strip("/").split("/")[-1]
    job = wiring.job_repository().get(job_id)
    assert job.status == JobStatus.QUEUED
    assert (job.target_column, job.problem_type, job.metric) == (
        "species",
        "multiclass",
        "accuracy",
    )
    assert job.excluded_columns == ["sepal width (cm)"]
    assert runner.submitted == [(job_id, iris.storage_key)]


def test_a_double_submit_starts_one_job(alice_client, alice, iris, runner):
    data = form(iris)
    first = alice_client.post(URL, data)
    second = alice_client.post(URL, data)
    assert first["Location"] == second["Location"]
    assert len(runner.submitted) == 1


def test_a_bad_budget_comes_back_on_the_configure_page(alice_client, iris, runner):
    response = alice_client.post(URL, form(iris, time_budget="5"))
    assert response.status_code == 400
    assert "Time budget must be between 30 and 3600 seconds" in response.content.decode()
    assert runner.submitted == []


def test_an_unusable_metric_comes_back_with_its_message(alice_client, iris, runner):
    response = alice_client.post(URL, form(iris, metric="r2"))
    assert response.status_code == 400
    assert "does not apply to multiclass" in response.content.decode()


def test_a_submit_failure_shows_the_failed_job(alice_client, iris, runner):
    runner.fail_with = SubmitError("The local task queue did not accept the job.")
    response = alice_client.post(URL, form(iris), follow=True)
    html = response.content.decode()
    assert "Could not start training" in html
    assert "/resubmit/" in html


def test_it_answers_404_for_another_users_dataset(bob_client, iris, runner):
    assert bob_client.post(URL, form(iris)).status_code == 404
    assert runner.submitted == []


def test_it_answers_404_for_a_malformed_dataset_id(alice_client, iris, runner):
    assert alice_client.post(URL, {**form(iris), "dataset_id": "nope"}).status_code == 404


def test_it_sends_anonymous_users_to_login(anon, iris, runner):
    response = anon.post(URL, form(iris))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert runner.submitted == []


def test_it_rejects_get(alice_client):
    assert alice_client.get(URL).status_code == 405
