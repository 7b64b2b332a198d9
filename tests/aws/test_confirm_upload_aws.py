"""Confirming an upload in AWS mode: the HEAD re-check bounds size and type whatever the path
(presigned POST, or the earlier edition's presigned PUT that cannot carry a size policy)."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from django.test import RequestFactory

from automl_lite import wiring
from core.exceptions import InvalidInput, NotFound, PayloadTooLarge
from datasets import services
from tests.aws.conftest import REGION
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db
BUCKET = "automl-confirm-datasets"
CSV = b"species,island,bill_length_mm\nAdelie,Torgersen,39.1\nGentoo,Biscoe,46.1\n"


@pytest.fixture
def aws(settings, moto_batch, alice):
    s3_options = {
        "bucket_name": BUCKET,
        "region_name": REGION,
        "file_overwrite": True,
        "default_acl": None,
        "signature_version": "s3v4",
    }
    settings.IS_AWS = True
    settings.AWS_REGION = REGION
    settings.AWS_ENDPOINT_URL = None
    settings.AUTOML_DATASETS_BUCKET = BUCKET
    settings.AUTOML_DATASETS_TABLE = "automl-confirm-datasets"
    settings.AUTOML_JOBS_TABLE = "automl-confirm-jobs"
    settings.AUTOML_MAX_UPLOAD_BYTES = 1024
    settings.STORAGES = {
        **{
            alias: {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_options}
            for alias in ("default", "datasets", "models", "reports")
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    wiring.reset()
    from django.core.management import call_command

    call_command("create_tables", verbosity=0)
    dataset = services.dataset_create_upload(owner_id=str(alice.pk), filename="penguins.csv")
    yield s3, dataset
    wiring.reset()


def test_it_gives_the_browser_a_presigned_post_bounded_by_the_upload_limit(aws):
    _s3, dataset = aws

    target = services.upload_target(dataset=dataset, request=RequestFactory().get("/"), form=True)

    policy = json.loads(base64.b64decode(target.fields["policy"]))
    assert target.method == "POST"
    assert ["content-length-range", 1, 1024] in policy["conditions"]
    assert {"key": dataset.storage_key} in policy["conditions"]
    assert target.fields["Content-Type"] == "text/csv"


def test_it_keeps_the_earlier_editions_presigned_put(aws):
    _s3, dataset = aws

    target = services.upload_target(dataset=dataset, request=RequestFactory().get("/"))

    assert target.method == "PUT"
    assert target.headers == {"Content-Type": "text/csv"}
    assert f"/{dataset.storage_key}?" in target.url
    assert target.fields == {}


def test_it_refuses_to_confirm_a_file_that_is_not_labelled_csv(aws):
    s3, dataset = aws
    s3.put_object(
        Bucket=BUCKET, Key=dataset.storage_key, Body=b"%PDF-1.7", ContentType="application/pdf"
    )

    with pytest.raises(InvalidInput, match="has type 'application/pdf', not CSV"):
        services.dataset_confirm(dataset=dataset)

    stored = wiring.dataset_repository().get(dataset.dataset_id)
    assert stored.status == DatasetStatus.FAILED
    assert "not CSV" in stored.error_message
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_it_bounds_a_put_upload_at_confirm(aws):
    s3, dataset = aws
    s3.put_object(Bucket=BUCKET, Key=dataset.storage_key, Body=CSV * 50, ContentType="text/csv")

    with pytest.raises(PayloadTooLarge):
        services.dataset_confirm(dataset=dataset)

    assert wiring.dataset_repository().get(dataset.dataset_id).status == DatasetStatus.FAILED
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_it_says_no_file_was_uploaded(aws):
    _s3, dataset = aws

    with pytest.raises(NotFound, match=f"No files found for dataset {dataset.dataset_id}"):
        services.dataset_confirm(dataset=dataset)
