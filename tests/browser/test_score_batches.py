"""Scoring a CSV file from the results page, in Debian's Chromium: upload, progress, download.

Local mode: the form posts the file to the page, which stores it and queues the batch;
the history row shows it scored and downloads the result. AWS mode (moto server
process): batch-upload.js creates the batch through the API, posts the file straight
to S3, confirms, and the row downloads the result by presigned GET from the bucket.
Celery is eager in the live server's thread, so the worker's run ends with the confirm.
"""

from __future__ import annotations

import csv
import io

import pytest

from automl_lite import wiring
from jobs.inference import model_cache
from tests.aws.aws_mode import aws_mode
from tests.aws.conftest import _moto_server_url, moto_server, use_fake_aws_credentials
from tests.browser.live import launch_chromium, require_chromium
from tests.jobs.factories import store_dataset, store_job
from tests.jobs.models import GENTOO, PENGUINS_CSV, store_penguin_model
from training_image.contract import BatchStatus, JobStatus

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _job(alice):
    model_cache.clear()
    dataset = store_dataset(alice, content=PENGUINS_CSV.read_bytes(), filename="penguins.csv")
    stored = store_job(alice, dataset, status=JobStatus.COMPLETED)
    return wiring.job_repository().update(
        stored.job_id, artifacts=store_penguin_model(stored.job_id)
    )


def _rows_file(tmp_path, count: int):
    path = tmp_path / "new birds.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *GENTOO])
        for i in range(count):
            writer.writerow([f"b{i}", *GENTOO.values()])
    return path


def _signed_in_page(browser, base: str, session: str):
    context = browser.new_context(accept_downloads=True)
    context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
    return context.new_page()


def _score_and_download(page, base: str, job, path, tmp_path):
    page.goto(f"{base}/jobs/{job.job_id}/")
    assert page.is_visible("#batch-history-empty")
    page.set_input_files("#predict-file", str(path))
    page.click("#predict-file-button")
    page.wait_for_selector("#batch-history .batch-row[data-status=completed]", timeout=120_000)
    row = page.inner_text("#batch-history .batch-row")
    page.locator("#predict-file-card").screenshot(path=str(tmp_path / "batches.png"))
    with page.expect_download() as download:
        page.click("#batch-history .batch-row a:has-text('Download')")
    saved = tmp_path / "result.csv"
    download.value.save_as(saved)
    return row, download.value.suggested_filename, saved.read_text(encoding="utf-8-sig")


def test_score_a_file_from_the_results_page_and_download_it(live_server, client, alice, tmp_path):
    from playwright.sync_api import sync_playwright

    require_chromium()
    job = _job(alice)
    client.force_login(alice)  # before Playwright's event loop: the ORM is sync-only
    session = client.cookies["sessionid"].value
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = _signed_in_page(browser, live_server.url, session)
        row, name, text = _score_and_download(
            page, live_server.url, job, _rows_file(tmp_path, 25), tmp_path
        )
        browser.close()

    assert "new_birds.csv" in row and "25 rows" in row and "completed" in row
    assert name == f"new_birds-{job.job_id[:8]}-predictions.csv"
    result = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in result] == [f"b{i}" for i in range(25)]
    assert {r["prediction"] for r in result} == {"Gentoo"}


def test_score_a_file_straight_through_s3(
    settings, monkeypatch, moto_server, live_server, client, alice, tmp_path
):
    from playwright.sync_api import sync_playwright

    require_chromium()
    use_fake_aws_credentials(monkeypatch)
    moto_s3 = moto_server
    with aws_mode(settings, endpoint_url=moto_server) as mode:
        s3 = mode.s3
        job = _job(alice)
        client.force_login(alice)
        session = client.cookies["sessionid"].value
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = _signed_in_page(browser, live_server.url, session)
            s3_posts: list[str] = []
            page.on(
                "request",
                lambda r: (
                    s3_posts.append(r.url)
                    if r.method == "POST" and r.url.startswith(moto_s3)
                    else None
                ),
            )
            form = page.goto(f"{live_server.url}/jobs/{job.job_id}/")
            assert form is not None
            method = page.get_attribute("#predict-file-form", "data-upload-method")
            row, name, text = _score_and_download(
                page, live_server.url, job, _rows_file(tmp_path, 40), tmp_path
            )
            browser.close()
        (batch,) = wiring.batch_repository().all_for_job(job.job_id)
        listed = s3.list_objects_v2(Bucket=mode.bucket("reports"), Prefix="batches/")

    assert method == "presigned-post"
    assert s3_posts == [f"{moto_s3}/{mode.bucket('datasets')}"]
    assert batch.status == BatchStatus.COMPLETED and batch.rows_total == 40
    assert "40 rows" in row
    assert name == f"new_birds-{job.job_id[:8]}-predictions.csv"
    assert len(list(csv.DictReader(io.StringIO(text)))) == 40
    assert [o["Key"] for o in listed["Contents"]] == [batch.output_key]


__all__ = ["_moto_server_url", "moto_server"]  # the moto server fixtures, shared with tests/aws
