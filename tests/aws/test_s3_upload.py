"""Browser upload straight to S3: the presigned POST policy, the legacy PUT, the confirm checks.

moto accepts presigned POSTs but does not enforce their policy, so the policy's
conditions are asserted as signed (what S3 enforces), and the confirm-time HEAD check —
which bounds size and type whatever the upload path — is exercised on real objects.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.stub import Stubber

from core.exceptions import InvalidInput, NotFound, PayloadTooLarge, ServiceUnavailable
from datasets.s3_upload import check_upload, presigned_post, presigned_put
from tests.aws.conftest import REGION
from tests.aws.http_answers import server_error

BUCKET = "automl-test-datasets"
KEY = "datasets/5f0c/penguins.csv"
CSV = b"species,island,bill_length_mm\nAdelie,Torgersen,39.1\nGentoo,Biscoe,46.1\n"


def s3_client(endpoint_url: str | None = None):
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint_url,
        config=Config(signature_version="s3v4"),
    )


@pytest.fixture
def s3(moto_batch):
    client = s3_client()
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def served_s3(moto_server):
    client = s3_client(moto_server)
    client.create_bucket(Bucket=BUCKET)
    return client


def _policy(post) -> dict:
    return json.loads(base64.b64decode(post.fields["policy"]))


def test_it_signs_a_policy_that_bounds_size_fixes_the_key_and_pins_the_type(s3):
    post = presigned_post(s3, bucket=BUCKET, key=KEY, max_bytes=1024**3, expires_in=900)

    conditions = _policy(post)["conditions"]
    assert ["content-length-range", 1, 1024**3] in conditions
    assert {"Content-Type": "text/csv"} in conditions
    assert {"key": KEY} in conditions  # an exact key, not a prefix
    assert {"bucket": BUCKET} in conditions
    assert post.fields["key"] == KEY
    assert post.fields["Content-Type"] == "text/csv"


def test_it_makes_the_post_expire_after_the_given_time(s3):
    before = dt.datetime.now(dt.UTC)

    post = presigned_post(s3, bucket=BUCKET, key=KEY, max_bytes=10, expires_in=900)

    expires = dt.datetime.fromisoformat(_policy(post)["expiration"].replace("Z", "+00:00"))
    assert (
        dt.timedelta(seconds=899)
        <= expires - before.replace(microsecond=0)
        <= dt.timedelta(seconds=901)
    )


def test_it_accepts_a_real_browser_style_post_and_confirms_it(served_s3):
    post = presigned_post(served_s3, bucket=BUCKET, key=KEY, max_bytes=1024, expires_in=900)

    response = requests.post(
        post.url,
        data=post.fields,
        files={"file": ("penguins.csv", CSV, "text/csv")},
        timeout=30,
    )

    assert response.status_code == 204
    uploaded = check_upload(served_s3, bucket=BUCKET, key=KEY, max_bytes=1024)
    assert (uploaded.size, uploaded.content_type) == (len(CSV), "text/csv")
    assert served_s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == CSV


def test_it_gives_the_legacy_client_a_put_url_signed_for_text_csv(served_s3):
    url = presigned_put(served_s3, bucket=BUCKET, key=KEY, expires_in=3600)

    response = requests.put(url, data=CSV, headers={"Content-Type": "text/csv"}, timeout=30)

    assert response.status_code == 200
    assert check_upload(served_s3, bucket=BUCKET, key=KEY, max_bytes=1024).size == len(CSV)


def test_it_rejects_and_deletes_an_upload_over_the_limit_at_confirm(s3):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=CSV * 100, ContentType="text/csv")

    with pytest.raises(PayloadTooLarge) as caught:
        check_upload(s3, bucket=BUCKET, key=KEY, max_bytes=1000)

    assert "the limit is" in caught.value.message
    assert caught.value.extra == {"size_bytes": len(CSV) * 100, "limit_bytes": 1000}
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_it_rejects_and_deletes_an_empty_upload(s3):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"", ContentType="text/csv")

    with pytest.raises(InvalidInput, match="The uploaded file is empty"):
        check_upload(s3, bucket=BUCKET, key=KEY, max_bytes=1000)

    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


@pytest.mark.parametrize("content_type", ["application/pdf", "image/png", "application/zip"])
def test_it_rejects_and_deletes_an_upload_that_is_not_csv(s3, content_type):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"%PDF-1.7", ContentType=content_type)

    with pytest.raises(InvalidInput, match=f"has type '{content_type}', not CSV"):
        check_upload(s3, bucket=BUCKET, key=KEY, max_bytes=1000)

    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


@pytest.mark.parametrize("content_type", ["text/csv; charset=utf-8", "application/vnd.ms-excel"])
def test_it_accepts_the_labels_csv_files_travel_under(s3, content_type):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=CSV, ContentType=content_type)

    assert check_upload(s3, bucket=BUCKET, key=KEY, max_bytes=1000).content_type == content_type


def test_it_says_when_nothing_was_uploaded(s3):
    with pytest.raises(NotFound, match="No uploaded file was found"):
        check_upload(s3, bucket=BUCKET, key=KEY, max_bytes=1000)


def test_it_reports_an_s3_outage_at_confirm_without_deleting_anything(s3):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=CSV, ContentType="text/csv")

    with Stubber(s3) as stub:
        stub.add_client_error("head_object", service_error_code="SlowDown", http_status_code=503)
        with pytest.raises(ServiceUnavailable, match="Nothing was lost; try again"):
            check_upload(s3, bucket=BUCKET, key=KEY, max_bytes=1000)

    assert s3.head_object(Bucket=BUCKET, Key=KEY)["ContentLength"] == len(CSV)


def test_it_retries_an_s3_5xx_before_giving_up(moto_server):
    """botocore retries 5xx answers: one 500 followed by success confirms normally."""
    client = s3_client(moto_server)
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key=KEY, Body=CSV, ContentType="text/csv")
    failures = iter([True])

    def fail_once(request, **_):
        if next(failures, False):
            return server_error(request)
        return None

    client.meta.events.register("before-send.s3.HeadObject", fail_once)

    uploaded = check_upload(client, bucket=BUCKET, key=KEY, max_bytes=1000)

    assert uploaded.size == len(CSV)
