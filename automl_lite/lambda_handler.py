"""AWS Lambda entry point: one handler for every way the deployment invokes the code.

- API Gateway HTTP API (payload 2.0) and REST API (1.0) events -> the Django WSGI app,
  through apig-wsgi (binary bodies base64-encoded, multi-value headers, cookies).
- EventBridge scheduled events -> `reconcile_jobs` (fail or re-queue dead runs).
- `{"manage": "<command and arguments>"}` -> `call_command`, output returned (as
  Zappa does: `aws lambda invoke --payload '{"manage": "migrate"}'`).
- SQS batches from the Celery queue -> the Celery tasks they carry, run in-process:
  the worker scales to zero with the queue. Failed messages are reported one by one
  (`batchItemFailures`), so SQS re-delivers only those, after the visibility timeout
  (a task's retries count SQS's receive count, never loop in-process), and after
  maxReceiveCount moves them to the dead-letter queue, the last failure having
  marked the dataset or job failed (core/task_base.py).

Django is set up at import time, in Lambda's init phase (which runs on a full CPU).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import os
import shlex
from collections.abc import Callable, Mapping
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automl_lite.settings")

import django  # the settings module must be chosen first

django.setup()

logger = logging.getLogger(__name__)

HttpHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
_http_handler: HttpHandler | None = None


class UnknownEvent(ValueError):
    """The handler was invoked with an event it does not know how to serve."""


def http_handler() -> HttpHandler:
    """The apig-wsgi adapter around Django's WSGI application (built once per process)."""
    global _http_handler
    if _http_handler is None:
        from apig_wsgi import make_lambda_handler
        from django.core.wsgi import get_wsgi_application

        _http_handler = make_lambda_handler(get_wsgi_application(), binary_support=True)
    return _http_handler


def event_kind(event: Any) -> str:
    """The kind of invocation: http, schedule, manage or sqs (UnknownEvent otherwise)."""
    if not isinstance(event, Mapping):
        raise UnknownEvent(f"expected a JSON object event, got {type(event).__name__}")
    if "requestContext" in event and ("httpMethod" in event or "routeKey" in event):
        return "http"
    if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
        return "schedule"
    if "manage" in event:
        return "manage"
    records = event.get("Records")
    if (
        isinstance(records, list)
        and records
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records)
    ):
        return "sqs"
    raise UnknownEvent(f"unrecognised event with keys {sorted(event)[:10]}")


def handler(event: dict[str, Any], context: Any) -> Any:
    """The Lambda handler (`automl_lite.lambda_handler.handler`)."""
    kind = event_kind(event)
    if kind == "http":
        return http_handler()(event, context)
    if kind == "schedule":
        return run_scheduled(event)
    if kind == "manage":
        return run_manage(event["manage"])
    return run_sqs(event)


# --------------------------------------------------------------------------- schedule


def run_scheduled(event: Mapping[str, Any]) -> dict[str, Any]:
    """Reconcile live jobs with the runner (the EventBridge rule fires every minute)."""
    from jobs.tasks import reconcile_jobs

    summary = reconcile_jobs()
    logger.info("Scheduled reconcile (%s): %s", ",".join(event.get("resources", [])), summary)
    return {"task": "reconcile_jobs", "result": summary}


# --------------------------------------------------------------------------- manage


def run_manage(command: Any) -> dict[str, Any]:
    """Run one management command; returns its output (and the error, if it failed).

    Args:
        command: The command line after `manage.py`, as a string or a list of words.
    """
    from django.core.management import call_command
    from django.core.management.base import CommandError

    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    if not words:
        return {"status": "error", "error": "empty command", "output": ""}
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*words, stdout=out, stderr=err)
    except (CommandError, SystemExit) as exc:
        return {
            "status": "error",
            "error": str(exc) or type(exc).__name__,
            "output": out.getvalue() + err.getvalue(),
        }
    return {"status": "ok", "output": out.getvalue() + err.getvalue()}


# --------------------------------------------------------------------------- sqs (Celery)


class BadMessage(ValueError):
    """An SQS message that is not a Celery task message."""


