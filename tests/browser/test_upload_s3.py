"""The upload page in AWS mode, in Debian's Chromium: the file goes straight to S3.

A live Django server in AWS mode on the shipped stack (records in its DynamoDB tables,
datasets in its bucket, all served by a moto server on 127.0.0.1). The page asks for a presigned POST, posts the file to
the bucket with a progress bar, confirms, and lands on the configure page.

The bucket gets the CORS rule the deployment gives it (the site's origin may POST).
moto applies bucket CORS rules to object GETs and PUTs but not to a form POST, so the
cross-origin answer the browser reads here comes from moto server's own allow-all CORS.
"""

from __future__ import annotations

import pytest

from automl_lite import wiring
from tests.aws.aws_mode import aws_mode
from tests.aws.conftest import _moto_server_url, moto_server, use_fake_aws_credentials
from tests.browser.live import launch_chromium, require_chromium
from tests.jobs.models import PENGUINS_CSV
from training_image.contract import DatasetStatus

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def aws_site(settings, monkeypatch, moto_server, live_server):
    """The live server switched to AWS mode against the stack on the moto server."""
    require_chromium()
    use_fake_aws_credentials(monkeypatch)
    with aws_mode(settings, endpoint_url=moto_server) as mode:
        yield mode, live_server.url


def _allow_page_origin(mode, origin: str) -> None:
    """The datasets bucket's CORS rule, as deploy/ sets it for the site's origin (moto's
    CloudFormation ignores the template's CorsConfiguration)."""
    mode.s3.put_bucket_cors(
        Bucket=mode.bucket("datasets"),
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["POST", "PUT"],
                    "AllowedOrigins": [origin],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )


def _signed_in_page(browser, base: str, session: str):
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
    return context.new_page()


def test_it_posts_the_file_straight_to_s3_and_opens_the_dataset(aws_site, client, alice):
    from playwright.sync_api import sync_playwright

    mode, base = aws_site
    s3, bucket = mode.s3, mode.bucket("datasets")
    client.force_login(alice)  # before Playwright's event loop: the ORM is sync-only
    session = client.cookies["sessionid"].value
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = _signed_in_page(browser, base, session)
        s3_posts = []
        page.on(
            "request",
            lambda r: s3_posts.append(r.url) if r.method == "POST" and bucket in r.url else None,
        )

        _allow_page_origin(mode, base)
        page.goto(f"{base}/datasets/upload/")
        assert page.get_attribute("#upload-form", "data-upload-method") == "presigned-post"
        page.set_input_files("input[type=file]", str(PENGUINS_CSV))
        page.click("#upload-button")
        page.wait_for_url(lambda url: "/datasets/" in url and "/upload/" not in url)
        page.wait_for_selector("#start-training", timeout=120_000)
        dataset_id = page.url.rstrip("/").rsplit("/", 1)[-1]
        body = page.inner_text("main")
        browser.close()

    assert len(s3_posts) == 1 and all(u.startswith(s3.meta.endpoint_url) for u in s3_posts)
    assert "species" in body
    dataset = wiring.dataset_repository().get(dataset_id)
    assert dataset.status == DatasetStatus.READY
    assert (dataset.row_count, dataset.owner_id) == (344, str(alice.pk))
    stored = s3.get_object(Bucket=bucket, Key=dataset.storage_key)
    assert stored["ContentType"] == "text/csv"
    assert stored["Body"].read() == PENGUINS_CSV.read_bytes()


__all__ = ["_moto_server_url", "moto_server"]  # the moto server fixtures, shared with tests/aws
