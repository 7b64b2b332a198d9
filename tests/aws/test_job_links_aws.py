"""Job links in AWS mode: presigned S3 GETs that stay identical within a window, so a job's
ETag repeats (304) until the window turns, and then both change together."""

from __future__ import annotations

import datetime as dt
import time
from contextlib import contextmanager
from unittest import mock

import pytest
import requests

from automl_lite import wiring
from jobs import links
from tests.aws.aws_mode import aws_mode
from tests.conftest import make_job
from training_image.contract import (
    EDA_REPORT,
    MODEL_ONNX,
    MODEL_PKL,
    JobStatus,
    artifact_key,
)

pytestmark = pytest.mark.django_db
TTL = 3600
WINDOW = TTL // 2
# Ten seconds into the current window (the clock is pinned there, so no read straddles two).
IN_A_WINDOW = time.time() // WINDOW * WINDOW + 10.0
MODEL_BYTES = b"not really a pickle, but the bytes the link must return"


@pytest.fixture(autouse=True)
def aws(settings, moto_batch):
    # Autouse, so AWS mode (and the stack's SECRET_KEY) is in place before any client logs in.
    with aws_mode(settings, AUTOML_PRESIGNED_TTL=str(TTL)) as mode:
        yield mode


@pytest.fixture
def completed_job(aws, alice):
    job = make_job(owner_id=str(alice.pk), status=JobStatus.COMPLETED, dataset_name="penguins.csv")
    job.artifacts = {n: artifact_key(job.job_id, n) for n in (MODEL_PKL, MODEL_ONNX, EDA_REPORT)}
    job.metrics = {"accuracy": 0.97}
    aws.s3.put_object(Bucket=aws.bucket("models"), Key=job.artifacts[MODEL_PKL], Body=MODEL_BYTES)
    return wiring.job_repository().add(job)


@contextmanager
def _at(moment: float):
    """Pin the clock of the links' windows and of botocore's signatures to `moment`."""
    signing_time = dt.datetime.fromtimestamp(moment, dt.UTC).replace(tzinfo=None)
    with (
        mock.patch.object(links, "clock", autospec=True, return_value=moment),
        mock.patch("botocore.auth.get_current_datetime", return_value=signing_time),
    ):
        yield


def test_it_answers_304_to_a_revalidation_within_the_window(alice_client, completed_job):
    with _at(IN_A_WINDOW):
        first = alice_client.get(f"/api/jobs/{completed_job.job_id}")
    with _at(IN_A_WINDOW + 60):
        again = alice_client.get(
            f"/api/jobs/{completed_job.job_id}", HTTP_IF_NONE_MATCH=first["ETag"]
        )
        body = alice_client.get(f"/api/jobs/{completed_job.job_id}").json()

    assert first.status_code == 200
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert body["model_download_url"] == first.json()["model_download_url"]
    assert "X-Amz-Signature=" in body["model_download_url"]
    assert f"/jobs/{completed_job.job_id}/model.pkl?" in body["model_download_url"]


def test_it_hands_out_a_cached_link_that_still_downloads_the_file(alice_client, completed_job):
    with _at(IN_A_WINDOW):
        url = alice_client.get(f"/api/jobs/{completed_job.job_id}").json()["model_download_url"]
    with _at(IN_A_WINDOW + WINDOW - 11):  # the window's last second
        again = alice_client.get(f"/api/jobs/{completed_job.job_id}").json()["model_download_url"]

    download = requests.get(again, timeout=30)

    assert again == url
    assert download.status_code == 200
    assert download.content == MODEL_BYTES


def test_it_changes_the_links_and_the_etag_when_the_window_turns(alice_client, completed_job):
    with _at(IN_A_WINDOW):
        first = alice_client.get(f"/api/jobs/{completed_job.job_id}")
    with _at(IN_A_WINDOW + WINDOW):
        later = alice_client.get(
            f"/api/jobs/{completed_job.job_id}", HTTP_IF_NONE_MATCH=first["ETag"]
        )

    assert later.status_code == 200
    assert later["ETag"] != first["ETag"]
    old, new = first.json(), later.json()
    for field in ("model_download_url", "onnx_model_download_url", "eda_report_download_url"):
        assert new[field] != old[field]
    # Both expire a full TTL after their window started (signed 10 s into it).
    assert "X-Amz-Expires=3590" in old["model_download_url"]
    assert "X-Amz-Expires=3590" in new["model_download_url"]


def test_it_signs_each_artifact_and_disposition_separately(alice_client, completed_job):
    with _at(IN_A_WINDOW):
        body = alice_client.get(f"/api/jobs/{completed_job.job_id}").json()

    urls = [body[f] for f in ("model_download_url", "onnx_model_download_url")]
    assert len(set(urls)) == 2
    assert "attachment" in requests.utils.unquote(body["model_download_url"])
    assert "inline" in requests.utils.unquote(body["eda_report_download_url"])
    assert body["training_report_download_url"] is None  # no such artifact on this job


@pytest.mark.redis
def test_web_processes_sharing_a_cache_hand_out_the_same_links(
    settings, alice_client, completed_job
):
    """With CACHE_URL on Redis the signed links live in Redis, where every process reads them."""
    import redis
    from django.core.cache import cache

    from tests.conftest import require_service

    require_service("Redis", "127.0.0.1", 6379)
    prefix = f"links-{completed_job.job_id}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/13",
            "KEY_PREFIX": prefix,
        }
    }
    try:
        with _at(IN_A_WINDOW):
            first = alice_client.get(f"/api/jobs/{completed_job.job_id}")
        stored = redis.Redis(db=13).keys(f"{prefix}:*")
        with _at(IN_A_WINDOW + 60):  # a different signing time: only the cache can match
            again = alice_client.get(
                f"/api/jobs/{completed_job.job_id}", HTTP_IF_NONE_MATCH=first["ETag"]
            )
    finally:
        cache.clear()
    assert first.status_code == 200
    assert len(stored) >= 2  # model.pkl and model.onnx links, at least
    assert again.status_code == 304
