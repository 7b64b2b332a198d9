"""AWS mode end to end, every AWS API served by a moto server on 127.0.0.1.

upload (a real HTTP POST to the presigned S3 form) -> confirm (HEAD re-check) -> the
analysis task travels through SQS to the Lambda handler -> train from the configure
form -> BatchRunner.submit_job -> the Batch emulator reads the job back with
describe_jobs and runs `python -m training_image` with exactly that environment ->
the record reaches `completed` in DynamoDB -> the results page and `/api/jobs/{id}`
show metrics, and their presigned S3 URLs download the real artifacts.
"""

from __future__ import annotations

import html
import io
import pickle
import re
import time
from pathlib import Path
from unittest import mock

import boto3
import pandas as pd
import pytest
import requests
from django.test import RequestFactory

from automl_lite import wiring
from automl_lite.lambda_handler import handler
from jobs import links
from tests.aws.aws_mode import aws_mode
from tests.aws.aws_resources import create_batch
from tests.aws.batch_emulator import BatchEmulator
from tests.aws.celery_sqs import celery_on_sqs, sqs_event
from tests.aws.conftest import REGION
from tests.jobs.models import PENGUINS_CSV
from training_image.contract import DatasetStatus, JobStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "automl-e2e"
SPECIES = {"Adelie", "Chinstrap", "Gentoo"}


@pytest.fixture
def aws(settings, moto_server):
    """Django switched to AWS mode against the moto server; Django's own tables stay local."""
    settings.AUTOML_BACKEND = "aws"
    settings.AUTOML_MIN_TIME_BUDGET = 1
    with aws_mode(
        settings,
        prefix=PREFIX,
        endpoint_url=moto_server,
        bucket_per_alias=True,
        querystring_expire=settings.AUTOML_PRESIGNED_TTL,
    ) as s3:
        batch_setup = create_batch(
            wiring.container_backend(), endpoint_url=moto_server, name=PREFIX
        )
        settings.AUTOML_BATCH_JOB_QUEUE = batch_setup.job_queue
        settings.AUTOML_BATCH_JOB_DEFINITION = batch_setup.job_definition
        wiring.reset()
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_server)
        queue_url = sqs.create_queue(QueueName=f"{PREFIX}-tasks")["QueueUrl"]
        with celery_on_sqs(queue_url, moto_server):
            yield {
                "endpoint": moto_server,
                "sqs": sqs,
                "queue_url": queue_url,
                "batch": boto3.client("batch", region_name=REGION, endpoint_url=moto_server),
                "s3": s3,
            }


def _upload_through_the_presigned_post(alice, content: bytes):
    from datasets import services as datasets

    dataset = datasets.dataset_create_upload(owner_id=str(alice.pk), filename="penguins.csv")
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


def _analyze_through_sqs_delivered_twice(aws) -> None:
    """SQS delivers at least once: the Lambda handler gets the same message twice."""
    sqs, url = aws["sqs"], aws["queue_url"]
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    event = sqs_event([message], "arn:aws:sqs:us-east-1:123456789012:automl-e2e-tasks")
    assert handler(event, None) == {"batchItemFailures": []}
    first = wiring.dataset_repository().list_recent(limit=1).items[0]
    assert handler(event, None) == {"batchItemFailures": []}
    second = wiring.dataset_repository().get(first.dataset_id)
    assert second.updated_at == first.updated_at  # the repeat found it done: no second analysis
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_it_runs_the_whole_flow_against_aws_apis(aws, alice, alice_client, settings):
    if not (ROOT / "training_image" / "__main__.py").exists():
        pytest.skip("the training container entrypoint is not there yet")
    content = PENGUINS_CSV.read_bytes()

    # Upload straight to S3, then confirm: the HEAD check passes and the analysis is queued.
    dataset = _upload_through_the_presigned_post(alice, content)
    confirmed = alice_client.post(f"/datasets/{dataset.dataset_id}/confirm/")
    assert confirmed.status_code == 302
    assert wiring.dataset_repository().get(dataset.dataset_id).status == DatasetStatus.ANALYZING

    _analyze_through_sqs_delivered_twice(aws)
    dataset = wiring.dataset_repository().get(dataset.dataset_id)
    assert dataset.status == DatasetStatus.READY, dataset.error_message
    assert dataset.row_count == 344
    assert "species" in dataset.columns

    # Train from the configure form: the job is handed to Batch.
    created = alice_client.post(
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
    assert job.runner_job_id

    # Batch's part: run the container with exactly the environment Batch would give it.
    run = BatchEmulator(aws["batch"], endpoint_url=aws["endpoint"]).run(job.runner_job_id)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.environment["AWS_BATCH_JOB_ID"] == job.runner_job_id

    job = wiring.job_repository().get(job_id)
    assert job.status == JobStatus.COMPLETED, (job.error_type, job.error_message)
    assert job.metrics["accuracy"] > 0.8
    assert {"model.pkl", "model.onnx", "eda_report.html", "training_report.html"} <= set(
        job.artifacts
    )

    # The API: metrics and presigned S3 links that download the real artifacts.
    body = alice_client.get(f"/api/jobs/{job_id}").json()
    assert body["status"] == "completed"
    assert body["metrics"]["accuracy"] == pytest.approx(job.metrics["accuracy"])
    model_url = body["model_download_url"]
    assert model_url.startswith(f"{aws['endpoint']}/{PREFIX}-models/jobs/{job_id}/model.pkl?")
    assert "X-Amz-Signature=" in model_url
    download = requests.get(model_url, timeout=60)
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    model = pickle.loads(download.content)  # our own model, from our bucket
    rows = pd.read_csv(io.BytesIO(content)).head(40)
    predicted = list(model.predict(rows.drop(columns=["species"])))
    assert set(predicted) <= SPECIES
    assert sum(p == t for p, t in zip(predicted, rows["species"], strict=True)) >= 32

    onnx = requests.get(body["onnx_model_download_url"], timeout=60)
    assert onnx.status_code == 200 and len(onnx.content) > 1000
    expires = int(re.search(r"X-Amz-Expires=(\d+)", model_url).group(1))
    assert expires >= settings.AUTOML_PRESIGNED_TTL // 2  # valid for at least half the TTL

    # Within a links window a revalidation answers 304: the signed links are cached, so the
    # body and its ETag repeat although a fresh signature would carry a later X-Amz-Date.
    # (The clock of the windows is pinned; test_job_links_aws covers the window turning.)
    with mock.patch.object(links, "clock", autospec=True, return_value=time.time()):
        first = alice_client.get(f"/api/jobs/{job_id}")
        time.sleep(1.1)
        again = alice_client.get(f"/api/jobs/{job_id}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert requests.get(first.json()["model_download_url"], timeout=60).status_code == 200

    # The results page shows the metrics; its download and report links lead to S3.
    page = alice_client.get(f"/jobs/{job_id}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Accuracy" in text
    hrefs = [html.unescape(u) for u in re.findall(r'href="([^"]+)"', text)]
    report_link = next(u for u in hrefs if u.endswith("/reports/training_report.html"))
    model_link = next(u for u in hrefs if u.endswith("/artifacts/model.pkl"))
    redirected = alice_client.get(report_link)
    assert redirected.status_code == 302
    assert redirected["Location"].startswith(f"{aws['endpoint']}/{PREFIX}-reports/")
    report = requests.get(redirected["Location"], timeout=60)
    assert report.status_code == 200
    assert report.headers["Content-Type"].startswith("text/html")
    assert b"<html" in report.content[:2000].lower()
    model_file = requests.get(alice_client.get(model_link)["Location"], timeout=60)
    assert model_file.content == download.content
