"""Batch scoring in AWS mode: nothing large passes through the web process.

The file goes from the client straight to S3 by presigned POST (a real HTTP request to
a moto server on 127.0.0.1, as a browser or script sends it), the confirm checks it with
HEAD and a ranged GET of its head, the worker (eager Celery here) reads it from S3 and
writes the result to the reports bucket, and the result is fetched by a presigned GET
whose answer is an attachment.
"""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
import requests

from automl_lite import wiring
from jobs import inference, services
from jobs.inference import model_cache
from tests.aws.aws_mode import aws_mode
from tests.jobs.factories import FakeRunner, store_dataset, store_job
from tests.jobs.models import GENTOO, PENGUINS_CSV, store_penguin_model
from training_image.contract import (
    BatchStatus,
    JobStatus,
    batch_output_key,
    batch_validation_key,
)

pytestmark = pytest.mark.django_db
LIMIT = 4 * 1024**2


@pytest.fixture
def aws(settings, moto_server):
    model_cache.clear()
    with aws_mode(settings, endpoint_url=moto_server, AUTOML_MAX_PREDICT_BYTES=str(LIMIT)) as mode:
        yield mode
    model_cache.clear()


@pytest.fixture
def job(aws, alice):
    dataset = store_dataset(alice, content=PENGUINS_CSV.read_bytes(), filename="penguins.csv")
    stored = store_job(alice, dataset, status=JobStatus.COMPLETED)
    return wiring.job_repository().update(
        stored.job_id, artifacts=store_penguin_model(stored.job_id)
    )


def penguin_rows(copies: int) -> bytes:
    frame = pd.read_csv(PENGUINS_CSV, keep_default_na=False, dtype=str)
    frame = pd.concat([frame] * copies, ignore_index=True)
    frame.insert(0, "id", [f"p{i}" for i in range(len(frame))])
    return frame.to_csv(index=False).encode()


def create(client, job, content: bytes, filename: str = "birds.csv"):
    return client.post(
        f"/api/jobs/{job.job_id}/batches",
        {"filename": filename, "size": len(content)},
        content_type="application/json",
    )


def post_to_s3(upload: dict, content: bytes, filename: str = "birds.csv") -> requests.Response:
    return requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": (filename, content, "text/csv")},
        timeout=60,
    )


def test_it_scores_a_file_through_s3_end_to_end(aws, alice_client, job):
    content = penguin_rows(20)  # 6,880 rows, about 0.4 MB
    created = create(alice_client, job, content)
    body = created.json()
    upload = body["upload"]
    posted = post_to_s3(upload, content)
    confirmed = alice_client.post(body["confirm_url"])
    shown = alice_client.get(f"/api/jobs/{job.job_id}/batches/{body['batch_id']}").json()
    downloaded = requests.get(shown["download_url"], timeout=60)

    assert created.status_code == 201
    assert upload["method"] == "POST"
    assert upload["url"].startswith(wiring.boto3_client("s3").meta.endpoint_url)
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    key = f"batches/{job.job_id}/{body['batch_id']}/birds.csv"
    assert ["content-length-range", 1, LIMIT] in policy["conditions"]
    assert {"key": key} in policy["conditions"]
    assert posted.status_code == 204, posted.text
    assert confirmed.status_code == 202, confirmed.content
    assert shown["status"] == "completed", shown["error_message"]
    assert (shown["rows_total"], shown["progress"]) == (6880, 1.0)
    # The result comes straight from the reports bucket as an attachment.
    link = urlparse(shown["download_url"])
    assert link.path == f"/{aws.bucket('reports')}/{batch_output_key(job.job_id, body['batch_id'])}"
    assert parse_qs(link.query)["response-content-disposition"] == [
        f'attachment; filename="birds-{job.job_id[:8]}-predictions.csv"'
    ]
    assert downloaded.status_code == 200
    assert downloaded.headers["Content-Disposition"].startswith("attachment;")
    result = pd.read_csv(io.BytesIO(downloaded.content), keep_default_na=False, dtype=str)
    assert len(result) == 6880 and result["id"].iloc[-1] == "p6879"
    one = inference.predict(job, GENTOO)
    gentoo = result[result["id"] == "p0"]
    first = {c: gentoo[c].iloc[0] for c in GENTOO}
    expected = inference.predict(job, {c: (None if v == "NA" else v) for c, v in first.items()})
    assert gentoo["prediction"].iloc[0] == expected["prediction"]
    # The upload is deleted once the result (which holds its columns) is stored.
    listed = aws.s3.list_objects_v2(Bucket=aws.bucket("datasets"), Prefix="batches/")
    assert listed.get("KeyCount", 0) == 0
    assert set(one["probabilities"]) == {"Adelie", "Chinstrap", "Gentoo"}
    assert {f"probability_{label}" for label in one["probabilities"]} <= set(result.columns)
    # The file held the target (species): the worker validated it and kept the report in the
    # reports bucket beside the result; the API reads it back from there.
    report = shown["validation"]
    assert report["rows"] == 6880 and report["target"] == "species"
    measured = result["species"].isin(["Adelie", "Chinstrap", "Gentoo"])
    assert report["rows_scored"] == int(measured.sum())
    accuracy = (result["prediction"][measured] == result["species"][measured]).mean()
    by_name = {m["name"]: m for m in report["metrics"]}
    assert by_name["accuracy"]["validation"] == pytest.approx(accuracy, abs=1e-6)
    kept = aws.s3.get_object(
        Bucket=aws.bucket("reports"), Key=batch_validation_key(job.job_id, body["batch_id"])
    )
    assert json.loads(kept["Body"].read()) == report
    assert alice_client.get(shown["validation_url"]).json() == report


