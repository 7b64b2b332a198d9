"""The ECS worker consumes the stack's task queue: the template's own Celery command, run with
the worker task definition's environment against a moto server, takes a task the web app
sent to SQS and runs it.

kombu's SQS transport consumes through its asynchronous HTTP client, which is pycurl
(`kombu.asynchronous.http.curl`); without it the worker cannot start. The web image installs
it (requirements-web.txt), and this test runs the worker the image would.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.aws.celery_sqs import celery_on_sqs
from tests.aws.stack import deploy_stack

REPO = Path(__file__).resolve().parents[2]


def test_the_worker_image_can_consume_sqs_asynchronously():
    pytest.importorskip("pycurl", reason="pycurl is pinned in requirements-web.txt")
    from importlib.metadata import version

    from kombu.asynchronous import Hub
    from kombu.asynchronous.http import Client

    pinned = (REPO / "requirements-web.txt").read_text().splitlines()
    assert f"pycurl=={version('pycurl')}" in pinned
    assert type(Client(Hub())).__name__ == "CurlClient"


def _worker_environment(stack, endpoint_url: str, var_dir: Path) -> dict[str, str]:
    """The worker container's environment (its variables and resolved secrets), pointed at
    the moto server instead of AWS."""
    ecs = stack.client("ecs")
    definition = ecs.describe_task_definition(taskDefinition="automl-lite-worker")
    (found,) = definition["taskDefinition"]["containerDefinitions"]
    environment = {e["name"]: e["value"] for e in found["environment"]}
    secrets = stack.client("secretsmanager")
    for secret in found["secrets"]:
        environment[secret["name"]] = secrets.get_secret_value(SecretId=secret["valueFrom"])[
            "SecretString"
        ]
    parts = urlsplit(endpoint_url)
    return {
        **environment,
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint_url,
        # kombu takes a non-AWS SQS endpoint from the broker URL's host and port.
        "CELERY_BROKER_URL": f"sqs://@{parts.hostname}:{parts.port}",
        "AUTOML_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "automl_lite.settings",
    }


def test_the_ecs_worker_runs_a_task_the_web_app_sent_to_the_stacks_queue(moto_server, tmp_path):
    stack = deploy_stack(endpoint_url=moto_server, WebRuntime="ecs")
    queue_url = stack.outputs["TaskQueueUrl"]
    sqs = stack.client("sqs")
    definition = stack.client("ecs").describe_task_definition(taskDefinition="automl-lite-worker")
    (found,) = definition["taskDefinition"]["containerDefinitions"]
    command = found["command"]
    assert command[:4] == ["celery", "-A", "automl_lite", "worker"]
    with celery_on_sqs(queue_url, endpoint_url=moto_server) as app:
        sent = app.send_task("jobs.tasks.reconcile_jobs")
    waiting = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert waiting["ApproximateNumberOfMessages"] == "1"

    worker = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=REPO,
        env=_worker_environment(stack, moto_server, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout), daemon=True)
    reader.start()
    done = f"Task jobs.tasks.reconcile_jobs[{sent.id}] succeeded"
    try:
        deadline = time.monotonic() + 120  # a bound for a shared machine, not a measurement
        while time.monotonic() < deadline and worker.poll() is None:
            if any(done in line for line in list(lines)):
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        reader.join(timeout=10)

    output = "".join(lines)
    assert done in output, output[-4000:]
    assert "checked 0 live jobs" in output
    left = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert left == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
