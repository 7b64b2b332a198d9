"""Confirming an upload in AWS mode: the HEAD re-check bounds size and type whatever the path
(presigned POST, or the earlier edition's presigned PUT that cannot carry a size policy)."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import RequestFactory

from automl_lite import wiring
from core.exceptions import InvalidInput, NotFound, PayloadTooLarge
from datasets import services
from tests.aws.aws_mode import aws_mode
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db
CSV = b"species,island,bill_length_mm\nAdelie,Torgersen,39.1\nGentoo,Biscoe,46.1\n"


@pytest.fixture
def aws(settings, moto_batch, alice):
    with aws_mode(settings, parameters={"MaxUploadBytes": "1024"}) as mode:
        dataset = services.dataset_create_upload(owner_id=str(alice.pk), filename="penguins.csv")
        yield mode, dataset


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
    mode, dataset = aws
    s3, bucket = mode.s3, mode.bucket("datasets")
    s3.put_object(
        Bucket=bucket, Key=dataset.storage_key, Body=b"%PDF-1.7", ContentType="application/pdf"
    )

    with pytest.raises(InvalidInput, match="has type 'application/pdf', not CSV"):
        services.dataset_confirm(dataset=dataset)

    stored = wiring.dataset_repository().get(dataset.dataset_id)
    assert stored.status == DatasetStatus.FAILED
    assert "not CSV" in stored.error_message
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_it_bounds_a_put_upload_at_confirm(aws):
    mode, dataset = aws
    s3, bucket = mode.s3, mode.bucket("datasets")
    s3.put_object(Bucket=bucket, Key=dataset.storage_key, Body=CSV * 50, ContentType="text/csv")

    with pytest.raises(PayloadTooLarge):
        services.dataset_confirm(dataset=dataset)

    assert wiring.dataset_repository().get(dataset.dataset_id).status == DatasetStatus.FAILED
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_it_says_no_file_was_uploaded(aws):
    _s3, dataset = aws

    with pytest.raises(NotFound, match=f"No files found for dataset {dataset.dataset_id}"):
        services.dataset_confirm(dataset=dataset)
