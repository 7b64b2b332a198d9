"""The stack we ship runs the whole flow: `deploy/automl-lite.yaml` created in moto, Django
configured from exactly its functions' environment, every AWS call on the stack's resources.

First deployment as deploy/README.md says (create_stack without images → push both images
to the stack's repositories → update with their tag), then, on a moto server on 127.0.0.1:

upload by presigned POST (a real HTTP request) → confirm (web) → the analysis task travels
through the stack's SQS queue to the worker function → train from the configure form →
BatchRunner submits to the stack's queue and job definition → the Batch emulator runs the
container with the environment `describe_jobs` returns (the job definition's deployment
facts merged with the per-job overrides) → completed record in the stack's jobs table →
results page and `/api/jobs/{id}` with links into the stack's buckets → deploy → predict one
row → score a 20 MB file through S3 (a prediction batch scored by the worker) → delete.
A renamed output, variable, table, bucket or queue in the template breaks a
step here.
"""

from __future__ import annotations

import html
import io
import pickle
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pandas as pd
import pytest
import requests
from django.test import Client

from automl_lite import wiring
from automl_lite.lambda_handler import handler
from jobs import links
from jobs.runners.batch import job_overrides
from tests.aws.batch_emulator import BatchEmulator
from tests.aws.celery_sqs import celery_on_sqs, sqs_event
from tests.aws.conftest import FAKE_CREDENTIALS, REGION
from tests.aws.django_env import django_configured_from
from tests.aws.stack import DATABASE_URL, Stack, deploy_stack
from tests.jobs.models import PENGUINS_CSV
from training_image import contract
from training_image.contract import DatasetStatus, JobStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

STACK = "automl-e2e"
SPECIES = {"Adelie", "Chinstrap", "Gentoo"}
# The product's floor for a search budget is 30 s; the test trains for a few seconds. This
# is a product setting, not a deployment fact: everything AWS comes from the stack.
TEST_ONLY = {"AUTOML_MIN_TIME_BUDGET": "3"}


@pytest.fixture
def stack(moto_server) -> Stack:
    """The first deployment of the template, as deploy/README.md does it: create_stack
    without images, push both images to the stack's repositories, update with their tag."""
    deployed = deploy_stack(endpoint_url=moto_server, name=STACK, two_phase=True)
    cfn = deployed.client("cloudformation")
    (described,) = cfn.describe_stacks(StackName=STACK)["Stacks"]
    assert described["StackStatus"] == "UPDATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]} == deployed.outputs
    # The stack maps the task queue to the worker function. moto would invoke the function
    # itself (in Docker) on every message; the test plays the mapping instead
    # (`_deliver_tasks`: the worker function's handler, in the worker's environment).
    lam = deployed.client("lambda")
    worker = deployed.outputs["WorkerFunctionName"]
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    (mapping,) = [m for m in mappings if m["FunctionArn"].endswith(f":function:{worker}")]
    assert mapping["EventSourceArn"].endswith(":automl-lite-tasks")
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    return deployed


@pytest.fixture
def deployment(settings, stack) -> Iterator[dict[str, Any]]:
    """The two functions' environments, and Celery pointed at the stack's task queue."""
    web = stack.web_environment
    worker = stack.worker_environment
    # Deployment facts the template must hand both functions.
    for name in ("AUTOML_DATASETS_TABLE", "AUTOML_JOBS_TABLE", "AUTOML_SQS_QUEUE_URL"):
        assert web[name] == worker[name], name
    # Secrets travel as ARNs; the values are only in Secrets Manager.
    assert "DJANGO_SECRET_KEY" not in web and "DATABASE_URL" not in web
    assert DATABASE_URL not in web.values()
    # Where the process runs (what the Lambda runtime and its role provide), not the stack.
    process = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": stack.endpoint_url, **TEST_ONLY}

    @contextmanager
    def function(environment: dict[str, str]) -> Iterator[dict[str, Any]]:
        with django_configured_from(settings, {**environment, **process}) as values:
            yield values

    with function(web) as values:
        assert values["AUTOML_JOBS_TABLE"] == stack.outputs["JobsTableName"]
        assert (
            values["STORAGES"]["models"]["OPTIONS"]["bucket_name"]
            == (stack.outputs["ModelsBucketName"])
        )
        assert len(values["SECRET_KEY"]) == 64  # read from the stack's generated secret
        with celery_on_sqs(web["AUTOML_SQS_QUEUE_URL"], stack.endpoint_url):
            yield {"stack": stack, "web": web, "worker": worker, "function": function}


def _web_client(user: Any, web: dict[str, str]) -> Client:
    """A browser on the API's own host over HTTPS (DJANGO_ALLOWED_HOSTS from the stack)."""
    host = web["DJANGO_ALLOWED_HOSTS"].split(",")[0]
    assert host.endswith(f".execute-api.{REGION}.amazonaws.com")
    client = Client(HTTP_HOST=host, **{"wsgi.url_scheme": "https"})
    client.force_login(user)
    return client


