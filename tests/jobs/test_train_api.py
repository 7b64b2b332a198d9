"""POST /api/train (reference #6): shapes, status codes, idempotency, metric, submit failure."""

from __future__ import annotations

import pytest

from jobs.runners.base import SubmitError
from tests.jobs.factories import store_dataset
from training_image.contract import JobStatus

pytestmark = pytest.mark.django_db

URL = "/api/train"


def train(client, body, **headers):
    return client.post(URL, body, content_type="application/json", **headers)


def body_for(dataset, **config):
    return {"dataset_id": dataset.dataset_id, "target_column": "species", "config": config}


def test_it_starts_a_job_and_answers_the_reference_shape(alice_client, iris, runner, jobs_repo):
    response = train(alice_client, body_for(iris, time_budget=60))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pending"
    assert body["estimated_time"] == 60
    job = jobs_repo.get(body["job_id"])
    assert job.status == JobStatus.QUEUED
    assert runner.submitted == [(job.job_id, iris.storage_key)]


def test_it_tolerates_a_trailing_slash(alice_client, iris, runner):
    response = alice_client.post(URL + "/", body_for(iris), content_type="application/json")
    assert response.status_code == 200


def test_it_uses_the_automatic_budget_when_none_is_given(alice_client, iris, runner):
    response = train(alice_client, body_for(iris))
    assert response["content-type"] == "application/json"
    assert response.json()["estimated_time"] == 120


@pytest.mark.parametrize("budget", [29, 3601, "soon"])
def test_it_answers_422_for_a_budget_out_of_range(alice_client, iris, runner, budget):
    response = train(alice_client, body_for(iris, time_budget=budget))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == "config.time_budget"
    assert runner.submitted == []


def test_it_honours_a_valid_metric(alice_client, iris, runner, jobs_repo):
    response = train(alice_client, body_for(iris, metric="f1_macro"))
    assert jobs_repo.get(response.json()["job_id"]).metric == "f1_macro"


def test_it_answers_400_for_a_metric_of_another_problem_type(alice_client, iris, runner):
    response = train(alice_client, body_for(iris, metric="rmse"))
    assert response.status_code == 400
    assert "does not apply to multiclass" in response.json()["detail"]


def test_it_ignores_unknown_config_fields(alice_client, iris, runner):
    response = train(alice_client, body_for(iris, estimator_list=["lgbm"]))
    assert response.status_code == 200


def test_it_answers_400_for_an_unknown_target(alice_client, iris, runner):
    response = train(alice_client, {**body_for(iris), "target_column": "colour"})
    assert response.status_code == 400
    assert response.json()["detail"] == "Target column 'colour' not found in dataset"


def test_it_answers_404_for_another_users_dataset(bob_client, iris, runner):
    response = train(bob_client, body_for(iris))
    assert response.status_code == 404
    assert response.json()["detail"] == "Dataset not found"


def test_it_answers_404_for_a_malformed_dataset_id(alice_client, runner):
    response = train(alice_client, {"dataset_id": "../../etc", "target_column": "species"})
    assert response.status_code == 404


def test_it_answers_422_without_a_target(alice_client, iris, runner):
    response = train(alice_client, {"dataset_id": iris.dataset_id})
    assert response.status_code == 422


def test_the_same_idempotency_key_creates_one_job(alice_client, iris, runner, jobs_repo, alice):
    first = train(alice_client, body_for(iris), HTTP_IDEMPOTENCY_KEY="double-click")
    second = train(alice_client, body_for(iris), HTTP_IDEMPOTENCY_KEY="double-click")
    assert first.json()["job_id"] == second.json()["job_id"]
    assert len(runner.submitted) == 1
    assert len(jobs_repo.list_for_owner(str(alice.pk)).items) == 1


def test_the_body_key_works_like_the_header(alice_client, iris, runner):
    a = train(alice_client, {**body_for(iris), "idempotency_key": "k1"})
    b = train(alice_client, {**body_for(iris), "idempotency_key": "k1"})
    assert a.json()["job_id"] == b.json()["job_id"]


def test_a_submit_failure_answers_503_and_leaves_a_resubmittable_job(
    alice_client, iris, runner, jobs_repo
):
    runner.fail_with = SubmitError("The local task queue did not accept the job.")
    response = train(alice_client, body_for(iris))
    assert response.status_code == 503
    body = response.json()
    assert body["detail"].startswith("Error starting training: Could not start training")
    job = jobs_repo.get(body["extra"]["job_id"])
    assert job.status == JobStatus.FAILED and job.error_type == "submit"


def test_it_refuses_anonymous_callers(anon, iris, runner):
    assert train(anon, body_for(iris)).status_code == 401
    assert runner.submitted == []


def test_it_rejects_get(alice_client):
    assert alice_client.get(URL).status_code == 405


def test_it_refuses_a_dataset_that_is_not_ready(alice_client, alice, runner):
    dataset = store_dataset(alice, status="analyzing")
    response = train(alice_client, body_for(dataset))
    assert response.status_code == 400
    assert "not ready" in response.json()["detail"]
