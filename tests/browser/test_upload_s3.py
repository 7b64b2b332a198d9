"""The upload page in AWS mode, in Debian's Chromium: the file goes straight to S3.

A live Django server in AWS mode (records in DynamoDB, datasets in S3, both served by a
moto server process on 127.0.0.1). The page asks for a presigned POST, posts the file to
the bucket with a progress bar, confirms, and lands on the configure page.

The bucket gets the CORS rule the deployment gives it (the site's origin may POST).
moto applies bucket CORS rules to object GETs and PUTs but not to a form POST, so the
cross-origin answer the browser reads here comes from moto server's own allow-all CORS.
"""

from __future__ import annotations

import os
import sys

import pytest

from automl_lite import wiring
from tests.aws.aws_mode import aws_mode
from tests.aws.conftest import use_fake_aws_credentials
from tests.browser.live import free_port, launch_chromium, require_chromium, serving
from tests.jobs.models import PENGUINS_CSV
from training_image.contract import DatasetStatus

PREFIX = "automl-browser"
BUCKET = f"{PREFIX}-datasets"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def moto_s3(tmp_path, monkeypatch):
    """A moto server process of its own (its state is not shared with other tests)."""
    require_chromium()
    use_fake_aws_credentials(monkeypatch)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(  # moto's own server module
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        ready_url=f"{url}/moto-api/",
        log=tmp_path / "moto.log",
        interval=0.25,
        env=dict(os.environ),
    ):
        yield url


@pytest.fixture
def aws_site(settings, moto_s3, live_server):
    """The live server switched to AWS mode against the moto server."""
    with aws_mode(settings, prefix=PREFIX, endpoint_url=moto_s3) as s3:
        yield s3, live_server.url


def _allow_page_origin(s3, origin: str) -> None:
    """The datasets bucket's CORS rule, as deploy/ sets it for the site's origin."""
    s3.put_bucket_cors(
        Bucket=BUCKET,
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

    s3, base = aws_site
    client.force_login(alice)  # before Playwright's event loop: the ORM is sync-only
    session = client.cookies["sessionid"].value
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = _signed_in_page(browser, base, session)
        s3_posts = []
        page.on(
            "request",
            lambda r: s3_posts.append(r.url) if r.method == "POST" and BUCKET in r.url else None,
        )

        _allow_page_origin(s3, base)
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
    stored = s3.get_object(Bucket=BUCKET, Key=dataset.storage_key)
    assert stored["ContentType"] == "text/csv"
    assert stored["Body"].read() == PENGUINS_CSV.read_bytes()
