"""The Lambda entry point: HTTP API v2 and REST v1 events, schedules, manage, SQS tasks."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from celery import shared_task

from automl_lite import lambda_handler
from tests.aws.celery_sqs import celery_on_sqs, deliver, sqs_event
from tests.aws.conftest import REGION
from tests.jobs.factories import FakeRunner, store_job
from training_image.contract import JobStatus, utcnow

pytestmark = pytest.mark.django_db


def http_v2(
    method: str, path: str, *, body: bytes = b"", headers: dict | None = None, query: str = ""
):
    """An API Gateway HTTP API (payload 2.0) event."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "cookies": [],
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 1_790_000_000_000,
        },
        "body": base64.b64encode(body).decode() if body else "",
        "isBase64Encoded": bool(body),
    }


def rest_v1(method: str, path: str):
    """An API Gateway REST API (payload 1.0) proxy event."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abc123.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "identity": {"sourceIp": "203.0.113.9"},
            "stage": "prod",
            "requestId": "req-2",
        },
        "body": None,
        "isBase64Encoded": False,
    }


@pytest.fixture(autouse=True)
def _api_gateway_host(settings):
    settings.ALLOWED_HOSTS = ["abc123.execute-api.us-east-1.amazonaws.com"]


def test_it_serves_an_http_api_v2_request_through_django():
    response = lambda_handler.handler(http_v2("GET", "/api/health"), None)

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "healthy"
    assert response["headers"]["content-type"].startswith("application/json")


def test_it_serves_a_rest_api_v1_request_through_django():
    response = lambda_handler.handler(rest_v1("GET", "/api/health"), None)

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "healthy"


def test_it_passes_a_request_body_and_returns_djangos_error_status():
    event = http_v2(
        "POST",
        "/api/train",
        body=b'{"dataset_id": "x", "target_column": "y"}',
        headers={"content-type": "application/json"},
    )

    response = lambda_handler.handler(event, None)

    assert response["statusCode"] == 401  # anonymous: AWS mode requires login
    assert "detail" in json.loads(response["body"]) or "message" in json.loads(response["body"])


def test_it_refuses_a_host_api_gateway_did_not_send(settings):
    settings.ALLOWED_HOSTS = ["only.example.com"]

    response = lambda_handler.handler(http_v2("GET", "/api/health"), None)

    assert response["statusCode"] == 400


def test_it_reconciles_jobs_on_a_scheduled_event(alice, monkeypatch):
    from automl_lite import wiring
    from jobs.runners.base import RunnerState

    fake = FakeRunner()

    def wired() -> FakeRunner:
        return fake

    wired.cache_clear = lambda: None  # wiring.reset() runs before monkeypatch undoes this
    monkeypatch.setattr(wiring, "runner", wired)
    job = store_job(alice, status=JobStatus.RUNNING, runner_job_id="batch-1", started_at=utcnow())
    fake.states[job.job_id] = RunnerState(
        alive=False, status="FAILED", reason="The training container ran out of memory."
    )
    event = {
        "version": "0",
        "id": "e-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-27T00:00:00Z",
        "region": REGION,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/reconcile"],
        "detail": {},
    }

    result = lambda_handler.handler(event, None)

    stored = wiring.job_repository().get(job.job_id)
    assert result["task"] == "reconcile_jobs"
    assert "1 failed" in result["result"]
    assert stored.status == JobStatus.FAILED
    assert stored.error_message == "The training container ran out of memory."


def test_it_runs_a_management_command(settings):
    result = lambda_handler.handler({"manage": "create_tables"}, None)

    assert result["status"] == "ok"
    assert "SQLite records ready" in result["output"]


def test_it_accepts_a_management_command_as_a_word_list():
    result = lambda_handler.handler(
        {"manage": ["check", "--deploy", "--fail-level", "CRITICAL"]}, None
    )

    assert result["status"] == "ok"


def test_it_reports_a_failing_management_command():
    result = lambda_handler.handler({"manage": "no_such_command"}, None)

    assert result["status"] == "error"
    assert "Unknown command" in result["error"]


def test_it_refuses_an_event_it_does_not_know():
    with pytest.raises(lambda_handler.UnknownEvent, match="unrecognised event"):
        lambda_handler.handler({"hello": "world"}, None)


# --------------------------------------------------------------------------- SQS (Celery)


@shared_task(name="tests.aws.always_fails")
def always_fails(token: str) -> None:
    raise RuntimeError(f"boom {token}")


@pytest.fixture
def task_queue(moto_batch):
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="automl-tasks-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="automl-tasks",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
        },
    )["QueueUrl"]
    return sqs, url, dlq


def test_it_runs_celery_tasks_sent_through_sqs(task_queue):
    from core.tasks import ping

    sqs, url, _dlq = task_queue
    with celery_on_sqs(url):
        ping.delay("abc")
        ping.delay("def")

    responses = deliver(sqs, url)

    assert responses == [{"batchItemFailures": []}, {"batchItemFailures": []}]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_it_reports_a_failing_task_so_sqs_redelivers_it_then_dead_letters_it(task_queue):
    sqs, url, dlq = task_queue
    with celery_on_sqs(url):
        always_fails.delay("x")

    responses = deliver(sqs, url)

    assert len(responses) == 2  # delivered twice (maxReceiveCount), failed both times
    assert all(len(r["batchItemFailures"]) == 1 for r in responses)
    dead = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert lambda_handler.decode_celery_message(dead[0]["Body"])[0] == "tests.aws.always_fails"


def test_it_drops_a_message_that_is_not_a_celery_task(task_queue):
    sqs, url, _dlq = task_queue
    sqs.send_message(QueueUrl=url, MessageBody="hello, not a task")

    responses = deliver(sqs, url)

    assert responses == [{"batchItemFailures": []}]  # logged and deleted: it can never succeed


def test_it_reports_a_task_this_deployment_does_not_know(task_queue):
    sqs, url, _dlq = task_queue
    with celery_on_sqs(url):
        from automl_lite.celery import app

        app.send_task("no.such.task", args=[1])
    message = sqs.receive_message(QueueUrl=url)["Messages"][0]

    response = lambda_handler.handler(sqs_event([message], "arn:aws:sqs:us-east-1:1:q"), None)

    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