def _upload(user: Any, content: bytes) -> Any:
    from django.test import RequestFactory

    from datasets import services as datasets

    dataset = datasets.dataset_create_upload(owner_id=str(user.pk), filename="penguins.csv")
    target = datasets.upload_target(dataset=dataset, request=RequestFactory().get("/"), form=True)
    assert target.method == "POST"
    response = requests.post(
        target.url,
        data=target.fields,
        files={"file": ("penguins.csv", content, "text/csv")},
        timeout=60,
    )
    assert response.status_code == 204, response.text
    return dataset


def _deliver_tasks(stack: Stack) -> int:
    """What the event source mapping does: hand the queue's messages to the worker function."""
    sqs = stack.client("sqs", **_keys())
    url = stack.outputs["TaskQueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    delivered = 0
    for _ in range(10):
        messages = sqs.receive_message(QueueUrl=url, AttributeNames=["All"]).get("Messages", [])
        if not messages:
            break
        assert handler(sqs_event(messages, arn), None) == {"batchItemFailures": []}
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        delivered += len(messages)
    return delivered


def _rows_of_at_least(content: bytes, size: int) -> bytes:
    """The CSV's rows repeated (header once) until the file holds at least `size` bytes."""
    header, _, rows = content.partition(b"\n")
    rows = rows if rows.endswith(b"\n") else rows + b"\n"
    copies = size // len(rows) + 1
    return header + b"\n" + rows * copies


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def test_the_shipped_stack_runs_the_whole_flow(deployment, alice):
    stack, web, function = deployment["stack"], deployment["web"], deployment["function"]
    browser = _web_client(alice, web)
    content = PENGUINS_CSV.read_bytes()

    # Upload straight into the stack's datasets bucket, then confirm on the web function.
    dataset = _upload(alice, content)
    assert dataset.storage_key.startswith("datasets/")
    head = stack.client("s3").head_object(
        Bucket=stack.outputs["DatasetsBucketName"], Key=dataset.storage_key
    )
    assert head["ContentLength"] == len(content)
    confirmed = browser.post(f"/datasets/{dataset.dataset_id}/confirm/")
    assert confirmed.status_code == 302, confirmed.content[:500]

    # The analysis runs on the worker function, from the stack's queue.
    with function(deployment["worker"]):
        assert _deliver_tasks(stack) == 1
    dataset = wiring.dataset_repository().get(dataset.dataset_id)
    assert dataset.status == DatasetStatus.READY, dataset.error_message
    assert dataset.row_count == 344
    item = stack.client("dynamodb").get_item(
        TableName=stack.outputs["DatasetsTableName"],
        Key={"dataset_id": {"S": dataset.dataset_id}},
    )["Item"]
    assert item["status"]["S"] == "ready"

    # Train from the configure form: submitted to the stack's job queue and definition.
    created = browser.post(
        "/jobs/create/",
        {
            "dataset_id": dataset.dataset_id,
            "target_column": "species",
            "time_budget": 4,
            "excluded_columns": ["year"],
        },
    )
    assert created.status_code == 302, created.content[:2000]
    job_id = created["Location"].rstrip("/").rsplit("/", 1)[-1]
    job = wiring.job_repository().get(job_id)
    assert job.status == JobStatus.QUEUED, job.error_message
    batch = stack.client("batch")
    (detail,) = batch.describe_jobs(jobs=[job.runner_job_id])["jobs"]
    assert detail["jobQueue"] == stack.outputs["TrainingJobQueueArn"]
    assert stack.outputs["TrainingJobDefinitionName"] in detail["jobDefinition"]
    environment = {e["name"]: e["value"] for e in detail["container"]["environment"]}
    assert environment[contract.ENV_MODELS_LOCATION] == stack.outputs["ModelsBucketName"]
    assert environment[contract.ENV_JOB_STORE_LOCATION] == stack.outputs["JobsTableName"]

    # Batch's part: the container runs with what describe_jobs says it gets.
    run = BatchEmulator(batch, endpoint_url=stack.endpoint_url).run(job.runner_job_id)
    assert run.returncode == 0, run.stderr[-3000:]
    job = wiring.job_repository().get(job_id)
    assert job.status == JobStatus.COMPLETED, (job.error_type, job.error_message)
    assert job.metrics["accuracy"] > 0.8
    dropped = {d["column"] for d in job.preprocessing["dropped_columns"]}
    assert "year" in dropped  # read from the record, not from the overrides

    # The results page and the API, with links into the stack's buckets.
    page = browser.get(f"/jobs/{job_id}/")
    assert page.status_code == 200
    assert "Accuracy" in page.content.decode()
    body = browser.get(f"/api/jobs/{job_id}").json()
    assert body["status"] == "completed"
    models = stack.outputs["ModelsBucketName"]
    assert body["model_download_url"].startswith(f"{stack.endpoint_url}/{models}/jobs/{job_id}/")
    # Within a links window a revalidation answers 304 (the signed links are cached).
    with mock.patch.object(links, "clock", autospec=True, return_value=time.time()):
        first = browser.get(f"/api/jobs/{job_id}")
        again = browser.get(f"/api/jobs/{job_id}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert (again.status_code, again["ETag"]) == (304, first["ETag"])
    model = pickle.loads(
        requests.get(body["model_download_url"], timeout=60).content
    )  # our own model, from our bucket
    rows = pd.read_csv(io.BytesIO(content)).head(40)
    predicted = list(model.predict(rows.drop(columns=["species"])))
    assert set(predicted) <= SPECIES
    hrefs = [html.unescape(u) for u in re.findall(r'href="([^"]+)"', page.content.decode())]
    report = next(u for u in hrefs if u.endswith("/reports/training_report.html"))
    redirected = browser.get(report)
    assert redirected["Location"].startswith(
        f"{stack.endpoint_url}/{stack.outputs['ReportsBucketName']}/"
    )

    # Deploy and predict one row on the web function (the ONNX model from the models bucket).
    deployed = browser.post(
        f"/api/jobs/{job_id}/deploy", {"deploy": True}, content_type="application/json"
    )
    assert deployed.status_code == 200, deployed.content
    row = rows.drop(columns=["species", "year"]).iloc[0].to_dict()
    features = {k: (None if pd.isna(v) else v) for k, v in row.items()}
    predicted = browser.post(
        f"/api/predict/{job_id}", {"features": features}, content_type="application/json"
    )
    assert predicted.status_code == 200, predicted.content
    assert predicted.json()["prediction"] == rows["species"].iloc[0]

    # Score a 20 MB file: straight into the datasets bucket, scored by the worker from the
    # task queue, fetched by a presigned GET. The web's own answers stay small (Lambda and
    # API Gateway cap a body at about 6 MB).
    big = _rows_of_at_least(content, 20 * 1024**2)
    rows_in_big = big.count(b"\n") - 1
    answers = [
        browser.post(
            f"/api/jobs/{job_id}/batches",
            {"filename": "big.csv", "size": len(big)},
            content_type="application/json",
        )
    ]
    created = answers[0].json()
    assert created["upload"]["method"] == "POST"
    posted = requests.post(
        created["upload"]["url"],
        data=created["upload"]["fields"],
        files={"file": ("big.csv", big, "text/csv")},
        timeout=120,
    )
    assert posted.status_code == 204, posted.text
    answers.append(browser.post(created["confirm_url"]))
    with function(deployment["worker"]):
        assert _deliver_tasks(stack) == 1
    answers.append(browser.get(f"/api/jobs/{job_id}/batches/{created['batch_id']}"))
    assert [a.status_code for a in answers] == [201, 202, 200], answers[-1].content[:500]
    assert max(len(a.content) for a in answers) < 10_000
    shown = answers[-1].json()
    assert shown["status"] == "completed" and shown["rows_total"] == rows_in_big
    scored = requests.get(shown["download_url"], timeout=120)
    assert scored.status_code == 200
    assert "attachment" in scored.headers["Content-Disposition"]
    assert scored.content.count(b"\n") == rows_in_big + 1
    assert urlsplit(shown["download_url"]).path.startswith(
        f"/{stack.outputs['ReportsBucketName']}/"
    )

    # Delete: the job's files leave the stack's buckets and its record the jobs table.
    deleted = browser.delete(f"/api/jobs/{job_id}?delete_data=true")
    assert deleted.status_code == 200, deleted.content
    assert wiring.job_repository().get(job_id) is None
    left = stack.client("s3").list_objects_v2(Bucket=models, Prefix=f"jobs/{job_id}/")
    assert left.get("KeyCount", 0) == 0
    for bucket in ("DatasetsBucketName", "ReportsBucketName"):
        batches = stack.client("s3").list_objects_v2(
            Bucket=stack.outputs[bucket], Prefix=f"batches/{job_id}/"
        )
        assert batches.get("KeyCount", 0) == 0, bucket
    assert wiring.dataset_repository().get(dataset.dataset_id) is None


def test_a_submit_overrides_only_per_job_values(deployment, alice):
    """Batch's containerOverrides carry per-job values; the job definition the rest."""
    stack = deployment["stack"]
    definition = stack.client("batch").describe_job_definitions(
        jobDefinitionName=stack.outputs["TrainingJobDefinitionName"], status="ACTIVE"
    )["jobDefinitions"][0]
    in_definition = {e["name"] for e in definition["containerProperties"]["environment"]}
    assert set(contract.DEPLOYMENT_ENV) <= in_definition
    env = contract.container_env(
        contract.Job(job_id="j", owner_id="1", dataset_id="d", target_column="t"),
        dataset_key="datasets/d/x.csv",
        backend=wiring.container_backend(),
    )
    assert not set(job_overrides(env)) & set(contract.DEPLOYMENT_ENV)
