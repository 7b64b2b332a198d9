"""Celery on SQS for a test: the app's producer sends real messages to a moto queue, and
`deliver` hands them to the Lambda handler as the SQS event source mapping would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from tests.aws.conftest import REGION

_KEYS = ("broker_url", "broker_transport_options", "task_always_eager", "task_eager_propagates")


@contextmanager
def celery_on_sqs(queue_url: str, endpoint_url: str | None = None) -> Iterator[Any]:
    """Point the Celery app at the SQS queue (settings' `sqs://` broker, predefined queue)."""
    from automl_lite.celery import app

    saved = {key: app.conf.get(key) for key in _KEYS}
    broker = "sqs://"
    options: dict[str, Any] = {
        "region": REGION,
        "predefined_queues": {"celery": {"url": queue_url}},
    }
    if endpoint_url:
        # kombu derives the endpoint from the broker URL's host and port.
        parts = urlsplit(endpoint_url)
        broker = f"sqs://@{parts.hostname}:{parts.port}"
        options["is_secure"] = parts.scheme == "https"
    _reset_pools(app)
    app.conf.update(
        broker_url=broker,
        broker_transport_options=options,
        task_always_eager=False,
        task_eager_propagates=False,
    )
    try:
        yield app
    finally:
        _reset_pools(app)
        app.conf.update(saved)


def _reset_pools(app: Any) -> None:
    # The app caches its connection and producer pools for the broker it first saw: drop
    # them so the next send connects to the broker configured now. (Not app.close(): that
    # also deregisters the app, and shared tasks stop resolving.)
    app._pool = None
    app.amqp._producer_pool = None


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The Lambda event an SQS event source mapping sends for `messages`."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def deliver(sqs: Any, queue_url: str, *, max_rounds: int = 20) -> list[dict[str, Any]]:
    """Feed every message on the queue to the Lambda handler, one batch at a time.

    Successful messages are deleted (as Lambda does); failed ones are made visible
    again. Returns each batch's handler response. Bounded: stops after `max_rounds`.
    """
    from automl_lite.lambda_handler import handler

    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    responses = []
    for _ in range(max_rounds):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        response = handler(sqs_event(messages, arn), None)
        responses.append(response)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return responses
