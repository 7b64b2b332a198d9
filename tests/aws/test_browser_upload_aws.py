"""The upload page in AWS mode: the file goes from the browser straight to S3.

upload.js asks `POST /datasets/upload/start/` for a new dataset and a presigned POST,
posts the file to S3 (here: a real HTTP POST to a moto server on 127.0.0.1, as the
browser would), then POSTs the dataset's confirm URL, which re-checks the object with
HEAD and queues the analysis (eager here).
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from django.urls import reverse

from automl_lite import wiring
from tests.aws.aws_mode import aws_mode
from tests.jobs.models import PENGUINS_CSV
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db
START = reverse("datasets:upload-start")
LIMIT = 1024**2


@pytest.fixture
def aws(settings, moto_server):
    with aws_mode(
        settings, endpoint_url=moto_server, parameters={"MaxUploadBytes": str(LIMIT)}
    ) as mode:
        yield mode


def _policy(fields: dict) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def test_it_tells_the_page_to_send_the_file_straight_to_s3(aws, alice_client):
    body = alice_client.get(reverse("datasets:upload")).content.decode()

    assert 'data-upload-method="presigned-post"' in body
    assert f'data-upload-start-url="{START}"' in body


def test_it_uploads_through_the_presigned_post_and_confirms(aws, alice_client, alice):
    content = PENGUINS_CSV.read_bytes()

    started = alice_client.post(START, {"filename": "penguins.csv", "size": len(content)})
    plan = started.json()
    upload = plan["upload"]
    posted = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("penguins.csv", content, "text/csv")},
        timeout=60,
    )
    confirmed = alice_client.post(plan["confirm_url"])

    assert started.status_code == 200, plan
    assert upload["method"] == "POST"
    assert upload["url"].startswith(wiring.boto3_client("s3").meta.endpoint_url)
    key = f"datasets/{plan['dataset_id']}/penguins.csv"
    conditions = _policy(upload["fields"])["conditions"]
    assert ["content-length-range", 1, LIMIT] in conditions
    assert {"Content-Type": "text/csv"} in conditions
    assert {"key": key} in conditions and upload["fields"]["key"] == key
    assert posted.status_code == 204, posted.text
    assert confirmed.status_code == 302
    assert confirmed["Location"] == plan["detail_url"]
    dataset = wiring.dataset_repository().get(plan["dataset_id"])
    assert dataset.owner_id == str(alice.pk)
    assert dataset.status == DatasetStatus.READY, dataset.error_message
    assert (dataset.row_count, dataset.file_size) == (344, len(content))
    stored = aws.s3.get_object(Bucket=aws.bucket("datasets"), Key=key)
    assert stored["ContentType"] == "text/csv"
    assert stored["Body"].read() == content


def test_it_says_when_confirm_finds_no_file_in_the_bucket(aws, alice_client):
    plan = alice_client.post(START, {"filename": "penguins.csv", "size": 100}).json()

    confirmed = alice_client.post(plan["confirm_url"], follow=True)

    assert f"No files found for dataset {plan['dataset_id']}" in confirmed.content.decode()
    dataset = wiring.dataset_repository().get(plan["dataset_id"])
    assert dataset.status == DatasetStatus.UPLOADING  # the upload can still be sent
