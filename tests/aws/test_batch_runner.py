"""BatchRunner against moto's Batch (no Docker): submit, names, timeout, retries, cancel, errors."""

from __future__ import annotations

import json

import botocore.config
import pytest
from botocore.stub import Stubber

from jobs.runners.base import SubmitError
from jobs.runners.batch import (
    BATCH_NAME_PATTERN,
    RETRY_STRATEGY,
    BatchRunner,
    attempt_timeout,
    batch_job_name,
    overrides_size,
)
from tests.aws.aws_resources import s3_backend
from tests.aws.stack import deploy_stack, stack_runner
from tests.conftest import make_job
from training_image import contract

DATASET_KEY = "datasets/d1/penguins.csv"


@pytest.fixture
def runner(batch):
    return stack_runner(deploy_stack(), client=batch)


def _described(batch, batch_id: str) -> dict:
    return batch.describe_jobs(jobs=[batch_id])["jobs"][0]


def test_it_submits_exactly_the_contract_environment(batch, runner):
    job = make_job(time_budget=120, excluded_columns=["id"], dataset_name="penguins.csv")

    batch_id = runner.submit(job, dataset_key=DATASET_KEY)

    detail = _described(batch, batch_id)
    environment = {e["name"]: e["value"] for e in detail["container"]["environment"]}
    expected = contract.container_env(job, dataset_key=DATASET_KEY, backend=runner.backend())
    assert {k: environment[k] for k in expected} == expected
    assert environment["AWS_BATCH_JOB_ID"] == batch_id
    assert detail["status"] == "SUCCEEDED"  # moto's no-Docker Batch finishes at once


def test_it_names_the_job_after_the_dataset_job_and_attempt(batch, runner):
    job = make_job(dataset_name="Palmer penguins (2020).csv", attempt=2)

    batch_id = runner.submit(job, dataset_key=DATASET_KEY)

    name = _described(batch, batch_id)["jobName"]
    assert name == f"automl-Palmer-penguins-2020-{job.job_id}-a2"
    assert BATCH_NAME_PATTERN.match(name)


def test_it_sets_the_attempt_timeout_from_the_time_budget(batch, runner):
    job = make_job(time_budget=300)

    batch_id = runner.submit(job, dataset_key=DATASET_KEY)

    timeout = _described(batch, batch_id)["timeout"]["attemptDurationSeconds"]
    assert timeout == 345 + 600  # 300 s × 1.15 plus the fixed start-up/export overhead
    assert timeout == attempt_timeout(300)


def test_it_tags_the_batch_job_with_the_job_id(batch, runner):
    job = make_job(attempt=3)

    batch_id = runner.submit(job, dataset_key=DATASET_KEY)

    tags = _described(batch, batch_id)["tags"]
    assert tags == {"automl:job-id": job.job_id, "automl:attempt": "3"}


@pytest.mark.parametrize(
    "dataset_name",
    [
        "données clients été.csv",
        "_leading underscore.csv",
        "----.csv",
        "a" * 300 + ".csv",
        "semi;colon|pipe/slash\\back.tsv",
        "",
    ],
)
def test_it_always_makes_a_valid_batch_job_name(dataset_name):
    name = batch_job_name(make_job(dataset_name=dataset_name, attempt=10))

    assert BATCH_NAME_PATTERN.match(name), name
    assert len(name) <= 128
    assert name.endswith("-a10")


@pytest.mark.parametrize(
    ("budget", "seconds"),
    [(1, 602), (30, 635), (120, 738), (3600, 4740)],
)
def test_it_derives_the_timeout_as_budget_plus_15_percent_plus_overhead(budget, seconds):
    assert attempt_timeout(budget) == seconds


def test_it_never_asks_batch_for_less_than_its_60_second_minimum():
    assert attempt_timeout(1, overhead=0) == 60


