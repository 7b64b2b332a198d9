"""Experiment management in AWS mode: the history's filters, tiles and costs read DynamoDB
through its indexes (never a Scan), the container keeps them right, run emails go out once."""

from __future__ import annotations

import pytest
from django.core import mail

from automl_lite import wiring
from jobs import services
from tests.aws.aws_mode import aws_mode
from tests.conftest import make_job
from tests.core.moto_tables import record_calls
from training_image.contract import JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def aws(settings, moto_batch):
    with aws_mode(settings) as mode:
        yield mode


def add(owner, **fields):
    return wiring.job_repository().add(make_job(owner_id=str(owner.pk), **fields))


def test_the_history_filters_through_dynamodb_indexes(aws, alice, alice_client):
    done = add(
        alice,
        status=JobStatus.COMPLETED,
        tags=["v2"],
        problem_type="binary",
        metric="roc_auc",
        metrics={"roc_auc": 0.91},
        dataset_name="Churn.csv",
    )
    add(alice, status=JobStatus.FAILED, dataset_name="Churn.csv")
    table = wiring.job_repository()._store.table
    calls = record_calls(table)
    body = alice_client.get("/api/jobs?status=completed&tag=v2&q=churn").json()
    assert [j["job_id"] for j in body["jobs"]] == [done.job_id]
    html = alice_client.get("/jobs/?problem_type=binary").content.decode()
    assert f'id="job-row-{done.job_id}"' in html and "0.9100" in html
    operations = {name for name, _ in calls}
    assert "Scan" not in operations and "Query" in operations


def test_the_container_keeps_the_status_index_right(aws, alice, alice_client):
    from training_image.jobstore import DynamoJobStore

    job = add(alice)
    wiring.job_repository().transition(job.job_id, JobStatus.QUEUED)
    container = DynamoJobStore(wiring.job_repository()._store.table)
    assert container.transition(job.job_id, JobStatus.RUNNING)
    assert container.transition(job.job_id, JobStatus.COMPLETED, problem_type="regression")
    body = alice_client.get("/api/jobs?status=completed&problem_type=regression").json()
    assert [j["job_id"] for j in body["jobs"]] == [job.job_id]
    assert alice_client.get("/api/jobs?status=running").json()["jobs"] == []


def test_run_emails_go_out_once_in_aws_mode(aws, alice):
    services.notification_set(user_id=alice.pk, email_on_finish=True, email="a@example.com")
    job = add(alice, status=JobStatus.COMPLETED, metric="accuracy", metrics={"accuracy": 0.9})
    assert services.jobs_notify_finished() == 1
    wiring.job_repository().update(job.job_id, notes="written again")
    assert services.jobs_notify_finished() == 0 and len(mail.outbox) == 1
