"""Celery tasks delivered by SQS to the worker function: retries count SQS's receive count.

The queue is the stack's own task queue, created from the template with its VisibilityTimeout
and RedrivePolicy (moto applies maxReceiveCount and moves the message to the dead-letter
queue), and the worker is configured from the worker function's environment. A failed
delivery is made visible again at once, as if its visibility timeout had elapsed; each
receive's `ApproximateReceiveCount` is SQS's own. Records and files live in moto
DynamoDB and S3 (`aws_mode`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from celery import shared_task
from django.conf import settings as django_settings

from automl_lite import lambda_handler, wiring
from core.exceptions import ServiceUnavailable
from datasets import services, tasks
from tests.aws.celery_sqs import celery_on_sqs, sqs_event
from tests.aws.conftest import FAKE_CREDENTIALS
from tests.aws.django_env import django_configured_from
from tests.aws.stack import deploy_stack
from tests.aws.test_deploy_template import template
from tests.datasets.factories import uploaded
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db


def task_queue_properties() -> dict[str, Any]:
    return template()["Resources"]["TaskQueue"]["Properties"]


class Queue:
    """The stack's task queue and its dead-letter queue in moto."""

    def __init__(self, stack: Any) -> None:
        self.sqs = stack.client("sqs")
        self.url = stack.outputs["TaskQueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])
        self.redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
        self.visibility_timeout = int(attributes["Attributes"]["VisibilityTimeout"])
        dlq_name = self.redrive["deadLetterTargetArn"].rsplit(":", 1)[-1]
        self.dlq = self.sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]

    def arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def deliver_once(self) -> tuple[int, dict[str, Any]] | None:
        """Receive one message, hand it to the handler as Lambda's event source mapping does.

        Returns (its ApproximateReceiveCount, the handler's response), or None when the
        queue is empty. A failed message becomes visible again at once (its visibility
        timeout elapsed); a successful one is deleted.
        """
        messages = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=1, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return None
        (message,) = messages
        response = lambda_handler.handler(sqs_event(messages, self.arn(self.url)), None)
        if response["batchItemFailures"]:
            self.sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        else:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return int(message["Attributes"]["ApproximateReceiveCount"]), response

    def dead_letters(self) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [lambda_handler.decode_celery_message(m["Body"])[0] for m in messages]


@pytest.fixture
def queue(settings, moto_batch):
    stack = deploy_stack()
    # moto would run the worker function itself (in Docker) for each message; the test
    # plays the event source mapping (`deliver_once`).
    lam = stack.client("lambda")
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    worker = {**stack.worker_environment, **FAKE_CREDENTIALS}
    with django_configured_from(settings, worker):
        queue = Queue(stack)
        queue.worker = worker
        with celery_on_sqs(queue.url):
            yield queue


@pytest.fixture
def confirmed(queue, alice):
    """A dataset confirmed through the service: `analyzing`, its analysis queued on SQS."""
    dataset = services.dataset_confirm(dataset=uploaded(alice))
    assert dataset.status == DatasetStatus.ANALYZING
    return dataset


