"""Presigned URLs outside us-east-1 name the bucket's regional host.

A new bucket answers the global host (`<bucket>.s3.amazonaws.com`) with a 307 redirect for
up to a day, and a browser's CORS preflight cannot follow a redirect: the upload page would
fail on a first deployment in eu-west-1. moto answers either host, so the test checks the
host itself, on a stack created from the template in eu-west-1 and Django configured from
its web function's environment.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import RequestFactory

from automl_lite import wiring
from tests.aws.django_env import django_configured_from
from tests.aws.stack import deploy_stack

pytestmark = pytest.mark.django_db

EU = "eu-west-1"


@pytest.fixture
def eu_stack(monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", EU)
    with mock_aws(config={"batch": {"use_docker": False}}):
        yield deploy_stack(region=EU)


@pytest.fixture
def eu_web(settings, eu_stack):
    environment = {**eu_stack.web_environment, **_credentials()}
    with django_configured_from(settings, environment):
        yield eu_stack


def _credentials() -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def test_it_signs_browser_and_api_uploads_on_the_regional_host(eu_web, alice):
    from datasets import services

    bucket = eu_web.outputs["DatasetsBucketName"]
    dataset = services.dataset_create_upload(owner_id=str(alice.pk), filename="iris.csv")
    request = RequestFactory().get("/")

    post = services.upload_target(dataset=dataset, request=request, form=True)
    put = services.upload_target(dataset=dataset, request=request)

    assert post.method == "POST" and put.method == "PUT"
    assert _host(post.url) == f"{bucket}.s3.{EU}.amazonaws.com"
    assert _host(post.url).endswith(".s3.eu-west-1.amazonaws.com")  # not s3.amazonaws.com
    assert _host(put.url) == f"{bucket}.s3.{EU}.amazonaws.com"
    assert "X-Amz-Credential=" in put.url and f"%2F{EU}%2Fs3%2F" in put.url


def test_it_signs_downloads_on_the_regional_host(eu_web):
    for alias, output in (("models", "ModelsBucketName"), ("reports", "ReportsBucketName")):
        url = wiring.storage(alias).url("jobs/abc/model.pkl")

        assert _host(url) == f"{eu_web.outputs[output]}.s3.{EU}.amazonaws.com", alias
        assert "X-Amz-Signature=" in url


def test_it_would_have_used_the_global_host_without_the_regional_setting(eu_web, settings):
    # The rule the test above guards: botocore's default for a presigned URL is the global
    # host, which is what a first deployment outside us-east-1 got.
    import boto3

    client = boto3.client("s3", region_name=EU)
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": eu_web.outputs["ModelsBucketName"], "Key": "k"}
    )

    assert _host(url) == f"{eu_web.outputs['ModelsBucketName']}.s3.amazonaws.com"
    assert settings.AWS_S3_ADDRESSING_STYLE == "virtual"
