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
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from automl_lite import wiring
from tests.conftest import REQUIRE_SERVICES
from tests.jobs.models import PENGUINS_CSV
from training_image.contract import DatasetStatus

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REGION = "us-east-1"
BUCKET = "automl-browser-datasets"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_s3(tmp_path, monkeypatch):
    """A moto server process of its own (its state is not shared with other tests)."""
    if not Path(CHROMIUM).exists():
        if REQUIRE_SERVICES:
            pytest.fail("Debian's chromium is not installed (AUTOML_REQUIRE_SERVICES=1)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    port = _free_port()
    log = open(tmp_path / "moto.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(  # noqa: S603 - moto's own server module
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.25)
    else:
        proc.terminate()
        pytest.fail((tmp_path / "moto.log").read_text()[-3000:])
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture
def aws_site(settings, moto_s3, live_server):
    """The live server switched to AWS mode against the moto server."""
    s3_options = {
        "bucket_name": BUCKET,
        "region_name": REGION,
        "endpoint_url": moto_s3,
        "file_overwrite": True,
        "default_acl": None,
        "signature_version": "s3v4",
    }
    settings.IS_AWS = True
    settings.AWS_REGION = REGION
    settings.AWS_ENDPOINT_URL = moto_s3
    settings.AUTOML_DATASETS_BUCKET = BUCKET
    settings.AUTOML_DATASETS_TABLE = "automl-browser-datasets"
    settings.AUTOML_JOBS_TABLE = "automl-browser-jobs"
    settings.STORAGES = {
        **{
            alias: {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_options}
            for alias in ("default", "datasets", "models", "reports")
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_s3)
    s3.create_bucket(Bucket=BUCKET)
    wiring.reset()
    from django.core.management import call_command

    call_command("create_tables", verbosity=0)
    yield s3, live_server.url
    wiring.reset()


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
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
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