def failure_for(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def status_of(dataset_id: str) -> tuple[str, str | None]:
    record = wiring.dataset_repository().get(dataset_id)
    return str(record.status), record.error_message


def storage_down(monkeypatch, calls: list[int], *, until: int | None = None) -> None:
    """File storage fails every read (or the first `until` reads) with a connection reset."""
    real = services._analyze_stored

    def read(dataset, storage):  # noqa: ANN001, ANN202
        calls.append(1)
        if until is None or len(calls) <= until:
            raise ConnectionResetError("connection reset by peer")
        return real(dataset, storage)

    monkeypatch.setattr(services, "_analyze_stored", read)


def test_the_setting_is_the_task_queues_max_receive_count(queue):
    props = task_queue_properties()

    assert queue.worker["AUTOML_TASK_MAX_RECEIVES"] == "5"
    assert django_settings.AUTOML_TASK_MAX_RECEIVES == int(queue.redrive["maxReceiveCount"]) == 5
    assert props["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "TaskMaxReceives"}
    # SQS redelivers after the visibility timeout: the backoff between two tries.
    assert queue.visibility_timeout == 960


def test_a_persistent_error_fails_the_dataset_on_the_last_receive_then_dead_letters_it(
    queue, confirmed, monkeypatch
):
    calls: list[int] = []
    storage_down(monkeypatch, calls)
    seen = []

    for _ in range(5):
        received, response = queue.deliver_once()
        seen.append((received, failure_for(response), status_of(confirmed.dataset_id)[0]))

    message_id = seen[0][1][0]
    assert seen == [
        (1, [message_id], DatasetStatus.ANALYZING),
        (2, [message_id], DatasetStatus.ANALYZING),
        (3, [message_id], DatasetStatus.ANALYZING),
        (4, [message_id], DatasetStatus.ANALYZING),
        (5, [message_id], DatasetStatus.FAILED),  # failed, and still reported: to the DLQ
    ]
    status, message = status_of(confirmed.dataset_id)
    assert message == (
        "File storage did not answer while reading the file. The analysis was tried 5 times; "
        "confirm the upload again later."
    )
    assert len(calls) == 5  # one read per delivery: no retry loop inside the function
    assert queue.deliver_once() is None  # after maxReceiveCount, SQS moved it
    assert queue.dead_letters() == ["datasets.tasks.analyze_dataset"]


def test_service_unavailable_is_retried_by_redelivery_and_a_later_success_counts(
    queue, confirmed, monkeypatch
):
    calls: list[int] = []
    storage_down(monkeypatch, calls, until=2)

    first = queue.deliver_once()
    second = queue.deliver_once()
    third = queue.deliver_once()

    assert [first[0], second[0], third[0]] == [1, 2, 3]
    assert failure_for(first[1]) and failure_for(second[1])
    assert third[1] == {"batchItemFailures": []}
    ready = wiring.dataset_repository().get(confirmed.dataset_id)
    assert ready.status == DatasetStatus.READY
    assert ready.row_count == 150
    assert len(calls) == 3
    assert queue.deliver_once() is None
    assert queue.dead_letters() == []


def test_a_non_retryable_error_is_not_retried_in_process_and_fails_on_the_last_receive(
    queue, confirmed, monkeypatch
):
    calls: list[str] = []

    def denied(*, dataset_id):  # noqa: ANN202 - the table refuses the worker's claim
        calls.append(dataset_id)
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
            "UpdateItem",
        )

    monkeypatch.setattr(services, "dataset_analyze", denied)

    outcomes = [queue.deliver_once() for _ in range(5)]

    assert [received for received, _ in outcomes] == [1, 2, 3, 4, 5]
    assert all(failure_for(response) for _, response in outcomes)
    assert len(calls) == 5  # Celery does not retry it; only SQS's redelivery does
    status, message = status_of(confirmed.dataset_id)
    assert status == DatasetStatus.FAILED
    assert message == (
        "The analysis could not read or record the dataset. The analysis was tried 5 times; "
        "confirm the upload again later."
    )
    assert queue.deliver_once() is None
    assert queue.dead_letters() == ["datasets.tasks.analyze_dataset"]


def test_the_final_failure_hook_is_not_called_when_the_last_receive_succeeds(
    queue, confirmed, monkeypatch
):
    calls: list[int] = []
    storage_down(monkeypatch, calls, until=4)
    hooked: list[dict[str, Any]] = []
    real_hook = tasks.analysis_gave_up

    def spy(dataset_id, **kwargs):  # noqa: ANN001, ANN202
        hooked.append({"dataset_id": dataset_id, **kwargs})
        real_hook(dataset_id, **kwargs)

    monkeypatch.setattr(type(tasks.analyze_dataset._get_current_object()), "final_failure", spy)

    outcomes = [queue.deliver_once() for _ in range(5)]

    assert [bool(failure_for(response)) for _, response in outcomes] == [
        True,
        True,
        True,
        True,
        False,
    ]
    assert hooked == []
    assert status_of(confirmed.dataset_id) == (DatasetStatus.READY, None)
    assert queue.dead_letters() == []


def test_the_hook_runs_when_a_failure_is_the_last_receive_and_only_then(
    queue, confirmed, monkeypatch
):
    storage_down(monkeypatch, [])
    hooked: list[dict[str, Any]] = []

    def spy(dataset_id, **kwargs):  # noqa: ANN001, ANN202
        hooked.append({"dataset_id": dataset_id, **kwargs})

    monkeypatch.setattr(type(tasks.analyze_dataset._get_current_object()), "final_failure", spy)

    for _ in range(5):
        queue.deliver_once()

    assert len(hooked) == 1
    assert hooked[0]["dataset_id"] == confirmed.dataset_id
    assert hooked[0]["attempts"] == 5
    assert isinstance(hooked[0]["error"], ServiceUnavailable)


# --------------------------------------------------------------------------- what a task sees

RETRIES_SEEN: list[int] = []


@shared_task(bind=True, name="tests.aws.retries_probe", max_retries=1)
def retries_probe(self) -> None:  # noqa: ANN001
    RETRIES_SEEN.append(self.request.retries)
    raise self.retry(exc=ServiceUnavailable("not yet"), countdown=0)


def test_a_task_sees_the_receive_count_as_its_retries_and_never_loops(queue):
    RETRIES_SEEN.clear()
    retries_probe.delay()

    outcomes = [queue.deliver_once() for _ in range(5)]

    # max_retries=1 would stop Celery after two runs; under SQS the queue's count decides.
    assert RETRIES_SEEN == [0, 1, 2, 3, 4]
    assert all(failure_for(response) for _, response in outcomes)
    assert queue.deliver_once() is None
    assert queue.dead_letters() == ["tests.aws.retries_probe"]


def test_a_message_without_a_receive_count_is_a_first_delivery():
    assert lambda_handler.receive_count({"attributes": {}}) == 1
    assert lambda_handler.receive_count({"attributes": {"ApproximateReceiveCount": "x"}}) == 1
    assert lambda_handler.receive_count({"attributes": {"ApproximateReceiveCount": "3"}}) == 3