def _b64_or_text(raw: str) -> str:
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return raw


def decode_celery_message(body: str) -> tuple[str, str, list[Any], dict[str, Any], int]:
    """(task name, task id, args, kwargs, retries) from a kombu SQS message body.

    kombu's SQS transport sends the message envelope as JSON (base64-encoded by
    default); the envelope's own `body` is the Celery protocol-2 payload
    `[args, kwargs, embed]`, base64-encoded as `properties.body_encoding` says.
    """
    try:
        envelope = json.loads(_b64_or_text(body))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadMessage("the message body is not a kombu envelope") from exc
    if not isinstance(envelope, dict):
        raise BadMessage("the message body is not a kombu envelope")
    headers = envelope.get("headers") or {}
    name = headers.get("task")
    if not isinstance(name, str) or not name:
        raise BadMessage("the message carries no task name (Celery protocol 1 is not supported)")
    payload = envelope.get("body", "")
    if (envelope.get("properties") or {}).get("body_encoding") == "base64":
        payload = base64.b64decode(payload).decode(envelope.get("content-encoding") or "utf-8")
    if envelope.get("content-type") != "application/json":
        raise BadMessage(f"unsupported content type {envelope.get('content-type')!r}")
    decoded = json.loads(payload)
    if not (isinstance(decoded, list) and len(decoded) >= 2):
        raise BadMessage("the task payload is not [args, kwargs, embed]")
    args, kwargs = decoded[0], decoded[1]
    return (
        name,
        str(headers.get("id") or ""),
        list(args),
        dict(kwargs),
        int(headers.get("retries") or 0),
    )


def receive_count(record: Mapping[str, Any]) -> int:
    """How many times SQS has delivered this message (`ApproximateReceiveCount`, 1 = first)."""
    raw = (record.get("attributes") or {}).get("ApproximateReceiveCount")
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


def run_sqs(event: Mapping[str, Any]) -> dict[str, Any]:
    """Run the Celery tasks in an SQS batch; report the messages that failed.

    Tasks claim their work with conditional writes, so a message SQS delivers twice
    finds the work claimed or done and returns without repeating it. Retries count
    SQS's receive count (core/task_base.py): a task that asks for a retry, or fails,
    fails its message, and SQS delivers it again after the visibility timeout; on the
    last receive (AUTOML_TASK_MAX_RECEIVES, the queue's maxReceiveCount) the task's
    final-failure hook marks its dataset or job failed, and the message still fails,
    so SQS moves it to the dead-letter queue.
    """
    from automl_lite.celery import app
    from core.task_base import run_final_failure, sqs_delivery, underlying_error

    failures = []
    for record in event["Records"]:
        message_id = record.get("messageId", "")
        try:
            name, task_id, args, kwargs, _header_retries = decode_celery_message(
                record.get("body", "")
            )
        except (BadMessage, ValueError, TypeError):
            # Undecodable messages can never succeed: log and drop them, do not loop.
            logger.exception("Dropping SQS message %s: not a Celery task", message_id)
            continue
        task = app.tasks.get(name)
        if task is None:
            logger.error("SQS message %s names unknown task %s", message_id, name)
            failures.append({"itemIdentifier": message_id})
            continue
        received = receive_count(record)
        with sqs_delivery(received) as delivery:
            try:
                result = task.apply(
                    args=args,
                    kwargs=kwargs,
                    task_id=task_id or None,
                    retries=received - 1,
                    throw=True,
                )
            except Exception as error:  # SQS re-delivers it, then the DLQ keeps it
                cause = underlying_error(error)
                logger.error(
                    "Task %s[%s] from SQS message %s failed on receive %d of %d: %r",
                    name,
                    task_id,
                    message_id,
                    received,
                    delivery.max_receives,
                    cause,
                    exc_info=cause,
                )
                failures.append({"itemIdentifier": message_id})
                if delivery.is_last:
                    run_final_failure(task, args, kwargs, error=cause, attempts=received)
            else:
                logger.info("Task %s[%s] done: %s", name, task_id, result.result)
    return {"batchItemFailures": failures}