def test_it_retries_spot_and_host_failures_and_exits_on_everything_else(runner):
    request = runner.submit_request(make_job(), dataset_key=DATASET_KEY)

    rules = request["retryStrategy"]["evaluateOnExit"]
    assert request["retryStrategy"] == RETRY_STRATEGY
    retried = [
        r.get("onStatusReason") or r.get("onReason") for r in rules if r["action"] == "RETRY"
    ]
    assert retried == [
        "Host EC2*",
        "Your Spot Task was interrupted*",
        "Your Spot Task was interrupted*",
    ]
    # The last rule catches every other reason (application errors, OOM, timeouts): no retry.
    assert rules[-1] == {"onReason": "*", "action": "EXIT"}
    assert len(rules) <= 5  # Batch's limit


def test_it_reports_a_refused_submit_with_batchs_words(batch):
    runner = BatchRunner(
        batch, job_queue="no-such-queue", job_definition="no-such-def", backend=s3_backend()
    )

    with pytest.raises(SubmitError) as caught:
        runner.submit(make_job(), dataset_key=DATASET_KEY)

    assert "AWS Batch refused the training job (ClientException" in caught.value.message
    assert "does not exist" in caught.value.message
    assert "resubmit" in caught.value.message


def test_it_reports_a_batch_server_error_as_a_submit_error(batch, runner):
    with Stubber(batch) as stub:
        stub.add_client_error(
            "submit_job", service_error_code="ServerException", http_status_code=500
        )
        with pytest.raises(SubmitError) as caught:
            runner.submit(make_job(), dataset_key=DATASET_KEY)

    assert "ServerException" in caught.value.message


def test_it_reports_an_unreachable_batch_endpoint():
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    import boto3

    unreachable = boto3.client(
        "batch",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    runner = BatchRunner(unreachable, job_queue="q", job_definition="d", backend=s3_backend())

    with pytest.raises(SubmitError) as caught:
        runner.submit(make_job(), dataset_key=DATASET_KEY)

    assert "could not be reached (EndpointConnectionError)" in caught.value.message


def test_it_terminates_the_batch_job_on_cancel(batch, runner):
    job = make_job()
    batch_id = runner.submit(job, dataset_key=DATASET_KEY)
    job.runner_job_id = batch_id

    with Stubber(batch) as stub:
        stub.add_response(
            "terminate_job", {}, {"jobId": batch_id, "reason": "Cancelled in AutoML Lite"}
        )
        runner.cancel(job)
        stub.assert_no_pending_responses()


def test_it_ignores_cancel_of_a_job_never_submitted(batch, runner):
    with Stubber(batch):  # no response queued: any call would raise
        runner.cancel(make_job(runner_job_id=None))


def test_it_swallows_a_terminate_error_on_cancel(batch, runner):
    with Stubber(batch) as stub:
        stub.add_client_error("terminate_job", service_error_code="ClientException")
        runner.cancel(make_job(runner_job_id="gone"))  # best effort: no exception


# ECS refuses a task whose container overrides exceed 8,192 characters (moto does not check).
ECS_OVERRIDES_LIMIT = 8192


def test_it_keeps_the_overrides_under_ecs_limit_with_500_long_excluded_columns(batch, runner):
    columns = [f"column_{i:03d}_{'x' * 19}" for i in range(500)]  # 30 characters each
    assert {len(c) for c in columns} == {30}
    job = make_job(
        excluded_columns=columns, target_column="t" * 200, dataset_name=f"{'d' * 120}.csv"
    )

    request = runner.submit_request(job, dataset_key=f"datasets/{job.dataset_id}/{'d' * 120}.csv")

    size = overrides_size(request)
    assert size <= ECS_OVERRIDES_LIMIT, size
    assert "column_000" not in json.dumps(request)  # the record carries them
    # The same list in the environment, as before, would have been refused by ECS.
    assert len(json.dumps(columns)) > ECS_OVERRIDES_LIMIT
    # And Batch still hands the container every variable it requires.
    batch_id = batch.submit_job(**request)["jobId"]
    environment = {
        e["name"]
        for e in batch.describe_jobs(jobs=[batch_id])["jobs"][0]["container"]["environment"]
    }
    assert set(contract.REQUIRED_ENV) <= environment