def test_confirm_refuses_an_object_over_the_limit_and_deletes_it(aws, alice_client, job, settings):
    content = penguin_rows(2)
    body = create(alice_client, job, content).json()
    assert post_to_s3(body["upload"], content).status_code == 204
    settings.AUTOML_MAX_PREDICT_BYTES = 1000

    confirm = alice_client.post(body["confirm_url"])

    assert confirm.status_code == 413
    assert "the limit is" in confirm.json()["detail"]
    key = f"batches/{job.job_id}/{body['batch_id']}/birds.csv"
    listed = aws.s3.list_objects_v2(Bucket=aws.bucket("datasets"), Prefix=key)
    assert listed.get("KeyCount", 0) == 0
    assert wiring.batch_repository().get(body["batch_id"]).status == BatchStatus.FAILED


def test_confirm_reads_only_the_head_to_name_missing_columns(aws, alice_client, job):
    content = b"id,island\n" + b"p1,Biscoe\n" * 200_000  # 2.2 MB, past the 1 MB head
    body = create(alice_client, job, content).json()
    assert post_to_s3(body["upload"], content).status_code == 204
    ranges: list[str] = []
    client = wiring.storage("datasets").connection.meta.client
    client.meta.events.register(
        "before-call.s3.GetObject", lambda params, **_: ranges.append(params.get("headers", {}))
    )

    confirm = alice_client.post(body["confirm_url"])

    assert confirm.status_code == 400
    assert confirm.json()["extra"]["missing_columns"] == [
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
    ]
    assert [h.get("Range") for h in ranges] == [f"bytes=0-{1024**2 - 1}"]


def test_deleting_the_job_deletes_its_batches_in_s3(aws, alice_client, job):
    content = penguin_rows(1)
    body = create(alice_client, job, content).json()
    post_to_s3(body["upload"], content)
    alice_client.post(body["confirm_url"])

    # A completed job needs no runner to be stopped (aws_mode sets up no Batch queue).
    summary = services.job_delete(job=job, runner=FakeRunner())

    assert "prediction batches: 1" in summary.deleted_resources
    assert wiring.batch_repository().get(body["batch_id"]) is None
    for bucket in (aws.bucket("datasets"), aws.bucket("reports")):
        listed = aws.s3.list_objects_v2(Bucket=bucket, Prefix=f"batches/{job.job_id}/")
        assert listed.get("KeyCount", 0) == 0, bucket


@pytest.mark.slow  # scores 412,800 rows
def test_a_20_mb_file_never_passes_through_the_web(aws, alice_client, job, settings):
    settings.AUTOML_MAX_PREDICT_BYTES = 25 * 1024**2
    content = penguin_rows(1200)  # 412,800 rows
    assert len(content) > 20 * 1024**2
    web_s3: list[tuple[str, str | None]] = []
    client = wiring.storage("datasets").connection.meta.client
    client.meta.events.register(
        "before-call.s3",
        lambda model, params, **_: web_s3.append((model.name, params["headers"].get("Range"))),
    )
    answers = []

    created = alice_client.post(
        f"/api/jobs/{job.job_id}/batches",
        {"filename": "big.csv", "size": len(content)},
        content_type="application/json",
    )
    answers.append(created)
    body = created.json()
    posted = post_to_s3(body["upload"], content, "big.csv")
    # Of the web's requests only the confirm reads S3: one HEAD and one ranged GET.
    from jobs.tasks import score_batch

    queued: list[str] = []
    original = score_batch.delay
    score_batch.delay = queued.append  # the worker runs below, outside the web's request
    try:
        answers.append(alice_client.post(body["confirm_url"]))
    finally:
        score_batch.delay = original
    web_calls = list(web_s3)
    score_batch.apply(args=queued)
    answers.append(alice_client.get(f"/api/jobs/{job.job_id}/batches/{body['batch_id']}"))
    shown = answers[-1].json()
    head = requests.head(shown["download_url"], timeout=60)

    assert posted.status_code == 204
    assert [a.status_code for a in answers] == [201, 202, 200]
    assert max(len(a.content) for a in answers) < 10_000  # the web's bodies stay small
    assert web_calls == [("HeadObject", None), ("GetObject", f"bytes=0-{1024**2 - 1}")]
    assert shown["status"] == "completed" and shown["rows_total"] == 412_800
    assert int(head.headers["Content-Length"]) > len(content)
